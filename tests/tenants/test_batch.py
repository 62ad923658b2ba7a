"""Batch onboarding: validation of the whole file first, a rollback per tenant."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.tenants.helpers import CREDENTIALS_DIR, Runner, new_tenant_id
from tests.tenants.test_lifecycle import (
    assert_no_trace,
    recap_changed,
    remove,
    tenant_status,
)

pytestmark = [pytest.mark.lab, pytest.mark.slow]


def tenant_entry(tenant_id: str, **fields: Any) -> dict[str, Any]:
    """Return one entry of a batch file."""
    return {
        "tenant_id": tenant_id,
        "realm_name": f"{tenant_id}-realm",
        "subdomain": tenant_id,
        "display_name": f"Batch tenant {tenant_id}",
        "admin_email": f"admin@{tenant_id}.example.com",
        **fields,
    }


def write_batch(directory: Path, entries: list[dict[str, Any]]) -> Path:
    path = directory / "batch.yml"
    path.write_text(yaml.safe_dump({"tenants": entries}))
    return path


@pytest.fixture
def batch_ids(runner: Runner) -> Iterator[list[str]]:
    """Return three fresh tenant ids, and remove whatever they left at the end."""
    ids = [new_tenant_id() for _ in range(3)]
    yield ids
    for tenant_id in ids:
        remove(runner, tenant_id, "-e", "keep_dump=false")


@pytest.fixture
def short_admin_tokens(keycloak_admin: Any) -> Iterator[None]:
    """Make the automation client's tokens expire after 2 s for one test."""
    clients = keycloak_admin.get_clients()
    client = next(c for c in clients if c["clientId"] == "qa-automation")
    attributes = dict(client.get("attributes") or {})
    original = attributes.get("access.token.lifespan")
    keycloak_admin.update_client(
        client["id"], {"attributes": {**attributes, "access.token.lifespan": "2"}}
    )
    try:
        yield
    finally:
        restored = dict(attributes)
        restored["access.token.lifespan"] = original or ""
        keycloak_admin.connection.get_token()
        keycloak_admin.update_client(client["id"], {"attributes": restored})


def test_batch_onboards_every_tenant(
    runner: Runner,
    tmp_path: Path,
    batch_ids: list[str],
    operator_db: Any,
    short_admin_tokens: None,
) -> None:
    # Each onboarding outlives the 2 s token, so the batch passes only if the
    # admin token is renewed on the way.
    path = write_batch(tmp_path, [tenant_entry(t) for t in batch_ids])
    result = runner.run("tenant_provision.yml", "-e", f"@{path}")
    assert result.returncode == 0, result.output[-4000:]
    for tenant_id in batch_ids:
        assert tenant_status(operator_db, tenant_id) == "active"
        assert (CREDENTIALS_DIR / f"{tenant_id}.json").is_file()
        assert f"{tenant_id}: onboarded" in result.text

    again = runner.run("tenant_provision.yml", "-e", f"@{path}")
    assert again.returncode == 0, again.output[-4000:]
    assert recap_changed(again.output) == 0


def test_batch_with_bad_entry_changes_nothing(
    runner: Runner,
    tmp_path: Path,
    batch_ids: list[str],
    operator_db: Any,
    keycloak_admin: Any,
    route53: Any,
) -> None:
    entries = [tenant_entry(t) for t in batch_ids]
    entries[1]["max_calls_per_month"] = -5
    result = runner.run(
        "tenant_provision.yml", "-e", f"@{write_batch(tmp_path, entries)}"
    )
    assert result.returncode != 0
    assert "max_calls_per_month" in result.text
    assert batch_ids[1] in result.text
    for tenant_id in batch_ids:
        assert_no_trace(tenant_id, operator_db, keycloak_admin, route53)


def test_batch_conflicting_with_tenant_changes_nothing(
    runner: Runner,
    tmp_path: Path,
    batch_ids: list[str],
    operator_db: Any,
    keycloak_admin: Any,
    route53: Any,
) -> None:
    holder, first, second = batch_ids
    onboarded = runner.run(
        "tenant_provision.yml",
        "-e",
        f"@{write_batch(tmp_path, [tenant_entry(holder)])}",
    )
    assert onboarded.returncode == 0, onboarded.output[-4000:]
    # The second entry takes the realm of a tenant that exists. Only the
    # tenant registry shows that, and the first entry is valid on its own.
    entries = [
        tenant_entry(first),
        tenant_entry(second, realm_name=f"{holder}-realm"),
    ]
    result = runner.run(
        "tenant_provision.yml", "-e", f"@{write_batch(tmp_path, entries)}"
    )
    assert result.returncode != 0
    assert "1 of 2 tenants conflict" in result.text
    assert f"is already held by the tenant '{holder}'" in result.text
    assert "nothing was changed" in result.text
    assert_no_trace(first, operator_db, keycloak_admin, route53)
    assert tenant_status(operator_db, second) is None
    assert tenant_status(operator_db, holder) == "active"


def test_batch_rolls_back_only_failed_tenant(
    runner: Runner,
    tmp_path: Path,
    batch_ids: list[str],
    operator_db: Any,
    keycloak_admin: Any,
) -> None:
    # A realm that no tenant owns takes the second tenant's realm name, so
    # that tenant fails at its realm step while the others go through.
    occupied = f"{batch_ids[1]}-realm"
    keycloak_admin.create_realm({"realm": occupied, "enabled": True})
    try:
        path = write_batch(tmp_path, [tenant_entry(t) for t in batch_ids])
        result = runner.run("tenant_provision.yml", "-e", f"@{path}")
        assert result.returncode != 0
        assert f"{batch_ids[1]}: FAILED at step realm" in result.text
        assert "1 of 3 tenants failed" in result.text
        assert tenant_status(operator_db, batch_ids[1]) is None
        assert not (CREDENTIALS_DIR / f"{batch_ids[1]}.json").exists()
        for tenant_id in (batch_ids[0], batch_ids[2]):
            assert tenant_status(operator_db, tenant_id) == "active"
        assert keycloak_admin.get_realm(occupied)["realm"] == occupied
    finally:
        keycloak_admin.connection.get_token()
        keycloak_admin.delete_realm(occupied)
