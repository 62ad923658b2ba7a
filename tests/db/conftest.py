"""Fixtures: a throwaway PostgreSQL 15 cluster and a PgBouncer in front of it.

Both run as the ``postgres`` OS user (PostgreSQL refuses root) with their data,
sockets and logs in one temporary folder, listen on free loopback ports, and
are stopped by PID at the end of the session. No other cluster is touched.
The master role of the tests, ``rds_master``, has CREATEROLE and CREATEDB but
is not a superuser, like the master user of Amazon RDS.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

PROJECT_ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(PROJECT_ROOT / "collections"))

from ansible_collections.qa.platform.plugins.module_utils import (  # noqa: E402
    platform_db,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PGBOUNCER = Path("/usr/sbin/pgbouncer")
OS_USER = "postgres"
MASTER_ROLE = "rds_master"
MIGRATIONS_DIR = PROJECT_ROOT / "sql"
TENANT_A = "tenant-a"
TENANT_B = "tenant-b"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_as_postgres(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["runuser", "-u", OS_USER, "--", *command],
        check=True,
        capture_output=True,
        text=True,
    )


def wait_for_port(port: int, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout} s")


def stop_pid(pid: int, sig: signal.Signals, timeout: float = 30.0) -> None:
    try:
        os.kill(pid, sig)
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


@dataclass
class Cluster:
    """A running throwaway cluster."""

    port: int
    socket_dir: Path
    data_dir: Path

    def params(
        self, user: str = MASTER_ROLE, dbname: str = "postgres"
    ) -> dict[str, Any]:
        return {"host": "127.0.0.1", "port": self.port, "user": user, "dbname": dbname}

    def connect(
        self, user: str = MASTER_ROLE, dbname: str = "postgres", **kwargs: Any
    ) -> psycopg.Connection[Any]:
        return psycopg.connect(**self.params(user, dbname), **kwargs)


@pytest.fixture(scope="session")
def workdir() -> Iterator[Path]:
    for binary in (PG_BIN / "initdb", PG_BIN / "pg_ctl", PGBOUNCER):
        if not binary.exists():
            pytest.fail(
                f"{binary} not found: install postgresql-15 and pgbouncer "
                "(make test installs them)"
            )
    path = Path(tempfile.mkdtemp(prefix="qa-db-tests-"))
    shutil.chown(path, user=OS_USER, group=OS_USER)
    path.chmod(0o700)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def cluster(workdir: Path) -> Iterator[Cluster]:
    data_dir = workdir / "data"
    port = free_port()
    run_as_postgres(
        str(PG_BIN / "initdb"),
        "-D", str(data_dir),
        # TCP logins are trusted; socket logins need a password, so the
        # password tests have a path where the server checks one.
        "--auth-host=trust",
        "--auth-local=scram-sha-256",
        "--encoding=UTF8",
        "--locale=C.UTF-8",
        "--username=postgres",
    )  # fmt: skip
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 "
        f"-c unix_socket_directories={workdir} -c fsync=off "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    run_as_postgres(
        str(PG_BIN / "pg_ctl"),
        "-D", str(data_dir),
        "-l", str(workdir / "postgres.log"),
        "-o", options,
        "-w", "start",
    )  # fmt: skip
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    try:
        superuser = psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="postgres",
            autocommit=True,
        )  # fmt: skip
        with superuser:
            superuser.execute(
                f"CREATE ROLE {MASTER_ROLE} LOGIN CREATEROLE CREATEDB NOSUPERUSER"
            )
        yield Cluster(port, workdir, data_dir)
    finally:
        # SIGINT is PostgreSQL's fast shutdown.
        stop_pid(pid, signal.SIGINT)


@pytest.fixture
def fresh_database(cluster: Cluster) -> Iterator[str]:
    """The name of an application database that does not exist yet."""
    name = f"qa_test_{uuid.uuid4().hex[:10]}"
    yield name
    with cluster.connect("postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(scope="session")
def platform(cluster: Cluster) -> str:
    """The migrated application database qa_platform, built as rds_master."""
    platform_db.build(
        cluster.params(), MIGRATIONS_DIR, platform_db.passwords_from_env({})
    )
    return platform_db.APP_DATABASE


def tenant_transaction(conn: psycopg.Connection[Any], tenant: str | None) -> None:
    """Start the application's unit of work: BEGIN plus a transaction-local tenant."""
    conn.execute("BEGIN")
    if tenant is not None:
        conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant,))


@dataclass
class TenantData:
    """Ids of the rows made for one tenant."""

    tenant_id: str
    organization_id: str
    user_id: str
    agent_id: str
    customer_id: str
    call_id: str
    transcription_id: str


