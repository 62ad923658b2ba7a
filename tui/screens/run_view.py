"""The run view: plays and tasks of one run, live or replayed from history."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Vertical
from textual.screen import Screen
from textual.widgets import ProgressBar, Static

from tui import format as fmt
from tui.core.events import RunEvent
from tui.widgets.footer import ActiveScreenFooter
from tui.widgets.task_table import PROBLEM_RESULTS, TaskTable, header_text

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
    """One run's tasks with host, result and duration, and its progress.

    The screen composes only its title and status line, so that the first
    paint shows "started" at once. The progress bar, task table and footer are
    mounted after that paint. Events that arrive earlier wait in a list.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("c", "cancel_run", "Cancel run"),
    ]
    DEFAULT_CSS = """
    RunScreen #run-title { padding: 0 1; text-style: bold; }
    RunScreen #run-status { padding: 0 1; height: 1; }
    RunScreen ProgressBar { padding: 0 1; }
    RunScreen #run-failure { padding: 0 1; color: $error; height: auto; }
    RunScreen #run-header { text-style: bold; background: $panel; }
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
        self._final_error = ""
        self._status_line = Static(self._status_text(), id="run-status")
        # Set once the table and progress bar are mounted, after the first paint.
        self._table: TaskTable | None = None
        self._progress = ProgressBar(
            total=task_total, show_eta=False, id="run-progress"
        )
        self._failure = Static("", id="run-failure")
        self._body = Vertical(id="run-body")

    def compose(self) -> ComposeResult:
        kind = "replay of" if self.replay else "run"
        with self._body:
            yield Static(
                f"{self.run_title}  ({kind} {fmt.run_id(self.ident)})", id="run-title"
            )
            yield self._status_line

    def on_mount(self) -> None:
        # Mounted after the first paint, and after any other callback that
        # waits for that paint, so that nothing delays "started".
        self.call_after_refresh(self.call_later, self._mount_details)

    async def _mount_details(self) -> None:
        table = TaskTable(id="run-tasks")
        await self._body.mount_all(
            [
                self._progress,
                Static(header_text(), id="run-header"),
                table,
                self._failure,
            ]
        )
        await self.mount(ActiveScreenFooter())
        # The focus lets the arrow keys scroll the table. A footer fills itself
        # when the screen's bindings change, and a focus change changes them.
        table.focus()
        self._table = table
        self._show_events()
        if self.status not in ("starting", "running"):
            self.set_finished(self.status, self.rc, self._final_error)

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
        # The line has a fixed height, so an update needs no new layout.
        self._status_line.update(self._status_text(), layout=False)

    def add_events(self, events: list[RunEvent]) -> None:
        """Show a batch of events; called on the event loop."""
        self._pending.extend(events)
        if self._table is not None:
            self._show_events()

    def _show_events(self) -> None:
        table = self._table
        assert table is not None
        events, self._pending = self._pending, []
        following = table.following
        row_count = table.row_count
        for event in events:
            self.events_seen += 1
            if self.status == "starting":
                self.status = "running"
            if event.kind == "play":
                self._play = event.play
            elif event.kind == "result":
                self._add_result(table, event)
        if table.row_count > row_count:
            table.show_new_rows(following)
        self._progress.update(progress=len(self.tasks_done))
        self._show_status()

    def _add_result(self, table: TaskTable, event: RunEvent) -> None:
        cells = (
            event.play or self._play,
            event.task,
            event.host,
            RESULT_LABELS.get(event.result, event.result),
            fmt.duration(event.duration),
        )
        table.set_row(
            f"{event.task_uuid}:{event.host}",
            cells,
            problem=event.result in PROBLEM_RESULTS,
        )
        self.tasks_done.add(event.task_uuid)
        if event.result in PROBLEM_RESULTS:
            self.failures.append(event)
            self._failure.update(
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
        if self._table is None:
            return
        self._show_status()
        progress = self._progress
        if status == "successful":
            total = self.task_total or len(self.tasks_done) or 1
            progress.update(total=total, progress=total)
        elif progress.total is None:
            progress.update(total=max(1, len(self.tasks_done)))
        if error:
            self._failure.update(f"The run could not start: {error}")

    def action_cancel_run(self) -> None:
        from tui.app import QaTuiApp

        app = self.app
        if isinstance(app, QaTuiApp):
            app.cancel_run(self.ident)
