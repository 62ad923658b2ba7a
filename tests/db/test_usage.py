"""Usage rollups against a recount, limits, constraints and cascades."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from conftest import Cluster, TenantData, make_tenant_rows
from psycopg import sql

USAGE_A = "usage-a"
USAGE_B = "usage-b"


def this_month() -> dt.date:
    return dt.datetime.now(dt.UTC).date().replace(day=1)


def previous_month() -> dt.date:
    return (this_month() - dt.timedelta(days=1)).replace(day=1)


@pytest.fixture(scope="module")
def usage_tenants(cluster: Cluster, platform: str) -> tuple[TenantData, TenantData]:
    return (
        make_tenant_rows(cluster, platform, USAGE_A),
        make_tenant_rows(cluster, platform, USAGE_B),
    )


@pytest.fixture
def operator(cluster: Cluster, platform: str) -> Iterator[psycopg.Connection[Any]]:
    with cluster.connect("qa_operator", platform, autocommit=True) as conn:
        yield conn


def app_session(
    cluster: Cluster, platform: str, tenant: str
) -> psycopg.Connection[Any]:
    conn: psycopg.Connection[Any] = cluster.connect("qa_app", platform)
    conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant,))
    return conn


def assert_rollup_matches_recount(
    operator: psycopg.Connection[Any], month: dt.date
) -> dict[str, tuple[Any, ...]]:
    usage = {
        row[0]: row[1:]
        for row in operator.execute(
            "SELECT tenant_id, user_count, calls_this_month, storage_bytes, "
            "api_calls_this_month FROM tenant_usage(%s)",
            (month,),
        )
    }
    recount = {
        row[0]: (row[1], row[2], row[3] + row[4], row[5])
        for row in operator.execute(
            "SELECT tenant_id, user_count, calls_this_month, row_bytes, "
            "recording_bytes, api_calls_this_month "
            "FROM usage_recount(%s)",
            (month,),
        )
    }
    assert usage == recount
    return usage


def insert_calls(
    conn: psycopg.Connection[Any], tenant: TenantData, count: int, started: str
) -> None:
    conn.execute(
        "INSERT INTO calls (tenant_id, organization_id, agent_id, started_at, "
        "recording_size_bytes) "
        "SELECT %s, %s, %s, " + started + ", CASE WHEN g %% 3 = 0 THEN NULL ELSE g END "
        "FROM generate_series(1, %s) g",
        (tenant.tenant_id, tenant.organization_id, tenant.agent_id, count),
    )


def test_rollup_exact_after_changes(
    cluster: Cluster,
    platform: str,
    usage_tenants: tuple[TenantData, TenantData],
    operator: psycopg.Connection[Any],
) -> None:
    a, b = usage_tenants
    with app_session(cluster, platform, a.tenant_id) as conn:
        insert_calls(conn, a, 1000, "now()")
        insert_calls(conn, a, 40, "now() - interval '40 days'")
    with app_session(cluster, platform, b.tenant_id) as conn:
        insert_calls(conn, b, 250, "now()")
    usage = assert_rollup_matches_recount(operator, this_month())
    assert usage[a.tenant_id][1] >= 1001
    assert usage[b.tenant_id][1] >= 251
    previous_before = assert_rollup_matches_recount(operator, previous_month())

    with app_session(cluster, platform, a.tenant_id) as conn:
        # Move 100 calls of this month into the previous month.
        conn.execute(
            "UPDATE calls SET started_at = %s WHERE id IN ("
            " SELECT id FROM calls WHERE started_at >= %s LIMIT 100)",
            (dt.datetime.combine(previous_month(), dt.time(12), dt.UTC), this_month()),
        )
        conn.execute(
            "UPDATE calls SET recording_size_bytes = 5000000 WHERE id = %s",
            (a.call_id,),
        )
        conn.execute(
            "DELETE FROM calls WHERE id IN (SELECT id FROM calls "
            "WHERE id <> %s AND started_at >= %s LIMIT 30)",
            (a.call_id, this_month()),
        )
        conn.execute('UPDATE customers SET metadata = \'{"tier": "gold"}\'')
    moved = assert_rollup_matches_recount(operator, this_month())
    assert moved[a.tenant_id][1] == usage[a.tenant_id][1] - 130
    assert moved[a.tenant_id][2] > usage[a.tenant_id][2]
    previous = assert_rollup_matches_recount(operator, previous_month())
    assert previous[a.tenant_id][1] == previous_before[a.tenant_id][1] + 100


def test_user_delete_keeps_agent_calls(
    cluster: Cluster, platform: str, operator: psycopg.Connection[Any]
) -> None:
    tenant = make_tenant_rows(cluster, platform, "usage-user-delete")
    with app_session(cluster, platform, tenant.tenant_id) as conn:
        conn.execute("DELETE FROM user_profiles WHERE id = %s", (tenant.user_id,))
        agent = conn.execute(
            "SELECT user_profile_id FROM agents WHERE id = %s", (tenant.agent_id,)
        ).fetchone()
        calls = conn.execute("SELECT count(*) FROM calls").fetchone()
    assert agent == (None,)
    assert calls == (1,)
    usage = assert_rollup_matches_recount(operator, this_month())
    assert usage[tenant.tenant_id][0] == 0


def test_max_users_enforced(cluster: Cluster, platform: str) -> None:
    tenant = make_tenant_rows(cluster, platform, "usage-max-users")  # max_users 5
    insert_users = (
        "INSERT INTO user_profiles (tenant_id, keycloak_user_id, organization_id, "
        "email, role) SELECT %s, 'kc-' || g || '-' || %s, %s, 'u' || g || '@x.test', "
        "'viewer' FROM generate_series(1, %s) g"
    )
    with app_session(cluster, platform, tenant.tenant_id) as conn:
        conn.execute(insert_users, (tenant.tenant_id, "a", tenant.organization_id, 4))
        conn.commit()
        conn.execute(
            "SELECT set_config('app.current_tenant', %s, true)", (tenant.tenant_id,)
        )
        with pytest.raises(psycopg.errors.CheckViolation) as caught:
            conn.execute(
                insert_users, (tenant.tenant_id, "b", tenant.organization_id, 1)
            )
        conn.rollback()
        conn.execute(
            "SELECT set_config('app.current_tenant', %s, true)", (tenant.tenant_id,)
        )
        count = conn.execute("SELECT count(*) FROM user_profiles").fetchone()
    assert "usage-max-users would have 6 users, above its max_users of 5" in str(
        caught.value
    )
    assert count == (5,)


def test_api_calls_counted(
    cluster: Cluster,
    platform: str,
    usage_tenants: tuple[TenantData, TenantData],
    operator: psycopg.Connection[Any],
) -> None:
    a, _ = usage_tenants
    with app_session(cluster, platform, a.tenant_id) as conn:
        first = conn.execute("SELECT increment_api_calls(3)").fetchone()
        second = conn.execute("SELECT increment_api_calls()").fetchone()
        assert first is not None and second is not None
        assert second[0] == first[0] + 1
        conn.commit()
        conn.execute(
            "SELECT set_config('app.current_tenant', %s, true)", (a.tenant_id,)
        )
        with pytest.raises(psycopg.errors.InvalidParameterValue):
            conn.execute("SELECT increment_api_calls(0)")
    row = operator.execute(
        "SELECT api_calls_this_month FROM tenant_usage() WHERE tenant_id = %s",
        (a.tenant_id,),
    ).fetchone()
    assert row == (second[0],)
    assert_rollup_matches_recount(operator, this_month())


def test_api_calls_need_tenant(cluster: Cluster, platform: str) -> None:
    with (
        cluster.connect("qa_app", platform) as conn,
        pytest.raises(psycopg.errors.InsufficientPrivilege, match="no tenant"),
    ):
        conn.execute("SELECT increment_api_calls(1)")


def test_app_reads_own_usage_only(
    cluster: Cluster, platform: str, usage_tenants: tuple[TenantData, TenantData]
) -> None:
    a, b = usage_tenants
    with app_session(cluster, platform, a.tenant_id) as conn:
        own = conn.execute(
            "SELECT * FROM get_tenant_usage(%s)", (a.tenant_id,)
        ).fetchall()
        other = conn.execute(
            "SELECT * FROM get_tenant_usage(%s)", (b.tenant_id,)
        ).fetchall()
        listed = conn.execute("SELECT tenant_id FROM tenant_usage()").fetchall()
    assert len(own) == 1
    user_count, call_count, storage_gb, _api_calls = own[0]
    assert user_count >= 1
    assert call_count >= 1
    assert storage_gb > 0
    assert other == []
    assert listed == [(a.tenant_id,)]


@pytest.mark.parametrize(
    ("earned", "maximum", "score"),
    [("50", 200, "25.00"), ("1", 3, "33.33"), ("0", 0, None), (None, 10, None),
     ("10", None, None), ("999.99", 1000, "100.00")],
)  # fmt: skip
def test_overall_score_computed(
    cluster: Cluster,
    platform: str,
    usage_tenants: tuple[TenantData, TenantData],
    earned: str | None,
    maximum: int | None,
    score: str | None,
) -> None:
    a, _ = usage_tenants
    with app_session(cluster, platform, a.tenant_id) as conn:
        row = conn.execute(
            "INSERT INTO call_analyses (tenant_id, call_id, organization_id, "
            "transcription_id, total_points_earned, total_max_points) "
            "VALUES (%s, %s, %s, %s, %s, %s) RETURNING overall_score::text",
            (
                a.tenant_id,
                a.call_id,
                a.organization_id,
                a.transcription_id,
                earned,
                maximum,
            ),
        ).fetchone()
        conn.rollback()
    assert row == (score,)


@pytest.mark.parametrize(
    ("earned", "maximum"), [("120", 100), ("-50", 100), ("5", -1), ("999.99", 1)]
)
def test_overall_score_out_of_range_rejected(
    cluster: Cluster,
    platform: str,
    usage_tenants: tuple[TenantData, TenantData],
    earned: str,
    maximum: int,
) -> None:
    a, _ = usage_tenants
    with (
        app_session(cluster, platform, a.tenant_id) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(
            "INSERT INTO call_analyses (tenant_id, call_id, organization_id, "
            "transcription_id, total_points_earned, total_max_points) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            (a.tenant_id, a.call_id, a.organization_id, a.transcription_id,
             earned, maximum),
        )  # fmt: skip


@pytest.mark.parametrize(
    ("table", "assignment"),
    [
        ("calls", "direction = 'sideways'"),
        ("calls", "duration_seconds = -1"),
        ("calls", "ended_at = started_at - interval '1 minute'"),
        ("user_profiles", "role = 'owner'"),
        ("user_profiles", "email = 'not-an-email'"),
        ("transcriptions", "confidence_score = 1.5"),
    ],
)
def test_check_constraints_reject(
    cluster: Cluster,
    platform: str,
    usage_tenants: tuple[TenantData, TenantData],
    table: str,
    assignment: str,
) -> None:
    a, _ = usage_tenants
    statement = sql.SQL("UPDATE {} SET {}").format(
        sql.Identifier(table), sql.SQL(assignment)
    )
    with (
        app_session(cluster, platform, a.tenant_id) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(statement)


@pytest.mark.parametrize(
    ("column", "value"),
    [("tenant_id", "Bad_Name"), ("tenant_id", "x" * 64), ("tier", "gold"),
     ("status", "deleted"), ("max_users", 0), ("realm_name", "-x")],
)  # fmt: skip
def test_tenant_checks_reject(
    cluster: Cluster, platform: str, column: str, value: Any
) -> None:
    values = {
        "tenant_id": "check-probe",
        "realm_name": "check-probe",
        "display_name": "x",
    }
    values[column] = value
    statement = sql.SQL("INSERT INTO tenants ({}) VALUES ({})").format(
        sql.SQL(", ").join(map(sql.Identifier, values)),
        sql.SQL(", ").join(sql.Placeholder() * len(values)),
    )
    with (
        cluster.connect("qa_provisioner", platform) as conn,
        pytest.raises(psycopg.errors.CheckViolation),
    ):
        conn.execute(statement, list(values.values()))


def test_updated_at_follows_update(
    cluster: Cluster, platform: str, usage_tenants: tuple[TenantData, TenantData]
) -> None:
    a, _ = usage_tenants
    with app_session(cluster, platform, a.tenant_id) as conn:
        before = conn.execute(
            "SELECT updated_at FROM customers WHERE id = %s", (a.customer_id,)
        ).fetchone()
        conn.commit()
        conn.execute(
            "SELECT set_config('app.current_tenant', %s, true)", (a.tenant_id,)
        )
        conn.execute(
            "UPDATE customers SET name = 'Renamed' WHERE id = %s", (a.customer_id,)
        )
        conn.commit()
        conn.execute(
            "SELECT set_config('app.current_tenant', %s, true)", (a.tenant_id,)
        )
        after = conn.execute(
            "SELECT updated_at FROM customers WHERE id = %s", (a.customer_id,)
        ).fetchone()
    assert before is not None and after is not None
    assert after[0] > before[0]


def test_tenant_removal_cascades(
    cluster: Cluster, platform: str, operator: psycopg.Connection[Any]
) -> None:
    tenant = make_tenant_rows(cluster, platform, "usage-removed")
    with cluster.connect("qa_provisioner", platform) as conn:
        conn.execute("DELETE FROM tenants WHERE tenant_id = %s", (tenant.tenant_id,))
        conn.commit()
        left = conn.execute(
            "SELECT (SELECT count(*) FROM calls WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM organizations WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM usage_totals WHERE tenant_id = %(t)s),"
            " (SELECT count(*) FROM usage_monthly WHERE tenant_id = %(t)s)",
            {"t": tenant.tenant_id},
        ).fetchone()
    assert left == (0, 0, 0, 0)
    assert_rollup_matches_recount(operator, this_month())


def test_provisioner_journal_and_locks(cluster: Cluster, platform: str) -> None:
    with cluster.connect("qa_provisioner", platform) as conn:
        first = conn.execute(
            "SELECT acquire_tenant_lock('lock-probe', 'run-1', 'onboard')"
        ).fetchone()
        again = conn.execute(
            "SELECT acquire_tenant_lock('lock-probe', 'run-1', 'onboard')"
        ).fetchone()
        other = conn.execute(
            "SELECT acquire_tenant_lock('lock-probe', 'run-2', 'onboard')"
        ).fetchone()
        conn.execute(
            "INSERT INTO provisioning_journal (tenant_id, step, details) "
            "VALUES ('lock-probe', 'database', '{\"rows\": 2}')"
        )
        with pytest.raises(psycopg.errors.UniqueViolation):
            conn.execute(
                "INSERT INTO provisioning_journal (tenant_id, step) "
                "VALUES ('lock-probe', 'database')"
            )
        conn.rollback()
        conn.execute(
            "INSERT INTO tenant_locks (tenant_id, holder, operation, acquired_at, "
            "expires_at) VALUES ('lock-expired', 'run-1', 'remove', "
            "now() - interval '2 hours', now() - interval '1 hour')"
        )
        expired = conn.execute(
            "SELECT acquire_tenant_lock('lock-expired', 'run-2', 'remove')"
        ).fetchone()
        released = conn.execute(
            "SELECT release_tenant_lock('lock-expired', 'run-2')"
        ).fetchone()
        conn.rollback()
    assert first == (True,)
    assert again == (True,)
    assert other == (False,)
    assert expired == (True,)
    assert released == (True,)


def test_usage_percentages_fractional(
    cluster: Cluster, platform: str, operator: psycopg.Connection[Any]
) -> None:
    tenant = make_tenant_rows(cluster, platform, "usage-percent")  # one user, one call
    with cluster.connect("qa_provisioner", platform) as conn:
        conn.execute(
            "UPDATE tenants SET max_users = 3, max_calls_per_month = 8 "
            "WHERE tenant_id = %s",
            (tenant.tenant_id,),
        )
    row = operator.execute(
        "SELECT users_pct::text, calls_pct::text FROM tenant_usage() "
        "WHERE tenant_id = %s",
        (tenant.tenant_id,),
    ).fetchone()
    assert row == ("33.33", "12.50")
