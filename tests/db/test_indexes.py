"""Index use for tenant-scoped queries and an index behind every foreign key."""

from __future__ import annotations

import re

import pytest
from conftest import Cluster, make_tenant_rows


@pytest.fixture(scope="module")
def loaded(cluster: Cluster, platform: str) -> str:
    big = make_tenant_rows(cluster, platform, "explain-big")
    small = make_tenant_rows(cluster, platform, "explain-small")
    with cluster.connect("qa_app", platform) as conn:
        for tenant, count in ((big, 50_000), (small, 20)):
            conn.execute(
                "SELECT set_config('app.current_tenant', %s, true)", (tenant.tenant_id,)
            )
            conn.execute(
                "INSERT INTO calls (tenant_id, organization_id, agent_id, started_at) "
                "SELECT %s, %s, %s, now() - g * interval '1 minute' "
                "FROM generate_series(1, %s) g",
                (tenant.tenant_id, tenant.organization_id, tenant.agent_id, count),
            )
            conn.commit()
    with cluster.connect("postgres", platform, autocommit=True) as conn:
        conn.execute("ANALYZE calls")
    tenant_id: str = small.tenant_id
    return tenant_id


@pytest.mark.parametrize(
    "query",
    [
        "SELECT * FROM calls ORDER BY started_at DESC LIMIT 20",
        "SELECT count(*) FROM calls",
        "SELECT * FROM calls WHERE started_at > now() - interval '1 day'",
    ],
)
def test_tenant_query_uses_index(
    cluster: Cluster, platform: str, loaded: str, query: str
) -> None:
    with cluster.connect("qa_app", platform) as conn:
        conn.execute("SELECT set_config('app.current_tenant', %s, true)", (loaded,))
        plan = "\n".join(row[0] for row in conn.execute(f"EXPLAIN {query}"))
    assert "Seq Scan on calls" not in plan, plan
    assert re.search(r"Index Cond: .*tenant_id", plan), plan


def test_every_foreign_key_indexed(cluster: Cluster, platform: str) -> None:
    with cluster.connect("postgres", platform) as conn:
        missing = conn.execute(
            """
            SELECT c.conrelid::regclass::text || ' ' || c.conname
            FROM pg_constraint c
            WHERE c.contype = 'f'
              AND NOT EXISTS (
                SELECT 1 FROM pg_index i
                WHERE i.indrelid = c.conrelid
                  AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1]
                      @> c.conkey
                  AND (i.indkey::int2[])[0:cardinality(c.conkey) - 1]
                      <@ c.conkey
              )
            """
        ).fetchall()
    assert missing == []


def test_tenant_function_not_volatile(cluster: Cluster, platform: str) -> None:
    with cluster.connect("postgres", platform) as conn:
        row = conn.execute(
            "SELECT provolatile FROM pg_proc WHERE proname = 'current_tenant_id'"
        ).fetchone()
    assert row == ("s",)
