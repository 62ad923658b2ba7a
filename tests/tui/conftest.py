"""Fixtures for the TUI tests: a data folder, a throwaway PostgreSQL cluster
with the platform schema, a moto server, and a pilot harness that fails the
test when a handler or worker raised.

The cluster and moto run on free loopback ports, are started here and are
stopped by PID; no lab service is touched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ansible_collections.qa.platform.plugins.module_utils import platform_db
from textual.app import App
from textual.pilot import Pilot
from textual.worker import WorkerCancelled, WorkerState

from tui.core.database import DatabaseParams, PlatformDatabase
from tui.core.paths import PROJECT_DIR, TuiPaths

PG_BIN = Path("/usr/lib/postgresql/15/bin")
OS_USER = "postgres"
PLAYBOOKS = Path(__file__).resolve().parent / "playbooks"
SAMPLE_PLAYBOOK = PLAYBOOKS / "sample_run.yml"
SAMPLE_TASKS = 5  # tasks of sample_run.yml that produce a result
LOCAL_INVENTORY = PROJECT_DIR / "inventories" / "local"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {timeout} s")


def stop_pid(pid: int, timeout: float = 30.0) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)


@pytest.fixture(autouse=True)
def _ansible_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Run Ansible with the project's configuration and the venv's tools."""
    monkeypatch.setenv("ANSIBLE_CONFIG", str(PROJECT_DIR / "ansible.cfg"))
    monkeypatch.setenv("ANSIBLE_NOCOLOR", "1")
    bin_dir = str(Path(sys.executable).parent)
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture
def tui_paths(tmp_path: Path) -> TuiPaths:
    paths = TuiPaths(tmp_path / "tui-data")
    paths.create()
    return paths


# PostgreSQL -------------------------------------------------------------


@dataclass
class Cluster:
    """A throwaway PostgreSQL 15 cluster that tests may stop and start."""

    port: int
    data_dir: Path
    workdir: Path

    def pid(self) -> int | None:
        pid_file = self.data_dir / "postmaster.pid"
        if not pid_file.exists():
            return None
        return int(pid_file.read_text().splitlines()[0])

    def start(self) -> None:
        options = (
            f"-c port={self.port} -c listen_addresses=127.0.0.1 "
            f"-c unix_socket_directories={self.workdir} -c fsync=off"
        )
        subprocess.run(
            ["runuser", "-u", OS_USER, "--", str(PG_BIN / "pg_ctl"),
             "-D", str(self.data_dir), "-l", str(self.workdir / "postgres.log"),
             "-o", options, "-w", "start"],
            check=True, capture_output=True,
        )  # fmt: skip

    def stop(self) -> None:
        pid = self.pid()
        if pid is not None:
            # SIGINT is PostgreSQL's fast shutdown: it ends open sessions.
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 30
            while self.pid() is not None and time.monotonic() < deadline:
                time.sleep(0.1)

    def connect(
        self, dbname: str = "qa_platform", **kwargs: Any
    ) -> psycopg.Connection[Any]:
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, **kwargs
        )

    def operator_database(self) -> PlatformDatabase:
        return PlatformDatabase(
            DatabaseParams("127.0.0.1", self.port, "qa_platform", "qa_operator")
        )


