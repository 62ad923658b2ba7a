"""The automation client's admin token stays small however many realms exist."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
import requests

pytestmark = pytest.mark.lab

SECRET_FILE = Path("/var/lib/qa-lab/secrets/keycloak_automation_client")
MASTER_REALM_URL = "http://127.0.0.1:8080/realms/master"


def automation_token() -> str:
    answer = requests.post(
        f"{MASTER_REALM_URL}/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "qa-automation",
            "client_secret": SECRET_FILE.read_text().strip(),
        },
        timeout=30,
    )
    answer.raise_for_status()
    token: str = answer.json()["access_token"]
    return token


def claims_of(token: str) -> dict[str, Any]:
    payload = token.split(".")[1]
    padded = payload + "=" * (-len(payload) % 4)
    data: dict[str, Any] = json.loads(base64.urlsafe_b64decode(padded))
    return data


def test_automation_token_carries_no_roles() -> None:
    # A full token lists the management roles of every realm and grows past
    # nginx's 8 KB header limit after a few dozen realms.
    claims = claims_of(automation_token())
    assert "resource_access" not in claims
    assert "realm_access" not in claims


def test_lightweight_token_reaches_admin_api() -> None:
    token = automation_token()
    answer = requests.get(
        "http://127.0.0.1:8080/admin/realms",
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
    )
    assert answer.status_code == 200
    assert "master" in {realm["realm"] for realm in answer.json()}
