"""Tenant details: settings, features, usage, admin user, recent operations."""

from __future__ import annotations

import json
from typing import ClassVar

from rich.markup import escape
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import Screen
from textual.widgets import Static

from tui import format as fmt
from tui.core.history import RunRecord
from tui.core.tenants import TenantDetail, TenantRow
from tui.widgets.footer import ActiveScreenFooter


def _bytes(value: object) -> str:
    if not isinstance(value, int):
        return "?"
    size = float(value)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.1f} {unit}" if unit != "B" else f"{int(size)} B"
        size /= 1024
    return f"{size:.1f} GiB"


def _pct(value: object) -> str:
    return "" if value is None else f" ({value}%)"


class DetailScreen(Screen[None]):
    """One tenant; the figures come from the database's usage rollups."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("s", "app.suspend", "Suspend"),
        Binding("r", "app.resume", "Resume"),
        Binding("x", "app.remove", "Remove"),
        Binding("p", "app.show_password", "Show new password"),
    ]
    DEFAULT_CSS = """
    DetailScreen Static { padding: 0 1; }
    DetailScreen .section { text-style: bold; margin-top: 1; }
    """

    def __init__(self, row: TenantRow) -> None:
        super().__init__()
        self.row = row
        self.detail: TenantDetail | None = None
        self.runs: list[RunRecord] = []

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            yield Static(self._summary(), id="detail-summary")
            yield Static("Usage this month", classes="section")
            yield Static("loading…", id="detail-usage")
            yield Static("Settings and features", classes="section")
            yield Static("loading…", id="detail-settings")
            yield Static("Recent operations", classes="section")
            yield Static("loading…", id="detail-operations")
        yield ActiveScreenFooter()

    def _summary(self) -> str:
        row = self.row
        dns = fmt.present(row.dns_exists) if row.subdomain else "not needed"
        lines = [
            f"[b]{row.tenant_id}[/b]  {escape(row.display_name)}",
            f"Status: {row.status}   Tier: {row.tier or '?'}",
            f"Realm: {row.realm_name or '?'} (exists: {fmt.present(row.realm_exists)})",
            f"Subdomain: {row.subdomain or '(none)'} (DNS record: {dns})",
        ]
        if row.missing:
            lines.append(f"[red]Missing: {', '.join(row.missing)}[/red]")
        admin = self.detail.admin_username if self.detail else None
        lines.append(f"Admin user: {admin or 'unknown (no credentials file)'}")
        return "\n".join(lines)

    def show_detail(self, detail: TenantDetail, runs: list[RunRecord]) -> None:
        """Fill in what the database returned; called on the event loop."""
        self.detail, self.row, self.runs = detail, detail.row, runs
        self.query_one("#detail-summary", Static).update(self._summary())
        usage = detail.usage
        if usage:
            usage_text = "\n".join(
                [
                    "Users: "
                    + fmt.usage(usage.get("user_count"), usage.get("max_users")),
                    "Calls: "
                    + fmt.usage(
                        usage.get("calls_this_month"), usage.get("max_calls_per_month")
                    ),
                    f"Storage: {_bytes(usage.get('storage_bytes'))} of "
                    f"{usage.get('max_storage_gb')} GiB"
                    f"{_pct(usage.get('storage_pct'))}",
                    f"API calls: {usage.get('api_calls_this_month', 0):,}",
                ]
            )
        else:
            usage_text = "no usage figures (the tenant has no database row)"
        self.query_one("#detail-usage", Static).update(usage_text)
        settings = (
            json.dumps(detail.settings, indent=2, sort_keys=True)
            if detail.settings
            else "{}"
        )
        self.query_one("#detail-settings", Static).update(
            f"Company: {escape(detail.company_name or '?')}"
            f"   Industry: {escape(detail.industry or '?')}"
            f"   Size: {detail.company_size or '?'}\n"
            f"Features: {', '.join(detail.features) or '(none)'}\n"
            f"Created: {detail.created_at or '?'}"
            + (f"   Suspended: {detail.suspended_at}" if detail.suspended_at else "")
            + f"\nSettings: {escape(settings)}"
        )
        lines = [
            f"{fmt.clock(run.started_at)}  {run.title}  {run.status}"
            for run in runs[:10]
        ]
        for step in detail.operations[:10]:
            lines.append(
                f"journal: {step.get('operation')} / {step.get('step')}: "
                f"{step.get('state')}"
            )
        self.query_one("#detail-operations", Static).update(
            "\n".join(lines) or "(none)"
        )
