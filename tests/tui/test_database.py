"""The data-access layer against a real PostgreSQL with the platform schema."""

from __future__ import annotations

import pytest

from tests.tui.conftest import Cluster, add_tenant
from tui.core.database import ServiceUnavailable


def test_tenants_with_usage(platform: Cluster) -> None:
    with platform.connect() as conn:
        add_tenant(conn, "acme", users=3, calls=7, max_users=5, subdomain="acme")
    rows = {row.tenant_id: row for row in platform.operator_database().tenants()}
    assert set(rows) == {"default", "acme"}
    assert rows["acme"].user_count == 3
    assert rows["acme"].max_users == 5
    assert rows["acme"].calls_this_month == 7
    assert rows["acme"].subdomain == "acme"


def test_detail_reads_usage_and_settings(platform: Cluster) -> None:
    with platform.connect() as conn:
        add_tenant(conn, "globex", users=2, calls=4)
    database = platform.operator_database()
    row = next(row for row in database.tenants() if row.tenant_id == "globex")
    detail = database.detail(row)
    assert detail.features == ["sso"]
    assert detail.settings == {"theme": "dark"}
    assert detail.company_name == "Globex Ltd"
    assert detail.usage["user_count"] == 2
    assert detail.usage["calls_this_month"] == 4
    assert detail.operations == []


def test_unreachable_database_raises(platform: Cluster) -> None:
    database = platform.operator_database()
    database.params = type(database.params)(
        "127.0.0.1",
        platform.port + 1 if platform.port < 65535 else 1,
        "qa_platform",
        "qa_operator",
    )
    with pytest.raises(ServiceUnavailable) as raised:
        database.tenants()
    assert raised.value.service == "database"
    assert "cannot connect" in raised.value.detail
