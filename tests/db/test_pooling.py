"""Tenant context through PgBouncer in transaction pooling mode (one server link).

Every client below shares PgBouncer's single server connection, so whatever a
transaction leaves behind on the connection, the next client inherits.
"""

from __future__ import annotations

from typing import Any

import psycopg
import pytest
from conftest import TENANT_A, Bouncer, TenantData


def backend_and_context(conn: psycopg.Connection[Any]) -> tuple[Any, ...]:
    row = conn.execute(
        "SELECT pg_backend_pid(), current_tenant_id(), "
        "(SELECT count(*) FROM calls), (SELECT count(*) FROM tenants)"
    ).fetchone()
    assert row is not None
    conn.commit()
    return tuple(row)


def test_next_client_inherits_no_tenant(
    pgbouncer: Bouncer, platform: str, two_tenants: tuple[TenantData, TenantData]
) -> None:
    with pgbouncer.connect("qa_app", platform) as first:
        first.execute("SELECT set_config('app.current_tenant', %s, true)", (TENANT_A,))
        row = first.execute("SELECT pg_backend_pid(), count(*) FROM calls").fetchone()
        assert row is not None
        backend, calls_seen = row
        first.commit()
    assert calls_seen >= 1

    with pgbouncer.connect("qa_app", platform) as second:
        reused_backend, tenant, calls, tenants = backend_and_context(second)

    assert reused_backend == backend
    assert tenant is None
    assert calls == 0
    assert tenants == 0


def test_interleaved_clients_share_nothing(
    pgbouncer: Bouncer, platform: str, two_tenants: tuple[TenantData, TenantData]
) -> None:
    with (
        pgbouncer.connect("qa_app", platform) as tenant_client,
        pgbouncer.connect("qa_app", platform) as anonymous_client,
    ):
        for _ in range(3):
            tenant_client.execute("SELECT set_tenant_context(%s)", (TENANT_A,))
            assert tenant_client.execute("SELECT count(*) FROM tenants").fetchone() == (
                1,
            )
            tenant_client.commit()
            _, tenant, calls, tenants = backend_and_context(anonymous_client)
            assert (tenant, calls, tenants) == (None, 0, 0)


def test_rolled_back_transaction_leaves_no_tenant(
    pgbouncer: Bouncer, platform: str, two_tenants: tuple[TenantData, TenantData]
) -> None:
    with pgbouncer.connect("qa_app", platform) as first:
        first.execute("SELECT set_config('app.current_tenant', %s, true)", (TENANT_A,))
        with pytest.raises(psycopg.errors.DivisionByZero):
            first.execute("SELECT 1 / 0")
        first.rollback()
    with pgbouncer.connect("qa_app", platform) as second:
        _, tenant, calls, _ = backend_and_context(second)
    assert tenant is None
    assert calls == 0


def test_autocommit_statement_leaves_no_tenant(
    pgbouncer: Bouncer, platform: str, two_tenants: tuple[TenantData, TenantData]
) -> None:
    with pgbouncer.connect("qa_app", platform) as first:
        first.autocommit = True
        first.execute("SELECT set_config('app.current_tenant', %s, true)", (TENANT_A,))
        row = first.execute("SELECT current_tenant_id()").fetchone()
    assert row == (None,)
