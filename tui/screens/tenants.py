"""The main screen: every tenant with status, usage and its three records."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Header, Input, Static

from tui.widgets.footer import ActiveScreenFooter
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

    def __init__(self) -> None:
        super().__init__()
        # Kept as attributes, not queried, because tenant refreshes can still
        # arrive while the app shuts down and removes the screen's widgets.
        self.table = TenantTable(id="tenants")
        self.services = Static(
            "Database: connecting…  Keycloak: unknown  DNS: unknown", id="services"
        )
        self.summary = Static("loading tenants…", id="list-summary")
        self._focused_before_cover: Widget | None = None
        self._covered: list[Widget] = []

    def compose(self) -> ComposeResult:
        yield Header()
        yield self.services
        yield Input(placeholder="filter: words that must all appear", id="filter")
        yield Static(header_text(), id="table-header")
        yield self.table
        yield self.summary
        yield ActiveScreenFooter()

    def on_mount(self) -> None:
        self.table.focus()

    def on_screen_suspend(self) -> None:
        # Textual keeps laying out and painting the screen right below the
        # top one, in case the top one lets it show through. Behind an opaque
        # screen, such as the run view, nothing of this screen shows. Its
        # widgets are hidden there, so that header and tenant list updates
        # cost no layout. An inline style on each child is cheaper to set
        # than a class on the screen, which makes Textual match every rule.
        top = self.app.screen
        if top is not self and top.styles.background.a == 1:
            self._focused_before_cover = self.focused
            self._covered = [child for child in self.children if child.display]
            for child in self._covered:
                child.display = False

    def on_screen_resume(self) -> None:
        covered, self._covered = self._covered, []
        for child in covered:
            # The stylesheet decides again, so a closed filter field stays hidden.
            child.styles.clear_rule("display")
        # Hidden widgets lose the focus, so it goes back to the one that had it.
        if covered and self._focused_before_cover is not None:
            self.set_focus(self._focused_before_cover)

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
        self.summary.update(text)
