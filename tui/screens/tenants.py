"""The main screen: every tenant with status, usage and its three records."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widgets import Footer, Header, Input, Static

from tui.widgets.tenant_table import COLUMNS, TenantTable, header_text


class TenantsScreen(Screen[None]):
    """The tenant list with service markers, a filter and sorting."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("o", "app.onboard", "Onboard"),
        Binding("s", "app.suspend", "Suspend"),
        Binding("r", "app.resume", "Resume"),
        Binding("x", "app.remove", "Remove"),
        Binding("h", "app.history", "History"),
        Binding("slash", "filter", "Filter"),
        Binding("f5", "app.refresh_tenants", "Refresh"),
        *(
            Binding(
                str(number),
                f"sort('{column.key}')",
                f"Sort by {column.title}",
                show=False,
            )
            for number, column in enumerate(COLUMNS, start=1)
        ),
    ]
    DEFAULT_CSS = """
    TenantsScreen #services { padding: 0 1; background: $boost; }
    TenantsScreen #table-header { padding: 0 0; text-style: bold; background: $panel; }
    TenantsScreen #filter { display: none; }
    TenantsScreen #filter.visible { display: block; }
    TenantsScreen #list-summary { padding: 0 1; color: $text-muted; }
    """

    def compose(self) -> ComposeResult:
        yield Header()
        yield Static(
            "Database: connecting…  Keycloak: unknown  DNS: unknown", id="services"
        )
        yield Input(placeholder="filter: words that must all appear", id="filter")
        yield Static(header_text(), id="table-header")
        yield TenantTable(id="tenants")
        yield Static("loading tenants…", id="list-summary")
        yield Footer()

    def on_mount(self) -> None:
        self.query_one(TenantTable).focus()

    @property
    def table(self) -> TenantTable:
        return self.query_one(TenantTable)

    def action_filter(self) -> None:
        field = self.query_one("#filter", Input)
        field.add_class("visible")
        field.focus()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter":
            self.table.set_filter(event.value)
            self.show_summary()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "filter":
            if not event.value:
                event.input.remove_class("visible")
            self.table.focus()

    def action_sort(self, column: str) -> None:
        self.table.set_sort(column)
        self.show_summary()

    def show_summary(self, note: str = "") -> None:
        table = self.table
        total = len(table._rows)
        problems = sum(1 for row in table._rows.values() if not row.consistent)
        direction = "descending" if table.sort_reverse else "ascending"
        text = (
            f"{table.row_count} of {total} tenants shown, sorted by "
            f"{table.sort_column} {direction}"
        )
        if table.filter_text:
            text += f", filter '{table.filter_text}'"
        if problems:
            text += f"; {problems} with missing records (red)"
        if note:
            text += f"; {note}"
        self.query_one("#list-summary", Static).update(text)
