"""Tenant lifecycle on the lab: onboard, re-run, roll back, lock, suspend, remove."""

from __future__ import annotations

import gzip
import re
import socket
import stat
import subprocess
import threading
from pathlib import Path
from typing import Any

import psycopg
import pytest
import requests

from tests.tenants.helpers import (
    CREDENTIALS_DIR,
    Runner,
    credentials,
    lab_connection,
    new_tenant_id,
    write_tenant,
)

pytestmark = [pytest.mark.lab, pytest.mark.slow]

ONBOARD_STEPS = ("database", "realm", "admin_profile", "dns", "smoke", "credentials")


def recap_changed(output: str) -> int:
    """Return the changed count of the controller's play recap line."""
    match = re.search(r"^localhost\s*:.*changed=(\d+)", output, re.MULTILINE)
    assert match, f"no play recap in:\n{output[-2000:]}"
    return int(match[1])


def tenant_status(db: psycopg.Connection[Any], tenant_id: str) -> str | None:
    row = db.execute(
        "SELECT status FROM tenants WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def tenant_tier(db: psycopg.Connection[Any], tenant_id: str) -> str | None:
    row = db.execute(
        "SELECT tier FROM tenants WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    return None if row is None else str(row[0])


def realm_exists(admin: Any, realm: str) -> bool:
    from keycloak.exceptions import KeycloakGetError

    try:
        admin.get_realm(realm)
    except KeycloakGetError as error:
        if error.response_code == 404:
            return False
        raise
    return True


def dns_names(route53: Any) -> set[str]:
    zones = route53.list_hosted_zones_by_name(DNSName="platform.test.")["HostedZones"]
    zone = next(z for z in zones if z["Name"] == "platform.test.")
    records = route53.list_resource_record_sets(HostedZoneId=zone["Id"])
    return {r["Name"] for r in records["ResourceRecordSets"]}


def provision(runner: Runner, path: Path, *extra: str) -> Any:
    return runner.run("tenant_provision.yml", "-e", f"@{path}", *extra)


def remove(runner: Runner, tenant_id: str, *extra: str) -> Any:
    return runner.run(
        "tenant_remove.yml",
        "-e",
        f"tenant_id={tenant_id}",
        "-e",
        f"confirm={tenant_id}",
        *extra,
    )


def assert_no_trace(
    tenant_id: str, db: psycopg.Connection[Any], keycloak_admin: Any, route53: Any
) -> None:
    assert tenant_status(db, tenant_id) is None
    assert not realm_exists(keycloak_admin, f"{tenant_id}-realm")
    assert f"{tenant_id}.qa.platform.test." not in dns_names(route53)
    assert not (CREDENTIALS_DIR / f"{tenant_id}.json").exists()


def login_requires_password_change(issuer: str, username: str, password: str) -> bool:
    """Sign in through the realm's account console and report the forced update.

    The flow goes through nginx like a browser's; TLS is checked by the auth
    host's own tests, so this one does not verify pebble's certificate.
    """
    session = requests.Session()
    page = session.get(
        f"{issuer}/protocol/openid-connect/auth",
        params={
            "client_id": "account-console",
            "response_type": "code",
            "scope": "openid",
            "redirect_uri": f"{issuer}/account/",
            "code_challenge": "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "code_challenge_method": "S256",
        },
        timeout=30,
        verify=False,
    )
    action = re.search(r'action="([^"]+)"', page.text)
    assert action, page.text[:500]
    answer = session.post(
        action[1].replace("&amp;", "&"),
        data={"username": username, "password": password},
        timeout=30,
        verify=False,
    )
    return "UPDATE_PASSWORD" in answer.text or "update-password" in answer.text.lower()


def test_onboard_tenant_end_to_end(
    runner: Runner, tmp_path: Path, operator_db: Any, keycloak_admin: Any, route53: Any
) -> None:
    tenant_id = new_tenant_id()
    result = provision(runner, write_tenant(tmp_path, tenant_id))
    assert result.returncode == 0, result.output[-4000:]

    assert tenant_status(operator_db, tenant_id) == "active"
    realm = keycloak_admin.get_realm(f"{tenant_id}-realm")
    assert realm["attributes"]["tenantId"] == tenant_id
    assert f"{tenant_id}.qa.platform.test." in dns_names(route53)

    path = CREDENTIALS_DIR / f"{tenant_id}.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    handed_over = credentials(tenant_id)
    assert handed_over["realm"] == f"{tenant_id}-realm"
    assert handed_over["client_id"] == f"{tenant_id}-backend"
    assert (
        handed_over["issuer"] == f"https://auth.platform.test/realms/{tenant_id}-realm"
    )
    assert login_requires_password_change(
        handed_over["issuer"],
        handed_over["admin_username"],
        handed_over["admin_temporary_password"],
    )
    for output in runner.outputs:
        assert handed_over["admin_temporary_password"] not in output
        assert handed_over["client_secret"] not in output

    again = provision(runner, write_tenant(tmp_path, tenant_id))
    assert again.returncode == 0, again.output[-4000:]
    assert recap_changed(again.output) == 0
    assert credentials(tenant_id) == handed_over

    assert remove(runner, tenant_id, "-e", "keep_dump=false").returncode == 0
    assert_no_trace(tenant_id, operator_db, keycloak_admin, route53)


@pytest.mark.parametrize("step", ONBOARD_STEPS)
def test_fault_at_step_rolls_back(
    step: str,
    runner: Runner,
    tmp_path: Path,
    operator_db: Any,
    keycloak_admin: Any,
    route53: Any,
) -> None:
    tenant_id = new_tenant_id()
    result = provision(
        runner,
        write_tenant(tmp_path, tenant_id),
        "-e",
        f"tenant_fail_after_step={step}",
    )
    assert result.returncode != 0
    assert f"FAILED at step {step}" in result.text
    assert "rolled back" in result.text
    assert_no_trace(tenant_id, operator_db, keycloak_admin, route53)


def test_parallel_runs_make_one_tenant(
    runner: Runner, tmp_path: Path, operator_db: Any, keycloak_admin: Any, route53: Any
) -> None:
    tenant_id = new_tenant_id()
    path = write_tenant(tmp_path, tenant_id)
    results: list[Any] = []
    threads = [
        threading.Thread(target=lambda: results.append(provision(runner, path)))
        for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert any(result.returncode == 0 for result in results)
    for result in results:
        if result.returncode != 0:
            assert f"tenant {tenant_id} is locked" in result.text
    count = operator_db.execute(
        "SELECT count(*) FROM tenants WHERE tenant_id = %s", (tenant_id,)
    ).fetchone()
    assert count == (1,)
    assert realm_exists(keycloak_admin, f"{tenant_id}-realm")
    assert remove(runner, tenant_id, "-e", "keep_dump=false").returncode == 0


def test_suspend_and_resume(
    runner: Runner, tmp_path: Path, operator_db: Any, keycloak_admin: Any
) -> None:
    tenant_id = new_tenant_id()
    assert provision(runner, write_tenant(tmp_path, tenant_id)).returncode == 0
    realm = f"{tenant_id}-realm"
    try:
        suspended = runner.run("tenant_suspend.yml", "-e", f"tenant_id={tenant_id}")
        assert suspended.returncode == 0, suspended.output[-3000:]
        assert tenant_status(operator_db, tenant_id) == "suspended"
        assert keycloak_admin.get_realm(realm)["enabled"] is False

        again = runner.run("tenant_suspend.yml", "-e", f"tenant_id={tenant_id}")
        assert recap_changed(again.output) == 0

        resumed = runner.run("tenant_resume.yml", "-e", f"tenant_id={tenant_id}")
        assert resumed.returncode == 0, resumed.output[-3000:]
        assert tenant_status(operator_db, tenant_id) == "active"
        assert keycloak_admin.get_realm(realm)["enabled"] is True
    finally:
        remove(runner, tenant_id, "-e", "keep_dump=false")


def test_remove_keeps_dump(
    runner: Runner, tmp_path: Path, operator_db: Any, keycloak_admin: Any, route53: Any
) -> None:
    tenant_id = new_tenant_id()
    assert provision(runner, write_tenant(tmp_path, tenant_id)).returncode == 0

    unconfirmed = runner.run(
        "tenant_remove.yml", "-e", f"tenant_id={tenant_id}", "-e", "confirm=other"
    )
    assert unconfirmed.returncode != 0
    assert f"confirm with -e confirm={tenant_id}" in unconfirmed.text
    assert tenant_status(operator_db, tenant_id) == "active"

    # Ansible's bool filter would read this as false and skip the dump.
    unclear = remove(runner, tenant_id, "-e", "keep_dump=maybe")
    assert unclear.returncode != 0
    assert "keep_dump" in unclear.text
    assert "'maybe' is not a valid boolean" in unclear.text
    assert tenant_status(operator_db, tenant_id) == "active"

    removed = remove(runner, tenant_id)
    assert removed.returncode == 0, removed.output[-3000:]
    assert "dns removed, realm removed, database removed" in removed.text
    assert_no_trace(tenant_id, operator_db, keycloak_admin, route53)
    again = remove(runner, tenant_id)
    assert again.returncode == 0, again.output[-3000:]
    assert f"{tenant_id}: nothing found to remove" in again.text
    dumps = sorted(Path("/var/lib/qa-platform/dumps").glob(f"{tenant_id}-*"))
    assert len(dumps) == 1
    tenants_dump = dumps[0] / "tenants.copy.gz"
    assert stat.S_IMODE(tenants_dump.stat().st_mode) == 0o600
    with gzip.open(tenants_dump, "rt") as handle:
        assert tenant_id in handle.read()


def test_remove_rejects_default_tenant(runner: Runner, operator_db: Any) -> None:
    result = remove(runner, "default")
    assert result.returncode != 0
    assert "tenant_id: invalid value 'default' (rule reserved)" in result.text
    assert tenant_status(operator_db, "default") == "active"


def test_subdomain_change_rejected(
    runner: Runner, tmp_path: Path, operator_db: Any, route53: Any
) -> None:
    tenant_id = new_tenant_id()
    try:
        assert provision(runner, write_tenant(tmp_path, tenant_id)).returncode == 0
        moved = f"{tenant_id}-moved"
        result = provision(runner, write_tenant(tmp_path, tenant_id, subdomain=moved))
        assert result.returncode != 0
        assert f"subdomain: invalid value '{moved}' (rule immutable)" in result.text
        names = dns_names(route53)
        assert f"{moved}.qa.platform.test." not in names
        assert f"{tenant_id}.qa.platform.test." in names
        assert tenant_status(operator_db, tenant_id) == "active"
    finally:
        remove(runner, tenant_id, "-e", "keep_dump=false")


def test_check_mode_reports_changed_settings(
    runner: Runner, tmp_path: Path, operator_db: Any
) -> None:
    tenant_id = new_tenant_id()
    try:
        assert provision(runner, write_tenant(tmp_path, tenant_id)).returncode == 0
        changed = write_tenant(tmp_path, tenant_id, tier="enterprise")
        preview = provision(runner, changed, "--check")
        assert preview.returncode == 0, preview.output[-3000:]
        assert f"{tenant_id}: would change database" in preview.text
        assert tenant_tier(operator_db, tenant_id) == "starter"
        updated = provision(runner, changed)
        assert updated.returncode == 0, updated.output[-3000:]
        assert f"{tenant_id}: already onboarded, updated database" in updated.text
        assert tenant_tier(operator_db, tenant_id) == "enterprise"
    finally:
        remove(runner, tenant_id, "-e", "keep_dump=false")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"tier": "gold"}, "tier"),
        ({"subdomain": "www"}, "subdomain"),
        ({"realm_name": "master"}, "realm_name"),
        ({"max_users": 0}, "max_users"),
        ({"admin_email": "not-an-email"}, "admin_email"),
        ({"color": "blue"}, "color"),
    ],
)
def test_malformed_file_changes_nothing(
    fields: dict[str, Any],
    field: str,
    runner: Runner,
    tmp_path: Path,
    operator_db: Any,
    keycloak_admin: Any,
    route53: Any,
) -> None:
    tenant_id = new_tenant_id()
    result = provision(runner, write_tenant(tmp_path, tenant_id, **fields))
    assert result.returncode != 0
    assert field in result.text
    assert_no_trace(tenant_id, operator_db, keycloak_admin, route53)


def test_lock_of_killed_run_is_released(
    runner: Runner, tmp_path: Path, operator_db: Any
) -> None:
    tenant_id = new_tenant_id()
    # A PID of a process that has ended, on this host, stands for a run that
    # was killed while it held the lock.
    finished = subprocess.Popen(["true"])
    finished.wait()
    stale_holder = f"{socket.gethostname()}:{finished.pid}"
    with lab_connection("qa_provisioner") as provisioner:
        taken = provisioner.execute(
            "SELECT acquire_tenant_lock(%s, %s, 'onboard')", (tenant_id, stale_holder)
        ).fetchone()
    assert taken == (True,)
    try:
        result = provision(runner, write_tenant(tmp_path, tenant_id))
        assert result.returncode == 0, result.output[-3000:]
        assert tenant_status(operator_db, tenant_id) == "active"
    finally:
        remove(runner, tenant_id, "-e", "keep_dump=false")
