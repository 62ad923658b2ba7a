"""Attacks by one tenant, as qa_app, on another tenant's rows and on the registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import TENANT_A, TENANT_B, Cluster, TenantData, tenant_transaction
from psycopg import sql

TENANT_TABLES = (
    "organizations",
    "user_profiles",
    "departments",
    "teams",
    "agents",
    "customers",
    "calls",
    "transcriptions",
    "call_analyses",
)
ALL_TABLES = ("tenants", *TENANT_TABLES)
READ_ONLY_TABLES = (
    "usage_monthly",
    "usage_totals",
    "api_usage_daily",
)


@pytest.fixture
def app(cluster: Cluster, platform: str) -> Iterator[psycopg.Connection[Any]]:
    conn = cluster.connect("qa_app", platform, autocommit=True)
    yield conn
    conn.execute("ROLLBACK")
    conn.close()


def rows(
    conn: psycopg.Connection[Any], query: str | sql.Composed, *params: Any
) -> list[Any]:
    return conn.execute(query, params).fetchall()


def on_table(template: str, table: str) -> sql.Composed:
    """Fill the {} of ``template`` with ``table`` as a quoted identifier."""
    return sql.SQL(template).format(sql.Identifier(table))


@pytest.mark.parametrize("table", ALL_TABLES)
def test_tenant_reads_only_own_rows(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData], table: str
) -> None:
    tenant_transaction(app, TENANT_A)
    seen = {
        row[0]
        for row in rows(app, on_table("SELECT DISTINCT tenant_id FROM {}", table))
    }
    if table in ("departments", "teams", "call_analyses"):
        assert seen <= {TENANT_A}
    else:
        assert seen == {TENANT_A}


@pytest.mark.parametrize("table", ALL_TABLES + READ_ONLY_TABLES)
def test_no_tenant_sees_nothing(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData], table: str
) -> None:
    tenant_transaction(app, None)
    assert rows(app, on_table("SELECT count(*) FROM {}", table)) == [(0,)]


def test_other_tenant_row_by_id_invisible(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    _, b = two_tenants
    tenant_transaction(app, TENANT_A)
    assert rows(app, "SELECT id FROM calls WHERE id = %s", b.call_id) == []
    assert rows(app, "SELECT id FROM user_profiles WHERE id = %s", b.user_id) == []
    assert rows(app, "SELECT id FROM tenants WHERE tenant_id = %s", TENANT_B) == []


def test_insert_for_other_tenant_rejected(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    _, b = two_tenants
    tenant_transaction(app, TENANT_A)
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="row-level security"
    ):
        app.execute(
            "INSERT INTO customers (tenant_id, organization_id, name) "
            "VALUES (%s, %s, 'planted')",
            (TENANT_B, b.organization_id),
        )


def test_update_of_other_tenant_touches_nothing(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    _, b = two_tenants
    tenant_transaction(app, TENANT_A)
    cursor = app.execute(
        "UPDATE customers SET name = 'hijacked' WHERE id = %s", (b.customer_id,)
    )
    assert cursor.rowcount == 0
    cursor = app.execute("UPDATE calls SET status = 'hijacked'")
    assert rows(app, "SELECT count(*) FROM calls WHERE status <> 'hijacked'") == [(0,)]
    app.execute("ROLLBACK")
    tenant_transaction(app, TENANT_B)
    assert rows(app, "SELECT name FROM customers WHERE id = %s", b.customer_id) == [
        ("Customer",)
    ]


def test_moving_row_to_other_tenant_rejected(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    a, _ = two_tenants
    tenant_transaction(app, TENANT_A)
    with pytest.raises(
        psycopg.errors.InsufficientPrivilege, match="row-level security"
    ):
        app.execute(
            "UPDATE customers SET tenant_id = %s WHERE id = %s",
            (TENANT_B, a.customer_id),
        )


def test_delete_of_other_tenant_removes_nothing(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    _, b = two_tenants
    tenant_transaction(app, TENANT_A)
    for table in reversed(TENANT_TABLES):
        cursor = app.execute(
            on_table("DELETE FROM {} WHERE tenant_id = %s", table),
            (TENANT_B,),
        )
        assert cursor.rowcount == 0, table
    app.execute("ROLLBACK")
    tenant_transaction(app, TENANT_B)
    assert rows(app, "SELECT count(*) FROM calls WHERE id = %s", b.call_id) == [(1,)]


@pytest.mark.parametrize("table", ALL_TABLES + READ_ONLY_TABLES)
def test_truncate_rejected(
    app: psycopg.Connection[Any], platform: str, table: str
) -> None:
    tenant_transaction(app, TENANT_A)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(on_table("TRUNCATE {} CASCADE", table))


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE FUNCTION public.planted() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RETURN NEW; END $$",
        "CREATE TRIGGER planted BEFORE INSERT ON calls FOR EACH ROW "
        "EXECUTE FUNCTION set_updated_at()",
        "CREATE TABLE public.planted (id int)",
        "CREATE SCHEMA planted",
        "CREATE TEMP TABLE planted (id int)",
        "ALTER TABLE calls DISABLE ROW LEVEL SECURITY",
        "ALTER TABLE calls NO FORCE ROW LEVEL SECURITY",
        "DROP POLICY tenant_isolation ON calls",
        "CREATE POLICY planted ON calls FOR SELECT TO qa_app USING (true)",
        "SET ROLE qa_operator",
        "SET ROLE qa_owner",
        "SET row_security = off",
    ],
)
def test_schema_changes_rejected(
    app: psycopg.Connection[Any], platform: str, statement: str
) -> None:
    tenant_transaction(app, TENANT_A)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(statement)
        # row_security = off is accepted as a setting; the next query that
        # a policy would filter must then fail instead of bypassing it.
        app.execute("SELECT count(*) FROM calls")


def test_grant_by_app_grants_nothing(cluster: Cluster, platform: str) -> None:
    # A GRANT without the grant option only warns, so check its effect.
    with cluster.connect("qa_app", platform) as conn:
        conn.execute("GRANT SELECT, TRUNCATE ON calls TO PUBLIC, qa_operator")
        conn.commit()
    with cluster.connect("postgres", platform) as conn:
        granted = rows(
            conn,
            "SELECT has_table_privilege('qa_operator', 'calls', 'SELECT'), "
            "has_table_privilege('qa_operator', 'calls', 'TRUNCATE')",
        )
    assert granted == [(False, False)]


@pytest.mark.parametrize(
    ("table", "columns", "values"),
    [
        ("user_profiles", "keycloak_user_id, organization_id, email, role",
         "'kc-x', %(b_org)s, 'x@a.test', 'agent'"),
        ("customers", "organization_id", "%(b_org)s"),
        ("calls", "organization_id, agent_id", "%(a_org)s, %(b_agent)s"),
        ("calls", "organization_id, agent_id, customer_id",
         "%(a_org)s, %(a_agent)s, %(b_customer)s"),
        ("transcriptions", "call_id, organization_id", "%(b_call)s, %(a_org)s"),
        ("call_analyses", "call_id, organization_id, transcription_id",
         "%(a_call)s, %(a_org)s, %(b_transcription)s"),
        ("agents", "user_profile_id, agent_code", "%(b_user)s, 'X-1'"),
    ],
)  # fmt: skip
def test_foreign_key_into_other_tenant_rejected(
    app: psycopg.Connection[Any],
    two_tenants: tuple[TenantData, TenantData],
    table: str,
    columns: str,
    values: str,
) -> None:
    a, b = two_tenants
    params = {
        "a_org": a.organization_id,
        "a_agent": a.agent_id,
        "a_call": a.call_id,
        "b_org": b.organization_id,
        "b_agent": b.agent_id,
        "b_customer": b.customer_id,
        "b_call": b.call_id,
        "b_transcription": b.transcription_id,
        "b_user": b.user_id,
        "tenant": TENANT_A,
    }
    tenant_transaction(app, TENANT_A)
    with pytest.raises(psycopg.errors.ForeignKeyViolation):
        app.execute(
            sql.SQL("INSERT INTO {} (tenant_id, {}) VALUES (%(tenant)s, {})").format(
                sql.Identifier(table), sql.SQL(columns), sql.SQL(values)
            ),
            params,
        )


def test_super_admin_spoofing_grants_nothing(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    a, _ = two_tenants
    tenant_transaction(app, TENANT_A)
    app.execute(
        "UPDATE user_profiles SET role = 'super_admin' WHERE id = %s", (a.user_id,)
    )
    keycloak_id = rows(
        app, "SELECT keycloak_user_id FROM user_profiles WHERE id = %s", a.user_id
    )
    app.execute("SELECT set_config('app.current_user', %s, true)", (keycloak_id[0][0],))
    app.execute("SELECT set_config('app.is_super_admin', 'true', true)")
    app.execute("SELECT set_config('app.role', 'super_admin', true)")

    tenants = {row[0] for row in rows(app, "SELECT tenant_id FROM tenants")}
    assert tenants == {TENANT_A}
    assert {row[0] for row in rows(app, "SELECT DISTINCT tenant_id FROM calls")} == {
        TENANT_A
    }


@pytest.mark.parametrize(
    "statement",
    [
        "UPDATE tenants SET tier = 'enterprise'",
        "UPDATE tenants SET max_users = 100000",
        "UPDATE tenants SET max_calls_per_month = 2000000000",
        "UPDATE tenants SET status = 'active'",
        "DELETE FROM tenants",
        "INSERT INTO tenants (tenant_id, realm_name, display_name) "
        "VALUES ('evil', 'evil', 'Evil')",
        "INSERT INTO usage_totals (tenant_id) VALUES ('tenant-a')",
        "UPDATE api_usage_daily SET api_calls = 0",
        "DELETE FROM usage_monthly",
        "SELECT usage_rebuild()",
        "SELECT * FROM usage_recount()",
        "SELECT acquire_tenant_lock('tenant-b', 'app', 'remove')",
        "SELECT * FROM provisioning_journal",
        "SELECT * FROM schema_migrations",
    ],
)
def test_registry_and_usage_writes_rejected(
    app: psycopg.Connection[Any],
    two_tenants: tuple[TenantData, TenantData],
    statement: str,
) -> None:
    tenant_transaction(app, TENANT_A)
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        app.execute(statement)


def test_context_gone_after_commit(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    tenant_transaction(app, TENANT_A)
    assert rows(app, "SELECT count(*) FROM tenants") == [(1,)]
    app.execute("COMMIT")
    tenant_transaction(app, None)
    assert rows(app, "SELECT current_tenant_id()") == [(None,)]
    assert rows(app, "SELECT count(*) FROM calls") == [(0,)]


def test_set_tenant_context_is_transaction_local(
    app: psycopg.Connection[Any], two_tenants: tuple[TenantData, TenantData]
) -> None:
    app.execute("BEGIN")
    app.execute("SELECT set_tenant_context(%s, 'kc-user')", (TENANT_B,))
    assert rows(app, "SELECT tenant_id FROM tenants") == [(TENANT_B,)]
    app.execute("ROLLBACK")
    assert rows(
        app, "SELECT current_tenant_id(), current_setting('app.current_user', true)"
    ) == [(None, "")]
    with pytest.raises(psycopg.errors.InvalidParameterValue):
        app.execute("SELECT set_tenant_context('')")


def test_operator_reads_all_writes_nothing(
    cluster: Cluster, platform: str, two_tenants: tuple[TenantData, TenantData]
) -> None:
    with cluster.connect("qa_operator", platform) as conn:
        usage = {row[0] for row in rows(conn, "SELECT tenant_id FROM tenant_usage()")}
        assert {TENANT_A, TENANT_B, "default"} <= usage
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("SELECT count(*) FROM calls")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE tenants SET tier = 'enterprise'")


def test_provisioner_manages_registry_only(
    cluster: Cluster, platform: str, two_tenants: tuple[TenantData, TenantData]
) -> None:
    with cluster.connect("qa_provisioner", platform) as conn:
        cursor = conn.execute(
            "UPDATE tenants SET tier = 'starter' WHERE tenant_id = %s", (TENANT_A,)
        )
        assert cursor.rowcount == 1
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("UPDATE calls SET status = 'x'")
        conn.rollback()
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            conn.execute("TRUNCATE tenants CASCADE")
