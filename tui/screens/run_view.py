"""The run view: plays and tasks of one run, live or replayed from history."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import DataTable, Footer, ProgressBar, Static

from tui import format as fmt
from tui.core.events import RunEvent

RESULT_LABELS = {
    "ok": "ok",
    "changed": "changed",
    "failed": "FAILED",
    "ignored": "failed (ignored)",
    "skipped": "skipped",
    "unreachable": "UNREACHABLE",
}
STATUS_LABELS = {
    "starting": "started",
    "running": "running",
    "successful": "successful",
    "failed": "failed",
    "canceled": "canceled",
    "timeout": "timed out",
    "error": "error",
    "interrupted": "interrupted",
}


class RunScreen(Screen[None]):
    """One run's tasks with host, result and duration, and its progress."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "cancel_run", "Cancel run"),
    ]
    DEFAULT_CSS = """
    RunScreen #run-title { padding: 0 1; text-style: bold; }
    RunScreen #run-status { padding: 0 1; }
    RunScreen ProgressBar { padding: 0 1; }
    RunScreen #run-failure { padding: 0 1; color: $error; height: auto; }
    RunScreen DataTable { height: 1fr; }
    """

    def __init__(
        self,
        ident: str,
        title: str,
        task_total: int | None,
        replay: bool = False,
    ) -> None:
        super().__init__()
        self.ident = ident
        self.run_title = title
        self.task_total = task_total
        self.replay = replay
        self.status = "starting"
        self.rc: int | None = None
        self.events_seen = 0
        self.tasks_done: set[str] = set()
        self.failures: list[RunEvent] = []
        self._pending: list[RunEvent] = []
        self._play = ""
        # Set in on_mount; Textual's is_mounted turns true only after it.
        self._ready = False
        self._final_error = ""

    def compose(self) -> ComposeResult:
        with Vertical():
            kind = "replay of" if self.replay else "run"
            yield Static(
                f"{self.run_title}  ({kind} {fmt.run_id(self.ident)})", id="run-title"
            )
            yield Static(self._status_text(), id="run-status")
            yield ProgressBar(total=self.task_total, show_eta=False, id="run-progress")
            table: DataTable[str] = DataTable(id="run-tasks", cursor_type="row")
            table.add_column("Play", key="play", width=22)
            table.add_column("Task", key="task", width=48)
            table.add_column("Host", key="host", width=12)
            table.add_column("Result", key="result", width=16)
            table.add_column("Duration", key="duration", width=9)
            yield table
            yield Static("", id="run-failure")
        yield Footer()

    def on_mount(self) -> None:
        # The children are queryable only after the first refresh.
        self.call_after_refresh(self._show_pending)

    def _show_pending(self) -> None:
        self._ready = True
        pending, self._pending = self._pending, []
        self.add_events(pending)
        if self.status not in ("starting", "running"):
            self.set_finished(self.status, self.rc, self._final_error)
        self._show_status()

    def _status_text(self) -> str:
        label = STATUS_LABELS.get(self.status, self.status)
        text = f"Status: {label}"
        if self.rc is not None:
            text += f" (rc {self.rc})"
        if self.task_total:
            text += f"   tasks {len(self.tasks_done)}/{self.task_total}"
        else:
            text += f"   tasks finished {len(self.tasks_done)}"
        return text

    def _show_status(self) -> None:
        self.query_one("#run-status", Static).update(self._status_text())

    def add_events(self, events: list[RunEvent]) -> None:
        """Show a batch of events; called on the event loop."""
        if not self._ready:
            self._pending.extend(events)
            return
        table: DataTable[str] = self.query_one("#run-tasks", DataTable)
        for event in events:
            self.events_seen += 1
            if self.status == "starting":
                self.status = "running"
            if event.kind == "play":
                self._play = event.play
            elif event.kind == "result":
                self._add_result(table, event)
        progress = self.query_one("#run-progress", ProgressBar)
        progress.update(progress=len(self.tasks_done))
        self._show_status()

    def _add_result(self, table: DataTable[str], event: RunEvent) -> None:
        key = f"{event.task_uuid}:{event.host}"
        cells = (
            event.play or self._play,
            event.task,
            event.host,
            RESULT_LABELS.get(event.result, event.result),
            fmt.duration(event.duration),
        )
        if key in table.rows:
            table.update_cell(key, "result", cells[3])
            table.update_cell(key, "duration", cells[4])
        else:
            table.add_row(*cells, key=key)
            table.move_cursor(row=table.row_count - 1)
        self.tasks_done.add(event.task_uuid)
        if event.result in ("failed", "unreachable"):
            self.failures.append(event)
            self.query_one("#run-failure", Static).update(
                "\n".join(
                    f"Task '{failed.task}' {failed.result} on {failed.host}: "
                    f"{failed.message}"
                    for failed in self.failures
                )
            )

    def set_finished(self, status: str, rc: int | None, error: str = "") -> None:
        """Show the run's final status."""
        self.status, self.rc = status, rc
        self._final_error = error
        if not self._ready:
            return
        self._show_status()
        progress = self.query_one("#run-progress", ProgressBar)
        if status == "successful":
            total = self.task_total or len(self.tasks_done) or 1
            progress.update(total=total, progress=total)
        elif progress.total is None:
            progress.update(total=max(1, len(self.tasks_done)))
        if error:
            self.query_one("#run-failure", Static).update(
                f"The run could not start: {error}"
            )

    def action_cancel_run(self) -> None:
        from tui.app import QaTuiApp

        app = self.app
        if isinstance(app, QaTuiApp):
            app.cancel_run(self.ident)
