"""The auth host on the lab: Keycloak behind nginx with a pebble certificate."""

from __future__ import annotations

import json
import re
import socket
import ssl
import time
from pathlib import Path
from typing import Any

import pytest
import requests
from cryptography import x509
from keycloak import (
    KeycloakAdmin,
    KeycloakAuthenticationError,
    KeycloakOpenID,
    KeycloakOpenIDConnection,
)

pytestmark = pytest.mark.lab


def served_certificate(host: str) -> x509.Certificate:
    """Return the certificate nginx serves for ``host`` on 127.0.0.1:443."""
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    with (
        socket.create_connection(("127.0.0.1", 443), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=host) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


@pytest.mark.parametrize("realm", ["master", "template"])
def test_issuer_is_https_auth_host(
    realm: str, auth_url: str, pebble_root: Path, request: pytest.FixtureRequest
) -> None:
    name = request.getfixturevalue("template_realm") if realm == "template" else realm
    response = requests.get(
        f"{auth_url}/realms/{name}/.well-known/openid-configuration",
        verify=str(pebble_root),
        timeout=30,
    )
    assert response.status_code == 200
    issuer = response.json()["issuer"]
    assert issuer.startswith(f"{auth_url}/")
    assert issuer == f"{auth_url}/realms/{name}"


def test_template_realm_settings(
    keycloak_admin: KeycloakAdmin, template_realm: str
) -> None:
    realm = keycloak_admin.get_realm(template_realm)
    assert realm["bruteForceProtected"] is True
    assert "frontendUrl" not in realm.get("attributes", {})
    assert realm["attributes"]["tenantId"] == "authcheck"
    events = keycloak_admin.connection.raw_get(
        f"admin/realms/{template_realm}/events/config"
    ).json()
    assert events["eventsEnabled"] is True
    assert events["adminEventsEnabled"] is True


def test_certificate_issued_by_pebble(
    lab: dict[str, Any], auth_url: str, pebble_root: Path
) -> None:
    certificate = served_certificate(f"auth.{lab['domain']}")
    issuer = certificate.issuer.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    assert str(issuer[0].value).startswith("Pebble Intermediate CA")
    names = certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert names == [f"auth.{lab['domain']}"]
    # The chain nginx sends must lead to pebble's root.
    response = requests.get(f"{auth_url}/", verify=str(pebble_root), timeout=30)
    assert response.status_code in (200, 302)


def test_http_redirects_to_https(lab: dict[str, Any]) -> None:
    response = requests.get(
        f"http://auth.{lab['domain']}/admin/", allow_redirects=False, timeout=30
    )
    assert response.status_code == 301
    assert response.headers["Location"] == f"https://auth.{lab['domain']}/admin/"


def test_admin_console_loads_over_https(auth_url: str, pebble_root: Path) -> None:
    page = requests.get(
        f"{auth_url}/admin/master/console/", verify=str(pebble_root), timeout=30
    )
    assert page.status_code == 200
    assert "http://" not in page.text
    environment = re.search(
        r'<script id="environment" type="application/json">(.*?)</script>',
        page.text,
        re.DOTALL,
    )
    assert environment is not None
    settings = json.loads(environment.group(1))
    for key in ("serverBaseUrl", "authUrl", "authServerUrl", "adminBaseUrl"):
        assert settings[key] == auth_url, key
    resources = re.findall(r'(?:src|href)="(/resources/[^"]+)"', page.text)
    assert resources
    for resource in resources:
        response = requests.get(
            f"{auth_url}{resource}", verify=str(pebble_root), timeout=30
        )
        assert response.status_code == 200, resource


def test_automation_client_gets_admin_token(
    auth_url: str, pebble_root: Path, automation_secret: str
) -> None:
    openid = KeycloakOpenID(
        server_url=auth_url,
        realm_name="master",
        client_id="qa-automation",
        client_secret_key=automation_secret,
        verify=str(pebble_root),
    )
    token = openid.token(grant_type="client_credentials")
    claims = openid.decode_token(token["access_token"])
    assert claims["azp"] == "qa-automation"
    assert claims["iss"] == f"{auth_url}/realms/master"
    # The token is a lightweight one: the admin role is checked by Keycloak,
    # so it is read from the service account instead of the token.
    admin = KeycloakAdmin(
        connection=KeycloakOpenIDConnection(
            server_url=auth_url,
            realm_name="master",
            client_id="qa-automation",
            client_secret_key=automation_secret,
            verify=str(pebble_root),
        )
    )
    client = next(c for c in admin.get_clients() if c["clientId"] == "qa-automation")
    account = admin.get_client_service_account_user(client["id"])
    roles = {role["name"] for role in admin.get_realm_roles_of_user(account["id"])}
    assert "admin" in roles


def test_automation_client_calls_admin_api(keycloak_admin: KeycloakAdmin) -> None:
    realms = {realm["realm"] for realm in keycloak_admin.get_realms()}
    assert "master" in realms


def test_bootstrap_admin_is_gone(
    keycloak_admin: KeycloakAdmin, auth_url: str, pebble_root: Path, admin_password: str
) -> None:
    users = {user["username"] for user in keycloak_admin.get_users({})}
    assert "temp-admin" not in users
    assert "platform-admin" in users
    openid = KeycloakOpenID(
        server_url=auth_url,
        realm_name="master",
        client_id="admin-cli",
        verify=str(pebble_root),
    )
    with pytest.raises(KeycloakAuthenticationError):
        openid.token("temp-admin", admin_password)
    assert openid.token("platform-admin", admin_password)["access_token"]


def test_single_renewal_mechanism(auth_exec: Any) -> None:
    timer = auth_exec("systemctl", "is-enabled", "certbot.timer")
    assert timer.stdout.strip() == "enabled"
    active = auth_exec("systemctl", "is-active", "certbot.timer")
    assert active.stdout.strip() == "active"
    cron = auth_exec("test", "-e", "/etc/cron.d/certbot")
    assert cron.returncode == 1


def certbot_env(auth_exec: Any) -> dict[str, str]:
    """Return the environment the renewal service runs certbot with."""
    shown = auth_exec("systemctl", "show", "certbot.service", "--property=Environment")
    env = {}
    for item in shown.stdout.strip().removeprefix("Environment=").split():
        name, _, value = item.partition("=")
        env[name] = value
    return env


# certbot 2.1 points --dry-run at Let's Encrypt's staging directory unless
# --server names the ACME server again. Without a terminal, renew sleeps up to
# eight minutes first unless --no-random-sleep-on-renew is given.
def test_renew_dry_run_succeeds(lab: dict[str, Any], auth_exec: Any) -> None:
    result = auth_exec(
        "certbot",
        "renew",
        "--dry-run",
        "--no-random-sleep-on-renew",
        "--server",
        lab["pebble"]["directory"],
        env=certbot_env(auth_exec),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "simulated renewals succeeded" in result.stdout + result.stderr


def test_renewal_deploy_hook_reloads_nginx(lab: dict[str, Any], auth_exec: Any) -> None:
    host = f"auth.{lab['domain']}"
    before = served_certificate(host).serial_number
    result = auth_exec(
        "certbot",
        "renew",
        "--force-renewal",
        "--no-random-sleep-on-renew",
        "--cert-name",
        host,
        env=certbot_env(auth_exec),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # nginx reloads in the background: old workers serve the old certificate
    # until the new ones take over, so wait a bounded time for the change.
    deadline = time.monotonic() + 30
    after = served_certificate(host)
    while after.serial_number == before and time.monotonic() < deadline:
        time.sleep(0.5)
        after = served_certificate(host)
    assert after.serial_number != before
    live = auth_exec("cat", f"/etc/letsencrypt/live/{host}/cert.pem")
    saved = x509.load_pem_x509_certificate(live.stdout.encode())
    assert after.serial_number == saved.serial_number
