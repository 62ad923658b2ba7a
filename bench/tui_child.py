"""One TUI measurement in its own process; prints a JSON line when done.

Modes (the parent records the wall clock just before it starts this process):

- ``bare-table N``: a bare Textual app with a stock DataTable of N rows and
  the tenant list's 8 columns. It prints the time of the first paint with rows.
- ``app-table N``: the qa-tui app reading N tenant rows from an in-memory
  database; prints the time the tenant list is painted with them.
- ``bare-key`` / ``app-key``: after start-up, press ``b`` to start the no-op
  playbook through ansible-runner; prints the seconds from the key press to
  the run shown as started and to its first event on screen.
- ``app-busy``: run the 100-task playbook in qa-tui while a timer keeps the
  screen busy; prints the run's wall time and the events shown and emitted.
- ``app-idle``: the same run in qa-tui without the timer.
- ``queue-only``: the same 100-task run through ansible-runner with a handler
  that only puts each event on a queue; prints its wall time.
- ``bare-busy``: the queue-only run inside a bare Textual app under the same
  timer as ``app-busy``, which shows what the timer alone costs the run.
- ``app-change N``: qa-tui with N tenant rows; changes one visible tenant at
  a time and prints the seconds from the database read that returned the
  change to the screen painted with it.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import os
import queue
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, ClassVar

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "collections"))
sys.path.insert(0, str(PROJECT_ROOT))

from textual.app import App, ComposeResult  # noqa: E402
from textual.binding import Binding, BindingType  # noqa: E402
from textual.widgets import DataTable, Static  # noqa: E402

NOOP_PLAYBOOK = PROJECT_ROOT / "bench" / "anchors" / "noop.yml"
TASKS_PLAYBOOK = PROJECT_ROOT / "bench" / "playbooks" / "tasks100.yml"
INVENTORY = PROJECT_ROOT / "inventories" / "local"
COLUMNS = ("Tenant", "Name", "Status", "Tier", "Realm", "Subdomain", "Users", "Calls")
SIZE = (150, 45)
# Seconds after start-up before the key press, so that both apps have
# finished their background imports.
SETTLE_S = 1.5
RUN_TIMEOUT_S = 300.0
# Tenant changes timed in one ``app-change`` process.
CHANGES = 20


def scratch_dir(prefix: str) -> str:
    """Return a new temporary folder that is removed when this process exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


def cells(index: int) -> tuple[str, ...]:
    tenant = f"tenant-{index:05d}"
    return (
        tenant,
        f"Tenant {index} Ltd",
        "active",
        "professional",
        tenant,
        tenant,
        f"{index % 100}/100",
        f"{index * 7 % 10000}/10000",
    )


class BareTable(App[None]):
    def __init__(self, rows: int) -> None:
        super().__init__()
        self.rows = rows
        self.painted = 0.0

    def compose(self) -> ComposeResult:
        yield DataTable()

    def on_mount(self) -> None:
        table: DataTable[str] = self.query_one(DataTable)
        table.add_columns(*COLUMNS)
        table.add_rows(cells(index) for index in range(self.rows))
        self.call_after_refresh(self.done)

    def done(self) -> None:
        self.painted = time.time()
        self.exit()


class MemoryDatabase:
    """An in-memory stand-in for PlatformDatabase that returns N tenant rows."""

    service = "database"

    def __init__(self, rows: int) -> None:
        self.rows = rows
        # Extra users per row index, for the changed-tenant measurement.
        self.added_users: dict[int, int] = {}
        self.read_at = 0.0

    def tenants(self) -> list[Any]:
        from tui.core.tenants import TenantRow

        rows = [
            TenantRow(
                tenant_id=f"tenant-{index:05d}",
                display_name=f"Tenant {index} Ltd",
                status="active",
                tier="professional",
                realm_name=f"tenant-{index:05d}",
                subdomain=f"tenant-{index:05d}",
                user_count=index % 100 + self.added_users.get(index, 0),
                max_users=1000,
                calls_this_month=index * 7 % 10000,
                max_calls_per_month=10000,
            )
            for index in range(self.rows)
        ]
        self.read_at = time.perf_counter()
        return rows


