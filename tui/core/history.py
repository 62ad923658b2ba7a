"""The run history: ansible-runner's artifacts folders, newest first.

Each run folder contains runner's ``status``, ``rc``, ``command`` and
``job_events/``, plus the TUI's own ``qa_tui_run.json`` with the title and
tenant. Reading them again after a restart gives the same history.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tui.core.events import FINAL_STATUSES, RunEvent, parse_event
from tui.core.runs import META_FILE, write_meta

INTERRUPTED = "interrupted"


@dataclass(frozen=True)
class RunRecord:
    """One past or running playbook run. Times are Unix seconds."""

    ident: str
    folder: Path
    title: str
    playbook: str
    tenant_id: str | None
    check: bool
    started_at: float
    finished_at: float | None
    status: str
    rc: int | None

    @property
    def duration(self) -> float | None:
        if self.finished_at is None:
            return None
        return max(0.0, self.finished_at - self.started_at)


def _pid_alive(pid: object) -> bool:
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _read_json(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text().strip()
    except OSError:
        return None


def read_run(folder: Path, live: frozenset[str] = frozenset()) -> RunRecord:
    """Read one run folder. ``live`` contains the ids this process is running.

    A run that has no final status, is not live and whose process is gone
    was cut short, because the TUI was killed. Its metadata is rewritten to
    ``interrupted`` so the history shows a final status from then on.
    """
    meta_path = folder / META_FILE
    meta = _read_json(meta_path)
    runner_status = _read_text(folder / "status")
    rc_text = _read_text(folder / "rc")
    status = str(meta.get("status") or runner_status or "")
    if status not in FINAL_STATUSES and runner_status in FINAL_STATUSES:
        status = str(runner_status)
    rc: int | None = meta.get("rc") if isinstance(meta.get("rc"), int) else None
    if rc is None and rc_text and rc_text.lstrip("-").isdigit():
        rc = int(rc_text)
    if status not in FINAL_STATUSES and status != INTERRUPTED:
        running_here = folder.name in live
        if not running_here and not (
            meta.get("pid") != os.getpid() and _pid_alive(meta.get("pid"))
        ):
            status = INTERRUPTED
            if meta:
                meta.update(status=INTERRUPTED)
                with contextlib.suppress(OSError):
                    write_meta(meta_path, meta)
        else:
            status = "running"
    started = meta.get("started_at")
    if not isinstance(started, int | float):
        started = folder.stat().st_mtime
    finished = meta.get("finished_at")
    playbook = str(meta.get("playbook") or "")
    if not playbook:
        command = _read_json(folder / "command").get("command") or []
        playbook = str(command[-1]) if command else ""
    return RunRecord(
        ident=folder.name,
        folder=folder,
        title=str(meta.get("title") or Path(playbook).stem or folder.name),
        playbook=playbook,
        tenant_id=meta.get("tenant_id")
        if isinstance(meta.get("tenant_id"), str)
        else None,
        check=bool(meta.get("check")),
        started_at=float(started),
        finished_at=float(finished) if isinstance(finished, int | float) else None,
        status=status,
        rc=rc,
    )


def list_runs(
    artifacts_dir: Path,
    live: frozenset[str] = frozenset(),
    tenant_id: str | None = None,
    limit: int | None = None,
) -> list[RunRecord]:
    """Return the runs below ``artifacts_dir``, newest first."""
    if not artifacts_dir.is_dir():
        return []
    records = [
        read_run(folder, live)
        for folder in artifacts_dir.iterdir()
        if folder.is_dir() and not folder.name.startswith(".")
    ]
    if tenant_id is not None:
        records = [record for record in records if record.tenant_id == tenant_id]
    records.sort(key=lambda record: (record.started_at, record.ident), reverse=True)
    return records[:limit] if limit is not None else records


def load_events(folder: Path) -> list[RunEvent]:
    """Return a run's recorded events in order, for replay."""
    events_dir = folder / "job_events"
    if not events_dir.is_dir():
        return []
    raw_events = []
    for path in events_dir.glob("*.json"):
        data = _read_json(path)
        if data:
            raw_events.append(data)
    raw_events.sort(key=lambda event: int(event.get("counter") or 0))
    return [parse_event(event) for event in raw_events]
