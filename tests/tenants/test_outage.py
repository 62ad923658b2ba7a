"""Rollback when a service goes down mid-onboarding: journal, cleanup, re-run."""

from __future__ import annotations

import json
import re
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tenants.helpers import (
    Runner,
    lab_connection,
    new_tenant_id,
    write_tenant,
)
from tests.tenants.test_lifecycle import assert_no_trace, provision, realm_exists

pytestmark = [pytest.mark.lab, pytest.mark.slow]

JOURNAL_DIR = Path("/var/lib/qa-platform/journal")


def wait_for(check: Callable[[], bool], timeout: float, what: str) -> None:
    """Poll check() until it is true, or fail naming what was awaited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.5)
    pytest.fail(f"timed out after {timeout} s waiting for {what}")


def step_done(tenant_id: str, step: str) -> bool:
    path = JOURNAL_DIR / f"{tenant_id}.onboard.json"
    try:
        steps = json.loads(path.read_text())["steps"]
    except (FileNotFoundError, json.JSONDecodeError, KeyError):
        return False
    return bool(steps.get(step, {}).get("state") == "done")


def stop_keycloak() -> None:
    subprocess.run(["docker", "stop", "qa-keycloak"], check=True, timeout=120)


def start_keycloak() -> None:
    subprocess.run(["docker", "start", "qa-keycloak"], check=True, timeout=120)
    wait_for(keycloak_admin_ready, 240, "Keycloak to answer again")


def stop_database() -> None:
    subprocess.run(["pg_ctlcluster", "15", "qalab", "stop"], check=True, timeout=120)


def keycloak_admin_ready() -> bool:
    """Return whether an admin API call that reads Keycloak's database works."""
    secret = Path("/var/lib/qa-lab/secrets/keycloak_automation_client").read_text()
    try:
        token = requests.post(
            "http://127.0.0.1:8080/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "qa-automation",
                "client_secret": secret.strip(),
            },
            timeout=5,
        )
        if token.status_code != 200:
            return False
        realms = requests.get(
            "http://127.0.0.1:8080/admin/realms/master/users?max=1",
            headers={"Authorization": f"Bearer {token.json()['access_token']}"},
            timeout=5,
        )
    except requests.RequestException:
        return False
    return realms.status_code == 200


def start_database() -> None:
    subprocess.run(["pg_ctlcluster", "15", "qalab", "start"], check=True, timeout=120)
    # Keycloak's connection pool drops its broken connections on their next
    # use; until then its requests fail with 500.
    wait_for(keycloak_admin_ready, 120, "Keycloak to reach its database again")


@pytest.mark.parametrize(
    ("service", "stop", "start"),
    [
        ("keycloak", stop_keycloak, start_keycloak),
        ("database", stop_database, start_database),
    ],
)
def test_outage_during_rollback_leaves_cleanup_command(
    service: str,
    stop: Callable[[], None],
    start: Callable[[], None],
    runner: Runner,
    tmp_path: Path,
    keycloak_admin: Any,
    route53: Any,
) -> None:
    tenant_id = new_tenant_id()
    results: list[Any] = []
    run = threading.Thread(
        target=lambda: results.append(
            provision(
                runner,
                write_tenant(tmp_path, tenant_id),
                "-e",
                "tenant_fail_after_step=smoke",
                "-e",
                "tenant_pause_before_undo=15",
            )
        )
    )
    run.start()
    try:
        wait_for(lambda: step_done(tenant_id, "smoke"), 120, "the smoke step")
        stop()
        run.join(timeout=300)
    finally:
        start()
    assert results, "the onboarding run did not finish"
    result = results[0]
    assert result.returncode != 0
    # The output folds long lines, so its text is searched with the
    # whitespace collapsed.
    flat = " ".join(result.output.split())
    assert "rollback could not remove everything" in flat
    command = re.search(
        r"run: ansible-playbook playbooks/tenant_remove\.yml"
        r"((?: -e [a-z_]+=[A-Za-z0-9-]+)+)",
        flat,
    )
    assert command, result.output[-3000:]
    journal = json.loads((JOURNAL_DIR / f"{tenant_id}.onboard.json").read_text())
    assert "undo_failed" in {entry["state"] for entry in journal["steps"].values()}
    if service == "keycloak":
        assert realm_exists(keycloak_admin, f"{tenant_id}-realm")

    arguments = command[1].split()
    cleanup = runner.run("tenant_remove.yml", *arguments)
    assert cleanup.returncode == 0, cleanup.output[-3000:]
    # A connection opened before the outage would be broken, so open one now.
    with lab_connection("qa_operator") as operator_db:
        assert_no_trace(tenant_id, operator_db, keycloak_admin, route53)
    assert not (JOURNAL_DIR / f"{tenant_id}.onboard.json").exists()