@pytest.fixture(scope="session")
def cluster() -> Iterator[Cluster]:
    """A cluster with the platform roles and schema built by the project's
    own migration code, as an operator would against a fresh server."""
    if not (PG_BIN / "initdb").exists():
        pytest.fail(f"{PG_BIN}/initdb not found: install postgresql-15 (make up does)")
    workdir = Path(tempfile.mkdtemp(prefix="qa-tui-tests-"))
    shutil.chown(workdir, user=OS_USER, group=OS_USER)
    data_dir = workdir / "data"
    subprocess.run(
        ["runuser", "-u", OS_USER, "--", str(PG_BIN / "initdb"), "-D", str(data_dir),
         "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--username=postgres"],
        check=True, capture_output=True,
    )  # fmt: skip
    instance = Cluster(free_port(), data_dir, workdir)
    instance.start()
    try:
        platform_db.build(
            {"host": "127.0.0.1", "port": instance.port, "user": "postgres",
             "dbname": "postgres"},
            PROJECT_DIR / "sql",
            dict.fromkeys(platform_db.ALL_ROLES),
        )  # fmt: skip
        yield instance
    finally:
        instance.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def add_tenant(
    conn: psycopg.Connection[Any],
    tenant_id: str,
    *,
    status: str = "active",
    users: int = 0,
    calls: int = 0,
    max_users: int = 10,
    max_calls: int = 1000,
    subdomain: str | None = None,
) -> None:
    """Insert a tenant with its organization, users and this month's calls."""
    with conn.cursor() as cur:
        cur.execute(
            "INSERT INTO tenants (tenant_id, realm_name, subdomain, display_name, "
            "status, tier, max_users, max_calls_per_month, features, settings) "
            "VALUES (%s, %s, %s, %s, %s, 'starter', %s, %s, "
            "'[\"sso\"]', '{\"theme\": \"dark\"}')",
            (tenant_id, tenant_id, subdomain, f"{tenant_id.title()} Ltd", status,
             max_users, max_calls),
        )  # fmt: skip
        cur.execute(
            "INSERT INTO organizations (tenant_id, name, industry) "
            "VALUES (%s, %s, 'Testing') RETURNING id",
            (tenant_id, f"{tenant_id.title()} Ltd"),
        )
        row = cur.fetchone()
        assert row is not None
        organization = row[0]
        for number in range(users):
            cur.execute(
                "INSERT INTO user_profiles (tenant_id, keycloak_user_id, "
                "organization_id, email, role) VALUES (%s, %s, %s, %s, 'agent')",
                (tenant_id, f"kc-{number}", organization, f"u{number}@example.test"),
            )
        if calls:
            cur.execute(
                "INSERT INTO agents (tenant_id, agent_code) VALUES (%s, 'a1') "
                "RETURNING id",
                (tenant_id,),
            )
            agent = cur.fetchone()
            assert agent is not None
            cur.execute(
                "INSERT INTO calls (tenant_id, organization_id, agent_id, started_at) "
                "SELECT %s, %s, %s, now() FROM generate_series(1, %s)",
                (tenant_id, organization, agent[0], calls),
            )
    conn.commit()


@pytest.fixture
def platform(cluster: Cluster) -> Iterator[Cluster]:
    """The cluster with no tenants but the migrations' own rows, emptied
    again after the test."""
    with cluster.connect(autocommit=True) as conn:
        conn.execute("DELETE FROM tenants WHERE tenant_id <> 'default'")
    yield cluster
    if cluster.pid() is None:
        cluster.start()
    with cluster.connect(autocommit=True) as conn:
        conn.execute("DELETE FROM tenants WHERE tenant_id <> 'default'")


# moto -------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """A moto server of our own, so tests never change the lab's zones."""
    port = free_port()
    process = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "moto_server"),
            "-H",
            "127.0.0.1",
            "-p",
            str(port),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_for_port(port)
        yield f"http://127.0.0.1:{port}"
    finally:
        stop_pid(process.pid)
        process.wait(timeout=10)


# Pilot harness ----------------------------------------------------------


@contextlib.asynccontextmanager
async def running(
    app: App[Any], size: tuple[int, int] = (150, 45)
) -> AsyncIterator[Pilot[Any]]:
    """Run ``app`` under a pilot and fail when the app or a worker raised.

    A worker started with ``exit_on_error=False`` fails silently, and
    finished workers leave ``app.workers``, so every worker is recorded as
    it is removed and checked at the end, together with the return code.
    """
    failed: list[str] = []
    manager = app.workers
    remove_worker = manager._remove_worker

    def record(worker: Any) -> None:
        if worker.state == WorkerState.ERROR:
            failed.append(f"worker {worker.name} failed: {worker.error!r}")
        remove_worker(worker)

    manager._remove_worker = record  # type: ignore[method-assign]
    async with app.run_test(size=size) as pilot:
        yield pilot
        # The periodic refresh runs in an exclusive worker group, which
        # cancels the older worker when a newer one starts. So a cancelled
        # worker is normal here, and only an error counts as a failure.
        for worker in list(app.workers):
            with contextlib.suppress(WorkerCancelled):
                await worker.wait()
        await pilot.pause()
    for worker in list(app.workers):
        if worker.state == WorkerState.ERROR:
            failed.append(f"worker {worker.name} failed: {worker.error!r}")
    assert not failed, "; ".join(failed)
    assert app.return_code in (None, 0), f"app exited with {app.return_code}"


async def wait_for(
    pilot: Pilot[Any], condition: Any, timeout: float = 30.0, what: str = ""
) -> None:
    """Pause the pilot until ``condition()`` is true."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(
                f"timed out after {timeout} s waiting for {what or condition}"
            )
        await pilot.pause(0.05)
