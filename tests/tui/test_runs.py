"""Playbook runs through the real ansible-runner: events, history, secrets."""

from __future__ import annotations

import json
import os
import queue
import threading
import time
from pathlib import Path

import pytest

from tests.tui.conftest import LOCAL_INVENTORY, PLAYBOOKS, SAMPLE_PLAYBOOK, SAMPLE_TASKS
from tui.core import history
from tui.core.events import RunEvent, parse_event
from tui.core.paths import TuiPaths
from tui.core.runs import META_FILE, PlaybookRunner, QueueItem, RunHandle, RunRequest


def sample_request(title: str = "sample") -> RunRequest:
    return RunRequest(playbook=SAMPLE_PLAYBOOK, inventory=LOCAL_INVENTORY, title=title)


def drain(handle: RunHandle, timeout: float = 120.0) -> list[QueueItem]:
    items: list[QueueItem] = []
    deadline = time.monotonic() + timeout
    while True:
        item = handle.events.get(timeout=max(0.1, deadline - time.monotonic()))
        items.append(item)
        if item.kind == "finished":
            return items


def results(items: list[QueueItem]) -> list[RunEvent]:
    events = [parse_event(item.payload) for item in items if item.kind == "event"]
    return [event for event in events if event.kind == "result"]


def test_sample_run_events_and_status(tui_paths: TuiPaths) -> None:
    handle = PlaybookRunner(tui_paths).start(sample_request())
    items = drain(handle)
    outcome = [(event.task, event.result) for event in results(items)]
    assert outcome == [
        ("Ensure the first step reports ok", "ok"),
        ("Ensure a changed result shows as changed", "changed"),
        ("Ensure a skipped task shows as skipped", "skipped"),
        ("Ensure a short pause shows a duration", "ok"),
        ("Ensure the failing step fails with a plain message", "failed"),
    ]
    failed = results(items)[-1]
    assert failed.message == "sample failure: the tenant database is not reachable"
    assert failed.host == "localhost"
    pause = results(items)[3]
    assert pause.duration is not None
    assert pause.duration >= 1.0
    assert items[-1].payload == {"status": "failed", "rc": 2}
    assert handle.status == "failed"


def test_slow_consumer_loses_nothing(tui_paths: TuiPaths) -> None:
    """A consumer far slower than the run gets every event, and the run
    finishes long before the consumer does."""
    handle = PlaybookRunner(tui_paths).start(sample_request())
    delay = 0.5
    received: list[QueueItem] = []
    unread_when_run_finished: list[int] = []

    def slow_consumer() -> None:
        while True:
            item = handle.events.get(timeout=120)
            if handle.finished.is_set() and not unread_when_run_finished:
                unread_when_run_finished.append(handle.events.qsize())
            received.append(item)
            if item.kind == "finished":
                return
            time.sleep(delay)

    consumer = threading.Thread(target=slow_consumer)
    consumer.start()
    consumer.join(timeout=300)
    assert not consumer.is_alive()
    counters = [item.payload["counter"] for item in received if item.kind == "event"]
    on_disk = list((handle.artifacts / "job_events").glob("*.json"))
    assert counters == list(range(1, len(counters) + 1))
    assert len(counters) == len(on_disk)
    assert handle.status == "failed"
    # The run ended while events still waited in the queue, so the slow
    # consumer did not hold it back. How much faster it was is a benchmark
    # figure, not a test condition.
    assert unread_when_run_finished
    assert unread_when_run_finished[0] >= 3


def test_history_survives_restart(tui_paths: TuiPaths) -> None:
    handle = PlaybookRunner(tui_paths).start(sample_request("first"))
    drain(handle)
    # A fresh reader plays the part of a restarted TUI: it has only the folder.
    records = history.list_runs(TuiPaths(tui_paths.data_dir).artifacts_dir)
    assert [record.ident for record in records] == [handle.ident]
    record = records[0]
    assert record.status == "failed"
    assert record.rc == 2
    assert record.title == "first"
    assert record.duration is not None
    replayed = [
        event for event in history.load_events(record.folder) if event.kind == "result"
    ]
    assert len(replayed) == SAMPLE_TASKS
    assert (
        replayed[-1].message == "sample failure: the tenant database is not reachable"
    )


def test_history_marks_cut_short_run(tui_paths: TuiPaths) -> None:
    folder = tui_paths.artifacts_dir / "20000101T000000-tenant_suspend-deadbeef"
    folder.mkdir(parents=True)
    meta = {"title": "suspend acme", "status": "running", "pid": 2**22 + 12345,
            "started_at": 946684800.0, "tenant_id": "acme"}  # fmt: skip
    (folder / META_FILE).write_text(json.dumps(meta))
    record = history.read_run(folder)
    assert record.status == history.INTERRUPTED
    stored = json.loads((folder / META_FILE).read_text())
    assert stored["status"] == history.INTERRUPTED


def test_missing_playbook_ends_with_status(tui_paths: TuiPaths, tmp_path: Path) -> None:
    request = RunRequest(
        playbook=tmp_path / "absent.yml", inventory=LOCAL_INVENTORY, title="absent"
    )
    handle = PlaybookRunner(tui_paths).start(request)
    items = drain(handle)
    assert items[-1].kind == "finished"
    assert items[-1].payload["status"] in ("failed", "error")
    assert history.read_run(handle.artifacts).status in ("failed", "error")


def test_vault_password_stays_out_of_artifacts(
    tui_paths: TuiPaths, tmp_path: Path
) -> None:
    from ansible.parsing.vault import VaultEditor, VaultLib, VaultSecret

    del VaultEditor
    vault_password = "vault-pass-" + os.urandom(12).hex()
    secret_value = "secret-value-" + os.urandom(12).hex()
    password_file = tmp_path / "secrets" / "vault-pass"
    password_file.parent.mkdir()
    password_file.write_text(vault_password + "\n")
    password_file.chmod(0o600)
    vault = VaultLib([("default", VaultSecret(vault_password.encode()))])
    encrypted = vault.encrypt(secret_value).decode()
    inventory = tmp_path / "inventory"
    (inventory / "group_vars" / "all").mkdir(parents=True)
    (inventory / "hosts.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n"
    )
    indented = "\n".join("    " + line for line in encrypted.splitlines())
    (inventory / "group_vars" / "all" / "vault.yml").write_text(
        f"vaulted_secret: !vault |\n{indented}\n"
    )
    request = RunRequest(
        playbook=PLAYBOOKS / "vault_run.yml",
        inventory=inventory,
        title="vault",
        vault_password_file=password_file,
    )
    handle = PlaybookRunner(tui_paths).start(request)
    drain(handle)
    assert handle.status == "successful", (handle.artifacts / "stdout").read_text()
    assert not password_file.is_relative_to(tui_paths.artifacts_dir)
    searched = 0
    for root in (tui_paths.artifacts_dir, tui_paths.runner_dir):
        for path in root.rglob("*"):
            if path.is_file():
                content = path.read_bytes()
                searched += 1
                assert vault_password.encode() not in content, path
                assert secret_value.encode() not in content, path
    assert searched > 5
    command = json.loads((handle.artifacts / "command").read_text())
    assert "--vault-password-file" in command["command"]


@pytest.mark.parametrize("kind", ["event", "status", "finished"])
def test_queue_items_are_plain_data(tui_paths: TuiPaths, kind: str) -> None:
    handle = PlaybookRunner(tui_paths).start(sample_request())
    items = drain(handle)
    matching = [item for item in items if item.kind == kind]
    assert matching
    for item in matching:
        json.dumps(item.payload)
    with pytest.raises(queue.Empty):
        handle.events.get_nowait()