def qa_app_class() -> Any:
    from tui.app import QaTuiApp
    from tui.core.runs import RunRequest

    class MeasuredApp(QaTuiApp):
        """qa-tui with timestamps at the moments the benchmark reads."""

        BINDINGS: ClassVar[list[BindingType]] = [
            *QaTuiApp.BINDINGS,
            Binding("b", "bench_run", "Start the benchmark run"),
        ]

        def __init__(self, rows: int, playbook: Path, exit_on_list: bool) -> None:
            data = Path(scratch_dir("qa-bench-tui-"))
            from tui.core.paths import TuiPaths

            self.memory = MemoryDatabase(rows)
            super().__init__(
                INVENTORY,
                paths=TuiPaths(data),
                database=self.memory,  # type: ignore[arg-type]
                providers=[],
                refresh_interval=3600,
            )
            self.playbook = playbook
            self.exit_on_list = exit_on_list
            self.marks: dict[str, float] = {}
            # database read time -> time the screen was painted with it
            self.painted: dict[float, float] = {}
            self.handle: Any = None

        # Textual calls the handler of every class in the MRO, so these
        # handlers add a mark and leave the work to QaTuiApp's own handler.
        def on_tenants_loaded(self, message: Any) -> None:
            del message
            if "list" not in self.marks:
                self.call_after_refresh(self._mark_list)
            self.call_after_refresh(self._mark_loaded, self.memory.read_at)

        def _mark_loaded(self, read_at: float) -> None:
            self.painted[read_at] = time.perf_counter()

        def _mark_list(self) -> None:
            self.marks["list"] = time.time()
            if self.exit_on_list:
                self.exit()

        def action_bench_run(self) -> None:
            self.marks["key"] = time.perf_counter()
            request = RunRequest(self.playbook, INVENTORY, "benchmark run")
            self.handle = self.start_run(request)
            self.call_after_refresh(self._mark, "started")

        def on_run_events_received(self, message: Any) -> None:
            del message
            if "first_event" not in self.marks:
                self.call_after_refresh(self._mark, "first_event")

        def _mark(self, name: str) -> None:
            self.marks.setdefault(name, time.perf_counter())

    return MeasuredApp


