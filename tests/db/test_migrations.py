"""Migration runner and bootstrap: repeatable runs, failures, roles, CLI."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import psycopg
import pytest
from ansible_collections.qa.platform.plugins.module_utils import platform_db
from conftest import MASTER_ROLE, MIGRATIONS_DIR, PROJECT_ROOT, Cluster
from psycopg import sql

MIGRATION_NAMES = sorted(path.name for path in MIGRATIONS_DIR.glob("*.sql"))


def build(cluster: Cluster, database: str, **kwargs: Any) -> platform_db.BuildResult:
    return platform_db.build(
        cluster.params(),
        kwargs.pop("migrations_dir", MIGRATIONS_DIR),
        kwargs.pop("passwords", {}),
        app_database=database,
        **kwargs,
    )


def scalar(conn: psycopg.Connection[Any], query: str, *params: Any) -> Any:
    row = conn.execute(query, params).fetchone()
    assert row is not None
    return row[0]


def test_master_is_not_superuser(cluster: Cluster) -> None:
    with cluster.connect() as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreaterole, rolcreatedb FROM pg_roles "
            "WHERE rolname = current_user"
        ).fetchone()
    assert row == (False, True, True)


def test_build_twice_changes_nothing(cluster: Cluster, fresh_database: str) -> None:
    first = build(cluster, fresh_database)
    second = build(cluster, fresh_database)

    assert first.migrations_applied == MIGRATION_NAMES
    assert fresh_database in first.databases_created
    assert second.migrations_applied == []
    assert second.databases_created == []
    assert not second.changed, second.as_dict()
    with cluster.connect("postgres", fresh_database) as conn:
        assert scalar(conn, "SELECT count(*) FROM schema_migrations") == len(
            MIGRATION_NAMES
        )
        assert scalar(conn, "SELECT count(*) FROM tenants") == 1
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM tenants "
                "WHERE tenant_id = 'default' AND realm_name = 'qa-default'",
            )
            == 1
        )
        assert (
            scalar(
                conn,
                "SELECT count(*) FROM organizations "
                "WHERE tenant_id = 'default' AND is_default",
            )
            == 1
        )


def test_migration_files_reapply_cleanly(cluster: Cluster, fresh_database: str) -> None:
    """Each file run again by hand, outside the version table, still succeeds."""
    build(cluster, fresh_database)
    with cluster.connect("postgres", fresh_database) as conn:
        policies_before = scalar(conn, "SELECT count(*) FROM pg_policies")
    with cluster.connect(MASTER_ROLE, fresh_database, autocommit=True) as conn:
        conn.execute("SET ROLE qa_owner")
        with conn.transaction():
            for name in MIGRATION_NAMES:
                conn.execute((MIGRATIONS_DIR / name).read_bytes())
    with cluster.connect("postgres", fresh_database) as conn:
        assert scalar(conn, "SELECT count(*) FROM pg_policies") == policies_before
        assert scalar(conn, "SELECT count(*) FROM tenants") == 1
        assert scalar(conn, "SELECT count(*) FROM organizations") == 1


def test_mapping_matches_folder(cluster: Cluster, fresh_database: str) -> None:
    texts = {
        path.name: path.read_text(encoding="utf-8")
        for path in MIGRATIONS_DIR.glob("*.sql")
    }
    first = build(cluster, fresh_database, migrations_dir=texts)
    second = build(cluster, fresh_database)

    assert first.migrations_applied == MIGRATION_NAMES
    assert second.migrations_applied == []
    assert not second.changed, second.as_dict()


def test_mapping_with_stripped_text_rejected(
    cluster: Cluster, fresh_database: str
) -> None:
    build(cluster, fresh_database)
    texts = {
        path.name: path.read_text(encoding="utf-8").rstrip()
        for path in MIGRATIONS_DIR.glob("*.sql")
    }

    with pytest.raises(platform_db.PlatformDbError, match="must not change"):
        build(cluster, fresh_database, migrations_dir=texts)


def test_empty_mapping_rejected() -> None:
    with pytest.raises(platform_db.PlatformDbError, match="no migrations given"):
        platform_db.parse_migrations({})


def test_failing_migration_stops_run(
    cluster: Cluster, fresh_database: str, tmp_path: Path
) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    (tmp_path / "0900_broken.sql").write_text(
        "CREATE TABLE half_done (id int);\n\nSELECT no_such_column FROM tenants;\n"
    )
    (tmp_path / "0901_after.sql").write_text("CREATE TABLE after_broken (id int);\n")

    with pytest.raises(platform_db.PlatformDbError) as caught:
        build(cluster, fresh_database, migrations_dir=tmp_path)

    message = str(caught.value)
    assert "0900_broken.sql" in message
    assert "line 3" in message
    assert "no_such_column" in message
    with cluster.connect("postgres", fresh_database) as conn:
        versions = [
            row[0]
            for row in conn.execute("SELECT name FROM schema_migrations ORDER BY 1")
        ]
        assert versions == MIGRATION_NAMES
        assert scalar(conn, "SELECT to_regclass('half_done')") is None
        assert scalar(conn, "SELECT to_regclass('after_broken')") is None


def test_changed_applied_migration_rejected(
    cluster: Cluster, fresh_database: str, tmp_path: Path
) -> None:
    build(cluster, fresh_database)
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    target = tmp_path / MIGRATION_NAMES[-1]
    target.write_text(target.read_text() + "\n-- edited after release\n")

    with pytest.raises(platform_db.PlatformDbError, match="must not change"):
        build(cluster, fresh_database, migrations_dir=tmp_path)


@pytest.mark.parametrize(
    "file_name", ["1_short.sql", "0007-dash.sql", "0007_Upper.sql", "0007_.sql"]
)
def test_invalid_file_name_rejected(tmp_path: Path, file_name: str) -> None:
    (tmp_path / file_name).write_text("SELECT 1;\n")
    with pytest.raises(platform_db.PlatformDbError, match="is invalid"):
        platform_db.load_migrations(tmp_path)


def test_duplicate_version_rejected(tmp_path: Path) -> None:
    (tmp_path / "0001_one.sql").write_text("SELECT 1;\n")
    (tmp_path / "0001_two.sql").write_text("SELECT 2;\n")
    with pytest.raises(platform_db.PlatformDbError, match="share version 0001"):
        platform_db.load_migrations(tmp_path)


def test_plan_reports_pending(cluster: Cluster, fresh_database: str) -> None:
    before = platform_db.plan(cluster.params(), MIGRATIONS_DIR, fresh_database)
    build(cluster, fresh_database)
    after = platform_db.plan(cluster.params(), MIGRATIONS_DIR, fresh_database)

    assert before.migrations_pending == MIGRATION_NAMES
    assert fresh_database in before.databases_created
    assert after.migrations_pending == []
    assert not after.changed


@pytest.mark.parametrize(
    ("host", "local"),
    [
        (None, True),
        ("", True),
        ("/run/postgresql", True),
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.0.0.42", True),
        ("::1", True),
        ("db.example.com", False),
        ("10.0.0.5", False),
        ("127.0.0.1,10.0.0.5", False),
    ],
)
def test_is_local_host(host: str | None, local: bool) -> None:
    assert platform_db.is_local_host(host) is local


def test_platform_roles_are_plain(cluster: Cluster, platform: str) -> None:
    with cluster.connect("postgres", platform) as conn:
        rows = conn.execute(
            "SELECT rolname, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb, "
            "rolcanlogin FROM pg_roles WHERE rolname = ANY(%s) ORDER BY 1",
            (list(platform_db.ALL_ROLES),),
        ).fetchall()
        owned = conn.execute(
            "SELECT count(*) FROM pg_class "
            "WHERE pg_get_userbyid(relowner) IN ('qa_app', 'qa_provisioner', "
            "'qa_operator')"
        ).fetchone()
    assert [row[0] for row in rows] == sorted(platform_db.ALL_ROLES)
    for name, *flags, can_login in rows:
        assert flags == [False, False, False, False], name
        assert can_login, name
    assert owned == (0,)


def test_keycloak_creates_tables(cluster: Cluster, platform: str) -> None:
    with cluster.connect("keycloak", "keycloak") as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS kc_probe (id int)")
        conn.execute("DROP TABLE kc_probe")
        conn.commit()


@pytest.mark.parametrize(
    ("user", "database"),
    [("keycloak", "qa_platform"), ("qa_app", "keycloak"), ("qa_operator", "keycloak")],
)
def test_database_connect_restricted(
    cluster: Cluster, platform: str, user: str, database: str
) -> None:
    with pytest.raises(psycopg.OperationalError, match="permission denied"):
        cluster.connect(user, database).close()


def test_passwords_set_and_verified(cluster: Cluster, platform: str) -> None:
    """Over the socket the server checks passwords, so the runner must set them."""
    master_password = secrets.token_urlsafe(16)
    with cluster.connect("postgres", autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE rds_master PASSWORD {}").format(
                sql.Literal(master_password)
            )
        )
    params = {**cluster.params(), "host": str(cluster.socket_dir)}
    params["password"] = master_password
    passwords: dict[str, str | None] = {
        role: secrets.token_urlsafe(16) for role in platform_db.ALL_ROLES
    }
    first = platform_db.build(params, MIGRATIONS_DIR, passwords)
    second = platform_db.build(params, MIGRATIONS_DIR, passwords)

    assert sorted(first.passwords_set) == sorted(platform_db.ALL_ROLES)
    assert second.passwords_set == []
    assert not second.changed
    with psycopg.connect(
        host=str(cluster.socket_dir), port=cluster.port, user="qa_app",
        dbname=platform, password=passwords["qa_app"],
    ) as conn:  # fmt: skip
        assert conn.pgconn.used_password
    with cluster.connect("postgres") as conn:
        stored = scalar(
            conn, "SELECT rolpassword FROM pg_authid WHERE rolname = 'qa_app'"
        )
    assert stored.startswith("SCRAM-SHA-256$")


def run_cli(
    *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "db_migrate.py"), *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_cli_builds_then_changes_nothing(cluster: Cluster, fresh_database: str) -> None:
    dsn = f"host=127.0.0.1 port={cluster.port} user={MASTER_ROLE} dbname=postgres"
    first = run_cli(
        "--dsn-from-env", "--database", fresh_database, "--json", env={"DSN": dsn}
    )
    second = run_cli("--dsn", dsn, "--database", fresh_database, "--json")

    assert first.returncode == 0, first.stderr
    assert json.loads(first.stdout)["migrations_applied"] == MIGRATION_NAMES
    assert second.returncode == 0, second.stderr
    assert json.loads(second.stdout)["changed"] is False


def test_cli_rejects_password_in_argument(cluster: Cluster) -> None:
    dsn = f"postgresql://{MASTER_ROLE}:secret@127.0.0.1:{cluster.port}/postgres"
    result = run_cli("--dsn", dsn)
    assert result.returncode == 1
    assert "contains a password" in result.stderr


def test_cli_requires_dsn() -> None:
    env = {key: value for key, value in os.environ.items() if key != "DSN"}
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "db_migrate.py")],
        capture_output=True, text=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "no master connection string" in result.stderr


def test_cli_fails_on_broken_migration(
    cluster: Cluster, fresh_database: str, tmp_path: Path
) -> None:
    for path in MIGRATIONS_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    (tmp_path / "0900_broken.sql").write_text("SELECT 1/0;\n")
    dsn = f"host=127.0.0.1 port={cluster.port} user={MASTER_ROLE} dbname=postgres"
    result = run_cli(
        "--dsn", dsn, "--database", fresh_database, "--migrations-dir", str(tmp_path)
    )
    assert result.returncode == 1
    assert "0900_broken.sql failed" in result.stderr
    assert "division by zero" in result.stderr