def make_tenant_rows(cluster: Cluster, database: str, tenant: str) -> TenantData:
    """Register a tenant as qa_provisioner and fill it as qa_app."""
    with cluster.connect(platform_db.PROVISIONER_ROLE, database) as conn:
        conn.execute(
            "INSERT INTO tenants (tenant_id, realm_name, display_name, max_users) "
            "VALUES (%s, %s, %s, 5) ON CONFLICT (tenant_id) DO NOTHING",
            (tenant, tenant, f"Tenant {tenant}"),
        )
        conn.execute(
            "INSERT INTO organizations (tenant_id, name, is_default) "
            "VALUES (%s, %s, true) "
            "ON CONFLICT (tenant_id) WHERE is_default DO NOTHING",
            (tenant, f"{tenant} organization"),
        )
    with cluster.connect(platform_db.APP_ROLE, database) as conn:
        conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant,))
        row = conn.execute(
            "SELECT id FROM organizations WHERE tenant_id = %s AND is_default",
            (tenant,),
        ).fetchone()
        assert row is not None, f"default organization of {tenant} not visible"
        org = str(row[0])

        def insert(query: str, *params: Any) -> str:
            inserted = conn.execute(query, params).fetchone()
            assert inserted is not None
            return str(inserted[0])

        user = insert(
            "INSERT INTO user_profiles (tenant_id, keycloak_user_id, organization_id, "
            "email, role) VALUES (%s, %s, %s, %s, 'agent') RETURNING id",
            tenant, f"kc-{uuid.uuid4()}", org, f"agent@{tenant}.test",
        )  # fmt: skip
        agent = insert(
            "INSERT INTO agents (tenant_id, user_profile_id, agent_code) "
            "VALUES (%s, %s, %s) RETURNING id",
            tenant, user, f"A-{uuid.uuid4().hex[:6]}",
        )  # fmt: skip
        customer = insert(
            "INSERT INTO customers (tenant_id, organization_id, name) "
            "VALUES (%s, %s, 'Customer') RETURNING id",
            tenant, org,
        )  # fmt: skip
        call = insert(
            "INSERT INTO calls (tenant_id, organization_id, agent_id, customer_id, "
            "started_at, recording_size_bytes) VALUES (%s, %s, %s, %s, now(), 1000) "
            "RETURNING id",
            tenant, org, agent, customer,
        )  # fmt: skip
        transcription = insert(
            "INSERT INTO transcriptions (tenant_id, call_id, organization_id) "
            "VALUES (%s, %s, %s) RETURNING id",
            tenant, call, org,
        )  # fmt: skip
        conn.commit()
    return TenantData(tenant, org, user, agent, customer, call, transcription)


@pytest.fixture(scope="session")
def two_tenants(cluster: Cluster, platform: str) -> tuple[TenantData, TenantData]:
    return (
        make_tenant_rows(cluster, platform, TENANT_A),
        make_tenant_rows(cluster, platform, TENANT_B),
    )


@dataclass
class Bouncer:
    """A running PgBouncer in transaction pooling mode with one server connection."""

    port: int

    def connect(self, user: str, dbname: str) -> psycopg.Connection[Any]:
        # PgBouncer 1.18 in transaction mode cannot route server-side prepared
        # statements, so psycopg must not prepare any.
        return psycopg.connect(
            host="127.0.0.1", port=self.port, user=user, dbname=dbname,
            prepare_threshold=None,
        )  # fmt: skip


@pytest.fixture(scope="session")
def pgbouncer(workdir: Path, cluster: Cluster, platform: str) -> Iterator[Bouncer]:
    port = free_port()
    auth_file = workdir / "pgbouncer.users"
    auth_file.write_text(f'"{platform_db.APP_ROLE}" ""\n')
    config = workdir / "pgbouncer.ini"
    pid_file = workdir / "pgbouncer.pid"
    config.write_text(
        "[databases]\n"
        f"{platform} = host=127.0.0.1 port={cluster.port} dbname={platform}\n"
        "[pgbouncer]\n"
        "listen_addr = 127.0.0.1\n"
        f"listen_port = {port}\n"
        f"unix_socket_dir = {workdir}\n"
        "auth_type = trust\n"
        f"auth_file = {auth_file}\n"
        "pool_mode = transaction\n"
        "default_pool_size = 1\n"
        "max_client_conn = 20\n"
        f"logfile = {workdir / 'pgbouncer.log'}\n"
        f"pidfile = {pid_file}\n"
    )
    for path in (auth_file, config):
        shutil.chown(path, user=OS_USER, group=OS_USER)
    run_as_postgres(str(PGBOUNCER), "-d", str(config))
    wait_for_port(port, "pgbouncer")
    pid = int(pid_file.read_text().strip())
    try:
        yield Bouncer(port)
    finally:
        stop_pid(pid, signal.SIGTERM)