class BareRunner(App[None]):
    """A bare app that starts a run on ``b`` and shows its first event."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("b", "run", "Run")]

    def __init__(self) -> None:
        super().__init__()
        self.marks: dict[str, float] = {}
        self.thread: Any = None

    def compose(self) -> ComposeResult:
        yield Static("idle", id="status")
        yield Static("", id="event")

    def action_run(self) -> None:
        import ansible_runner

        self.marks["key"] = time.perf_counter()
        self.query_one("#status", Static).update("started")
        self.call_after_refresh(self._mark, "started")
        private = scratch_dir("qa-bench-bare-")

        def on_event(event: dict[str, Any]) -> bool:
            if "first" not in self.marks:
                self.marks["first"] = 0.0
                self.call_from_thread(self.show, str(event.get("event")))
            return True

        self.thread, _ = ansible_runner.run_async(
            private_data_dir=private,
            playbook=str(NOOP_PLAYBOOK),
            inventory=str(INVENTORY),
            project_dir=str(PROJECT_ROOT),
            envvars=runner_env(),
            event_handler=on_event,
            quiet=True,
        )

    def show(self, text: str) -> None:
        self.query_one("#event", Static).update(text)
        self.call_after_refresh(self._mark, "first_event")

    def _mark(self, name: str) -> None:
        self.marks.setdefault(name, time.perf_counter())


def runner_env() -> dict[str, str]:
    return {
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "ANSIBLE_CONFIG": str(PROJECT_ROOT / "ansible.cfg"),
        "ANSIBLE_NOCOLOR": "true",
    }


async def wait_until(condition: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"condition not met within {timeout} s")
        await asyncio.sleep(0.002)


async def key_to_event(app: Any) -> dict[str, float]:
    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(SETTLE_S)
        await pilot.press("b")
        await wait_until(lambda: "first_event" in app.marks, RUN_TIMEOUT_S)
        marks = dict(app.marks)
        handle = getattr(app, "handle", None)
        thread = getattr(app, "thread", None)
        await wait_until(
            lambda: (
                (handle is None or handle.finished.is_set())
                and (thread is None or not thread.is_alive())
            ),
            RUN_TIMEOUT_S,
        )
    return {
        "started": marks["started"] - marks["key"],
        "first_event": marks["first_event"] - marks["key"],
    }


def busy_tick(app: App[Any], ticks: int) -> None:
    """Spend about 10 ms on the event loop, then repaint; run every 20 ms."""
    end = time.perf_counter() + 0.010
    while time.perf_counter() < end:
        pass
    app.sub_title = f"busy {ticks}"
    app.refresh()


async def busy_run(busy: bool) -> dict[str, Any]:
    app = qa_app_class()(1000, TASKS_PLAYBOOK, exit_on_list=False)
    ticks = 0

    def keep_busy() -> None:
        nonlocal ticks
        ticks += 1
        busy_tick(app, ticks)

    async with app.run_test(size=SIZE) as pilot:
        await asyncio.sleep(SETTLE_S)
        if busy:
            app.set_interval(0.02, keep_busy)
        await pilot.press("b")
        await wait_until(lambda: app.handle is not None, 30)
        handle = app.handle
        await wait_until(handle.finished.is_set, RUN_TIMEOUT_S)
        finished_at = time.time()
        live = app.runs[handle.ident]
        await wait_until(lambda: live.rc is not None or live.status != "running", 30)
        await asyncio.sleep(0.5)
        screen = app._run_screen(handle.ident)
        shown = screen.events_seen if screen is not None else 0
        received = len(live.events)
    emitted = len(list((handle.artifacts / "job_events").glob("*.json")))
    return {
        "seconds": finished_at - handle.started_at,
        "emitted": emitted,
        "received": received,
        "shown": shown,
        "ticks": ticks,
        "status": live.status,
    }


def start_queued_run() -> tuple[Any, Any, queue.Queue[dict[str, Any]]]:
    """Start the 100-task run with a handler that only queues each event."""
    import ansible_runner

    events: queue.Queue[dict[str, Any]] = queue.Queue()

    def on_event(event: dict[str, Any]) -> bool:
        events.put(event)
        return True

    thread, runner = ansible_runner.run_async(
        private_data_dir=scratch_dir("qa-bench-queue-"),
        playbook=str(TASKS_PLAYBOOK),
        inventory=str(INVENTORY),
        project_dir=str(PROJECT_ROOT),
        envvars=runner_env(),
        event_handler=on_event,
        quiet=True,
    )
    return thread, runner, events


def queue_only() -> dict[str, Any]:
    start = time.time()
    thread, runner, events = start_queued_run()
    thread.join(RUN_TIMEOUT_S)
    return {
        "seconds": time.time() - start,
        "received": events.qsize(),
        "status": str(runner.status),
    }


async def bare_busy() -> dict[str, Any]:
    """Run the queue-only handler inside a bare app under the busy timer."""
    app = App[None]()
    ticks = 0

    def keep_busy() -> None:
        nonlocal ticks
        ticks += 1
        busy_tick(app, ticks)

    async with app.run_test(size=SIZE):
        await asyncio.sleep(SETTLE_S)
        app.set_interval(0.02, keep_busy)
        start = time.time()
        thread, runner, events = start_queued_run()
        await wait_until(lambda: not thread.is_alive(), RUN_TIMEOUT_S)
        seconds = time.time() - start
    return {
        "seconds": seconds,
        "received": events.qsize(),
        "ticks": ticks,
        "status": str(runner.status),
    }


async def changed_tenant(rows: int, changes: int) -> dict[str, Any]:
    """Change one visible tenant at a time; time each from read to paint."""
    app = qa_app_class()(rows, NOOP_PLAYBOOK, exit_on_list=False)
    seconds: list[float] = []
    async with app.run_test(size=SIZE):
        await wait_until(lambda: "list" in app.marks, 60)
        table = app._tenants_screen().table
        for change in range(changes):
            index = change % 20
            app.memory.added_users[index] = change + 1
            expected = f"{index % 100 + change + 1}/1,000"
            before = app.memory.read_at
            app.action_refresh_tenants()
            await wait_until(
                lambda before=before: (
                    app.memory.read_at != before and app.memory.read_at in app.painted
                ),
                30,
            )
            read_at = app.memory.read_at
            # The table is sorted by tenant id, so row ``index`` is line ``index``.
            line = "".join(segment.text for segment in table.render_line(index))
            if expected not in line:
                raise RuntimeError(f"row {index} shows {line!r}, not {expected}")
            seconds.append(app.painted[read_at] - read_at)
            await asyncio.sleep(0.05)
    return {"seconds": seconds, "rows": rows}


def main() -> int:
    mode = sys.argv[1]
    result: dict[str, Any]
    if mode == "bare-table":
        bare = BareTable(int(sys.argv[2]))
        bare.run(headless=True, size=SIZE)
        result = {"painted": bare.painted}
    elif mode == "app-table":
        app = qa_app_class()(int(sys.argv[2]), NOOP_PLAYBOOK, exit_on_list=True)
        app.run(headless=True, size=SIZE)
        result = {"painted": app.marks["list"]}
    elif mode == "bare-key":
        result = asyncio.run(key_to_event(BareRunner()))
    elif mode == "app-key":
        app = qa_app_class()(10, NOOP_PLAYBOOK, exit_on_list=False)
        result = asyncio.run(key_to_event(app))
    elif mode in ("app-busy", "app-idle"):
        result = asyncio.run(busy_run(mode == "app-busy"))
    elif mode == "queue-only":
        result = queue_only()
    elif mode == "bare-busy":
        result = asyncio.run(bare_busy())
    elif mode == "app-change":
        result = asyncio.run(changed_tenant(int(sys.argv[2]), CHANGES))
    else:
        raise SystemExit(
            f"invalid mode {mode!r}; use bare-table, app-table, bare-key, app-key,"
            " app-busy, app-idle, queue-only, bare-busy or app-change"
        )
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
