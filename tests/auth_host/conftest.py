"""Fixtures for the auth host tests: run after `ansible-playbook site.yml`.

They reach the lab's auth host the way a browser and automation do, through
nginx on https://auth.<lab domain>, and trust only pebble's current root.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from keycloak import KeycloakAdmin

SECRETS_DIR = Path("/var/lib/qa-lab/secrets")
AUTOMATION_CLIENT_ID = "qa-automation"


@pytest.fixture(scope="session")
def auth_url(lab: dict[str, Any]) -> str:
    """Return the public URL of the auth host."""
    return f"https://auth.{lab['domain']}"


@pytest.fixture(scope="session")
def pebble_root(lab: dict[str, Any], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Save pebble's current issuing root to a file and return its path."""
    management = lab["pebble"]["management"]
    response = requests.get(
        f"{management}/roots/0", verify=lab["pebble"]["ca_certificate"], timeout=10
    )
    response.raise_for_status()
    path = tmp_path_factory.mktemp("pebble") / "root.pem"
    path.write_text(response.text)
    return path


@pytest.fixture(scope="session")
def automation_secret() -> str:
    """Return the automation client's secret from the lab's secrets folder."""
    return (SECRETS_DIR / "keycloak_automation_client").read_text().split()[0]


@pytest.fixture(scope="session")
def admin_password() -> str:
    """Return the permanent administrator's password from the lab's secrets."""
    return (SECRETS_DIR / "keycloak_admin").read_text().split()[0]


@pytest.fixture(scope="session")
def keycloak_admin(
    auth_url: str, pebble_root: Path, automation_secret: str
) -> KeycloakAdmin:
    """Return an admin API client signed in as the automation client."""
    return KeycloakAdmin(
        server_url=auth_url,
        realm_name="master",
        client_id=AUTOMATION_CLIENT_ID,
        client_secret_key=automation_secret,
        verify=str(pebble_root),
    )


@pytest.fixture(scope="session")
def auth_exec(lab: dict[str, Any]) -> Any:
    """Return a function that runs a command in the auth host container."""

    def run(
        *argv: str, env: dict[str, str] | None = None, timeout: int = 300
    ) -> subprocess.CompletedProcess[str]:
        options = [f"--env={name}={value}" for name, value in (env or {}).items()]
        return subprocess.run(
            ["docker", "exec", *options, lab["auth_container"], *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    return run


@pytest.fixture(scope="module")
def template_realm(keycloak_admin: KeycloakAdmin, lab: dict[str, Any]) -> Iterator[str]:
    """Create a realm from the tenant realm template and delete it afterwards."""
    from ansible_collections.qa.platform.plugins.module_utils.tenant_realm import (
        build_realm,
    )

    tenant = {
        "tenant_id": "authcheck",
        "realm_name": "authcheck",
        "subdomain": "authcheck",
        "display_name": "Auth host check",
        "admin_email": "admin@authcheck.example.com",
        "allow_registration": False,
    }
    realm = build_realm(
        tenant,
        domain=lab["domain"],
        client_secret="authcheck-client-secret-for-tests",  # noqa: S106
        admin_password="Authcheck-Temp-Pass-1!",  # noqa: S106
    )
    if "authcheck" in {r["realm"] for r in keycloak_admin.get_realms()}:
        keycloak_admin.delete_realm("authcheck")
    keycloak_admin.create_realm(realm)
    # The token in hand predates the realm, so it lacks the admin roles of the
    # realm's new management client: sign in again before managing it.
    keycloak_admin.connection.get_token()
    yield "authcheck"
    keycloak_admin.connection.get_token()
    keycloak_admin.delete_realm("authcheck")
