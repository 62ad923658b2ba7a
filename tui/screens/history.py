"""The run history, read from ansible-runner's artifacts."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.screen import Screen
from textual.widgets import DataTable, Static

from tui import format as fmt
from tui.core.history import RunRecord
from tui.widgets.footer import ActiveScreenFooter


class HistoryScreen(Screen[None]):
    """Past and running runs, newest first; enter replays one."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("enter", "replay", "Replay"),
        Binding("f5", "reload", "Refresh"),
    ]

    class ReplayRequested(Message):
        def __init__(self, record: RunRecord) -> None:
            super().__init__()
            self.record = record

    def __init__(self, records: list[RunRecord], where: str) -> None:
        super().__init__()
        self.records = records
        self.where = where

    def compose(self) -> ComposeResult:
        yield Static(
            f"Run history ({len(self.records)} runs) in {fmt.folder(self.where)}",
            id="history-title",
        )
        yield DataTable(id="history-table", cursor_type="row")
        yield ActiveScreenFooter()

    def on_mount(self) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        table.add_column("Started", width=19)
        table.add_column("Operation", width=30)
        table.add_column("Tenant", width=16)
        table.add_column("Status", width=12)
        table.add_column("rc", width=4)
        table.add_column("Duration", width=9)
        table.add_column("Run id", width=44)
        self.show(self.records)
        table.focus()

    def show(self, records: list[RunRecord]) -> None:
        self.records = records
        table: DataTable[str] = self.query_one(DataTable)
        table.clear()
        for record in records:
            title = record.title + (
                " (check)" if record.check and "preview" not in record.title else ""
            )
            table.add_row(
                fmt.clock(record.started_at),
                title,
                record.tenant_id or "",
                record.status,
                "" if record.rc is None else str(record.rc),
                fmt.duration(record.duration),
                fmt.run_id(record.ident),
                key=record.ident,
            )

    def action_replay(self) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        if not self.records or table.cursor_row >= len(self.records):
            return
        self.post_message(self.ReplayRequested(self.records[table.cursor_row]))

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        self.action_replay()

    def action_reload(self) -> None:
        from tui.app import QaTuiApp

        if isinstance(self.app, QaTuiApp):
            self.show(self.app.history_records())
