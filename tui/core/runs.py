"""Start playbooks through ansible-runner and hand their events to a queue.

The runner's event handler copies each event onto a ``queue.Queue`` and
returns, so a slow consumer never slows the run: ansible-runner stalls (and
ends with ``pexpect.exceptions.TIMEOUT``) when its handler blocks. Every run
writes its artifacts below one folder, which is what the history reads.
"""

from __future__ import annotations

import copy
import json
import os
import queue
import shlex
import sys
import threading
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tui.core.events import FINAL_STATUSES
from tui.core.paths import PROJECT_DIR, TuiPaths

META_FILE = "qa_tui_run.json"


@dataclass(frozen=True)
class RunRequest:
    """A playbook run: the playbook, its variables and what it is about.

    ``extravars`` must hold no secret, because ansible-runner records them
    in the artifacts.
    """

    playbook: Path
    inventory: Path
    title: str
    tenant_id: str | None = None
    extravars: Mapping[str, Any] = field(default_factory=dict)
    extravar_files: tuple[Path, ...] = ()
    check: bool = False
    vault_password_file: Path | None = None


@dataclass(frozen=True)
class QueueItem:
    """An item on a run's queue, put there by the runner thread.

    ``kind`` is ``event`` (``payload`` is the runner event), ``status``
    (``payload["status"]``) or ``finished`` (``payload`` has status and rc).
    """

    kind: str
    payload: dict[str, Any]


class RunHandle:
    """A started run: its id, artifacts folder and event queue."""

    def __init__(self, ident: str, request: RunRequest, artifacts: Path) -> None:
        self.ident = ident
        self.request = request
        self.artifacts = artifacts
        self.events: queue.Queue[QueueItem] = queue.Queue()
        self.started_at = time.time()
        self.finished = threading.Event()
        self.status = "starting"
        self.rc: int | None = None
        self._cancel_requested = threading.Event()

    def cancel(self) -> None:
        """Ask ansible-runner to stop the run; it ends with status canceled."""
        self._cancel_requested.set()

    def cancel_requested(self) -> bool:
        """Return whether a cancel was asked for; ansible-runner polls it."""
        return self._cancel_requested.is_set()


def new_ident(request: RunRequest) -> str:
    """Return a sortable run id: UTC time, playbook stem and a random part."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    return f"{stamp}-{request.playbook.stem}-{uuid.uuid4().hex[:8]}"


def venv_path() -> str:
    """Return PATH with this interpreter's bin folder first: ansible-runner
    starts ``ansible-playbook`` by name and ends with rc 127 without it."""
    bin_dir = str(Path(sys.executable).parent)
    current = os.environ.get("PATH", "")
    parts = [bin_dir, *(p for p in current.split(os.pathsep) if p and p != bin_dir)]
    return os.pathsep.join(parts)


def write_meta(path: Path, data: Mapping[str, Any]) -> None:
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True))
    tmp.replace(path)


class PlaybookRunner:
    """Start playbook runs; each run's artifacts go below ``paths``."""

    def __init__(self, paths: TuiPaths, project_dir: Path = PROJECT_DIR) -> None:
        self.paths = paths
        self.project_dir = project_dir

    def start(self, request: RunRequest) -> RunHandle:
        """Start a run in ansible-runner's own thread and return at once."""
        self.paths.create()
        ident = new_ident(request)
        artifacts = self.paths.artifacts_dir / ident
        artifacts.mkdir(mode=0o700, parents=True)
        handle = RunHandle(ident, request, artifacts)
        meta = {
            "ident": ident,
            "title": request.title,
            "playbook": str(request.playbook),
            "inventory": str(request.inventory),
            "tenant_id": request.tenant_id,
            "check": request.check,
            "extravars": dict(request.extravars),
            "started_at": handle.started_at,
            "status": "running",
            "rc": None,
            "pid": os.getpid(),
        }
        write_meta(artifacts / META_FILE, meta)

        cmdline: list[str] = []
        if request.check:
            cmdline.append("--check")
        for extra_file in request.extravar_files:
            cmdline += ["-e", f"@{extra_file}"]
        if request.vault_password_file is not None:
            # A file path only: the password never enters the runner's
            # recorded command, environment or extravars.
            cmdline += ["--vault-password-file", str(request.vault_password_file)]

        def on_event(event: dict[str, Any]) -> bool:
            handle.events.put(QueueItem("event", copy.deepcopy(event)))
            # True keeps the event in job_events/, which history replays.
            return True

        def on_status(status: dict[str, Any], runner_config: Any) -> None:
            del runner_config
            # The "starting" status carries the whole environment; the UI
            # needs only the state.
            handle.events.put(QueueItem("status", {"status": status.get("status")}))

        def on_finished(runner: Any) -> None:
            del runner

        envvars = {
            "PATH": venv_path(),
            "ANSIBLE_CONFIG": str(self.project_dir / "ansible.cfg"),
            "ANSIBLE_FORCE_COLOR": "false",
            "ANSIBLE_NOCOLOR": "true",
        }
        kwargs: dict[str, Any] = {
            "private_data_dir": str(self.paths.runner_dir),
            "artifact_dir": str(self.paths.artifacts_dir),
            "ident": ident,
            "playbook": str(request.playbook),
            "inventory": str(request.inventory),
            "project_dir": str(self.project_dir),
            "extravars": dict(request.extravars),
            "envvars": envvars,
            "event_handler": on_event,
            "status_handler": on_status,
            "finished_callback": on_finished,
            "cancel_callback": handle.cancel_requested,
            "quiet": True,
            "json_mode": False,
            "rotate_artifacts": 0,
            "suppress_env_files": True,
        }
        if cmdline:
            kwargs["cmdline"] = shlex.join(cmdline)

        def run() -> None:
            status, rc = "error", None
            try:
                # Imported here so that starting the TUI does not pay for it;
                # the app warms it up in a thread after the first paint.
                import ansible_runner

                thread, runner = ansible_runner.run_async(**kwargs)
                thread.join()
                status, rc = str(runner.status), runner.rc
            except Exception as error:
                # Any failure to start still ends the run with a status.
                handle.events.put(
                    QueueItem("error", {"message": f"{type(error).__name__}: {error}"})
                )
            finally:
                if status not in FINAL_STATUSES:
                    status = "error"
                handle.status, handle.rc = status, rc
                meta.update(
                    status=status,
                    rc=rc,
                    finished_at=time.time(),
                )
                write_meta(artifacts / META_FILE, meta)
                handle.finished.set()
                handle.events.put(QueueItem("finished", {"status": status, "rc": rc}))

        threading.Thread(target=run, name=f"run-{ident}", daemon=True).start()
        return handle
