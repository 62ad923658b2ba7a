#!/usr/bin/python
"""Ansible module qa.platform.keycloak_admin_bootstrap."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: keycloak_admin_bootstrap
short_description: Replace Keycloak's bootstrap admin with a permanent administrator and an automation client
version_added: "0.1.0"
description:
  - Signs in to the master realm with the automation client, else with the
    permanent administrator, else with the bootstrap admin that a fresh
    server creates from C(KC_BOOTSTRAP_ADMIN_*) (same password as the
    permanent administrator).
  - Ensures the confidential automation client exists with a service account
    that holds the master realm role C(admin), and that its secret is
    O(automation_client_secret).
  - Ensures the permanent administrator exists, holds C(admin) and signs in
    with O(admin_password).
  - Deletes the bootstrap admin once the automation client and the permanent
    administrator both sign in.
  - Runs where Keycloak's plain HTTP port is reachable, normally the auth
    host's loopback. Needs only the Python standard library.
options:
  url:
    description: Base URL of Keycloak, such as V(http://127.0.0.1:8080).
    type: str
    required: true
  admin_username:
    description: Name of the permanent administrator in the master realm.
    type: str
    required: true
  admin_password:
    description: Password of the permanent administrator and of the bootstrap admin.
    type: str
    required: true
  bootstrap_admin_username:
    description: Name of the bootstrap admin, deleted once the others work.
    type: str
    required: true
  automation_client_id:
    description: Client ID of the automation client in the master realm.
    type: str
    required: true
  automation_client_secret:
    description: Secret of the automation client.
    type: str
    required: true
  timeout:
    description: Seconds to wait for each HTTP request.
    type: int
    default: 30
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - qa-platform-ops maintainers
"""

EXAMPLES = r"""
- name: Replace the bootstrap admin
  qa.platform.keycloak_admin_bootstrap:
    url: http://127.0.0.1:8080
    admin_username: platform-admin
    admin_password: "{{ platform_keycloak_admin_password }}"
    bootstrap_admin_username: temp-admin
    automation_client_id: qa-automation
    automation_client_secret: "{{ platform_keycloak_automation_client_secret }}"
"""

RETURN = r"""
signed_in_as:
  description: The account the module signed in with, without its secret.
  type: str
  returned: always
  sample: client qa-automation
actions:
  description: What the module changed, or would change in check mode.
  type: list
  elements: str
  returned: always
  sample: ["created client qa-automation", "deleted bootstrap admin temp-admin"]
"""

from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qa.platform.plugins.module_utils.keycloak_rest import (
    Credentials,
    KeycloakAdminClient,
    KeycloakError,
    request_token,
)

ADMIN_CLI = "admin-cli"
ADMIN_ROLE = "admin"


def sign_in(
    url: str, candidates: list[Credentials], timeout: int
) -> KeycloakAdminClient:
    """Return a client for the first candidate that signs in."""
    failures = []
    for credentials in candidates:
        try:
            return KeycloakAdminClient(url, credentials, timeout=timeout)
        except KeycloakError as error:
            if error.status == 0:
                raise
            failures.append(str(error))
    raise KeycloakError(
        "no account could sign in to the master realm: "
        + "; ".join(failures)
        + ". Check that the vault's Keycloak secrets are the ones this server was set up with."
    )


def signs_in(url: str, credentials: Credentials, timeout: float) -> bool:
    """Return whether the credentials obtain a token."""
    try:
        request_token(url, credentials, timeout=timeout)
    except KeycloakError as error:
        if error.status == 0:
            raise
        return False
    return True


def find_one(admin: KeycloakAdminClient, path: str, query: dict[str, str]) -> Any:
    """Return the first match of a search, or None."""
    matches = admin.call("GET", path, query=query)
    return matches[0] if matches else None


def ensure_admin_role(
    admin: KeycloakAdminClient, user_id: str, check: bool, actions: list[str], who: str
) -> None:
    """Give a master-realm user the realm role admin."""
    mapped = admin.call("GET", f"/master/users/{user_id}/role-mappings/realm")
    if any(role["name"] == ADMIN_ROLE for role in mapped):
        return
    actions.append(f"granted realm role {ADMIN_ROLE} to {who}")
    if check:
        return
    # Role mappings need the full representation (id and name); a create
    # payload's role list would be ignored.
    role = admin.call("GET", f"/master/roles/{ADMIN_ROLE}")
    admin.call("POST", f"/master/users/{user_id}/role-mappings/realm", body=[role])


# The admin role in master includes the roles that manage every realm, so a
# full access token grows by about 490 bytes per realm and passes nginx's
# 8 KB header limit at some 14 realms. A lightweight token carries no roles;
# Keycloak checks the service account's roles on the server instead.
AUTOMATION_CLIENT_ATTRIBUTES = {"client.use.lightweight.access.token.enabled": "true"}


def ensure_automation_client(
    admin: KeycloakAdminClient, params: dict[str, Any], check: bool, actions: list[str]
) -> None:
    """Create or correct the automation client and its service account's role."""
    client_id = params["automation_client_id"]
    expected = {
        "clientId": client_id,
        "name": "Platform automation",
        "description": "Service account the qa-platform playbooks use for the admin API.",
        "enabled": True,
        "protocol": "openid-connect",
        "publicClient": False,
        "clientAuthenticatorType": "client-secret",
        "serviceAccountsEnabled": True,
        "standardFlowEnabled": False,
        "implicitFlowEnabled": False,
        "directAccessGrantsEnabled": False,
    }
    client = find_one(admin, "/master/clients", {"clientId": client_id})
    if client is None:
        actions.append(f"created client {client_id}")
        if check:
            return
        admin.call(
            "POST",
            "/master/clients",
            body={
                **expected,
                "attributes": dict(AUTOMATION_CLIENT_ATTRIBUTES),
                "secret": params["automation_client_secret"],
            },
        )
        client = find_one(admin, "/master/clients", {"clientId": client_id})
    else:
        drift = sorted(
            key for key, value in expected.items() if client.get(key) != value
        )
        attributes = dict(client.get("attributes") or {})
        if any(
            attributes.get(key) != value
            for key, value in AUTOMATION_CLIENT_ATTRIBUTES.items()
        ):
            drift.append("attributes")
        secret = admin.call("GET", f"/master/clients/{client['id']}/client-secret")
        if secret.get("value") != params["automation_client_secret"]:
            drift.append("secret")
        if drift:
            actions.append(f"updated client {client_id}: {', '.join(drift)}")
            if not check:
                body = {
                    **client,
                    **expected,
                    "attributes": {**attributes, **AUTOMATION_CLIENT_ATTRIBUTES},
                    "secret": params["automation_client_secret"],
                }
                admin.call("PUT", f"/master/clients/{client['id']}", body=body)
    if check and client is None:
        return
    account = admin.call("GET", f"/master/clients/{client['id']}/service-account-user")
    ensure_admin_role(admin, account["id"], check, actions, f"client {client_id}")


def ensure_administrator(
    admin: KeycloakAdminClient, params: dict[str, Any], check: bool, actions: list[str]
) -> None:
    """Create or correct the permanent administrator."""
    username = params["admin_username"]
    password = params["admin_password"]
    user = find_one(admin, "/master/users", {"username": username, "exact": "true"})
    if user is None:
        actions.append(f"created administrator {username}")
        if check:
            return
        admin.call(
            "POST",
            "/master/users",
            body={
                "username": username,
                "enabled": True,
                "credentials": [
                    {"type": "password", "value": password, "temporary": False}
                ],
            },
        )
        user = find_one(admin, "/master/users", {"username": username, "exact": "true"})
    else:
        if not user.get("enabled", False):
            actions.append(f"enabled administrator {username}")
            if not check:
                admin.call("PUT", f"/master/users/{user['id']}", body={"enabled": True})
        credentials = Credentials(ADMIN_CLI, password, username)
        if not signs_in(admin.base_url, credentials, admin.timeout):
            actions.append(f"reset the password of administrator {username}")
            if not check:
                admin.call(
                    "PUT",
                    f"/master/users/{user['id']}/reset-password",
                    body={"type": "password", "value": password, "temporary": False},
                )
    ensure_admin_role(admin, user["id"], check, actions, f"administrator {username}")


def remove_bootstrap_admin(
    admin: KeycloakAdminClient, params: dict[str, Any], check: bool, actions: list[str]
) -> None:
    """Delete the bootstrap admin once the permanent accounts sign in."""
    username = params["bootstrap_admin_username"]
    user = find_one(admin, "/master/users", {"username": username, "exact": "true"})
    if user is None:
        return
    actions.append(f"deleted bootstrap admin {username}")
    if check:
        return
    automation = Credentials(
        params["automation_client_id"], params["automation_client_secret"]
    )
    administrator = Credentials(
        ADMIN_CLI, params["admin_password"], params["admin_username"]
    )
    for credentials in (automation, administrator):
        if not signs_in(admin.base_url, credentials, admin.timeout):
            raise KeycloakError(
                f"{credentials.describe()} cannot sign in after setup, so the "
                f"bootstrap admin {username} was kept"
            )
    admin.call("DELETE", f"/master/users/{user['id']}")


def run(module: AnsibleModule) -> dict[str, Any]:
    """Bring the master realm's admin accounts to the intended state."""
    params = module.params
    url = params["url"].rstrip("/")
    candidates = [
        Credentials(params["automation_client_id"], params["automation_client_secret"]),
        Credentials(ADMIN_CLI, params["admin_password"], params["admin_username"]),
        Credentials(
            ADMIN_CLI, params["admin_password"], params["bootstrap_admin_username"]
        ),
    ]
    admin = sign_in(url, candidates, params["timeout"])
    actions: list[str] = []
    ensure_automation_client(admin, params, module.check_mode, actions)
    ensure_administrator(admin, params, module.check_mode, actions)
    remove_bootstrap_admin(admin, params, module.check_mode, actions)
    return {
        "changed": bool(actions),
        "actions": actions,
        "signed_in_as": admin.credentials.describe(),
    }


def main() -> None:
    """Run the module."""
    module = AnsibleModule(
        argument_spec={
            "url": {"type": "str", "required": True},
            "admin_username": {"type": "str", "required": True},
            "admin_password": {"type": "str", "required": True, "no_log": True},
            "bootstrap_admin_username": {"type": "str", "required": True},
            "automation_client_id": {"type": "str", "required": True},
            "automation_client_secret": {
                "type": "str",
                "required": True,
                "no_log": True,
            },
            "timeout": {"type": "int", "default": 30},
        },
        supports_check_mode=True,
    )
    try:
        result = run(module)
    except KeycloakError as error:
        module.fail_json(msg=str(error))
    module.exit_json(**result)


if __name__ == "__main__":
    main()
