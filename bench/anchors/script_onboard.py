#!/usr/bin/env python3
"""Onboard one tenant the straightforward way: one admin-API call per object.

The anchor of the onboarding benchmark. It does the job that
``playbooks/tenant_provision.yml`` does (tenant row and organization, realm,
client, four realm roles, first admin with its tenant_admin mapping, the
admin's profile row, the DNS record, status active). Each admin-API call gets a
fresh admin token through the password grant of ``admin-cli`` in the master
realm, and each database step opens a new connection. Usage:

    script_onboard.py TENANT_ID

Reads the lab's secrets from /var/lib/qa-lab/secrets; talks only to the lab's
Keycloak, PostgreSQL and moto on 127.0.0.1.
"""

from __future__ import annotations

import json
import secrets
import string
import sys
from pathlib import Path
from typing import Any

import boto3
import psycopg
import requests

KEYCLOAK_URL = "http://127.0.0.1:8080"
SECRETS_DIR = Path("/var/lib/qa-lab/secrets")
DB_HOST = "127.0.0.1"
DB_PORT = 5433
DB_NAME = "qa_platform"
ROUTE53_URL = "http://127.0.0.1:5000"
DOMAIN = "platform.test"
ROLES = ("tenant_admin", "manager", "agent", "viewer")
TIMEOUT_S = 60


def secret(name: str) -> str:
    return (SECRETS_DIR / name).read_text().strip()


def token() -> str:
    """Get a new admin token with the password grant of admin-cli."""
    response = requests.post(
        f"{KEYCLOAK_URL}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "password",
            "client_id": "admin-cli",
            "username": "platform-admin",
            "password": secret("keycloak_admin"),
        },
        timeout=TIMEOUT_S,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


def admin(method: str, path: str, body: Any = None) -> Any:
    """Call the admin API once with a fresh token; return the JSON body or None."""
    response = requests.request(
        method,
        f"{KEYCLOAK_URL}/admin/realms{path}",
        json=body,
        headers={"Authorization": f"Bearer {token()}"},
        timeout=TIMEOUT_S,
    )
    response.raise_for_status()
    return response.json() if response.content else None


def connect(user: str) -> psycopg.Connection[Any]:
    return psycopg.connect(
        host=DB_HOST, port=DB_PORT, dbname=DB_NAME, user=user, password=secret(user)
    )


def main() -> int:
    if len(sys.argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    tenant_id = sys.argv[1]
    host = f"{tenant_id}.qa.{DOMAIN}"
    email = f"admin@{tenant_id}.example"
    alphabet = string.ascii_letters + string.digits
    client_secret = "".join(secrets.choice(alphabet) for _ in range(32))
    password = "".join(secrets.choice(alphabet) for _ in range(20)) + "Aa1!"

    with connect("qa_provisioner") as conn:
        conn.execute(
            "INSERT INTO tenants (tenant_id, realm_name, subdomain, status,"
            " display_name, tier, max_users, max_calls_per_month, features, settings)"
            " VALUES (%s, %s, %s, 'pending', %s, 'professional', 100, 10000,"
            " %s::jsonb, '{}'::jsonb)",
            (tenant_id, tenant_id, tenant_id, f"Bench {tenant_id}", '["api_access"]'),
        )
        row = conn.execute(
            "INSERT INTO organizations (tenant_id, name, industry, size)"
            " VALUES (%s, %s, 'Technology', 'medium') RETURNING id",
            (tenant_id, f"Bench {tenant_id} Ltd."),
        ).fetchone()
        assert row is not None
        organization_id = row[0]

    admin(
        "POST",
        "",
        {
            "realm": tenant_id,
            "enabled": True,
            "displayName": f"Bench {tenant_id}",
            "attributes": {"tenantId": tenant_id},
        },
    )
    realm = f"/{tenant_id}"
    admin(
        "POST",
        f"{realm}/clients",
        {
            "clientId": f"{tenant_id}-backend",
            "enabled": True,
            "protocol": "openid-connect",
            "publicClient": False,
            "secret": client_secret,
            "serviceAccountsEnabled": True,
            "redirectUris": [f"https://{host}/*"],
            "webOrigins": [f"https://{host}"],
        },
    )
    for role in ROLES:
        admin("POST", f"{realm}/roles", {"name": role})
    admin(
        "POST",
        f"{realm}/users",
        {
            "username": email,
            "email": email,
            "enabled": True,
            "firstName": "Bench",
            "lastName": "Admin",
            "credentials": [{"type": "password", "value": password, "temporary": True}],
        },
    )
    user_id = admin("GET", f"{realm}/users?username={email}&exact=true")[0]["id"]
    role = admin("GET", f"{realm}/roles/tenant_admin")
    admin("POST", f"{realm}/users/{user_id}/role-mappings/realm", [role])

    with connect("qa_app") as conn:
        conn.execute("SELECT set_config('app.current_tenant', %s, true)", (tenant_id,))
        conn.execute(
            "INSERT INTO user_profiles (tenant_id, keycloak_user_id, organization_id,"
            " email, first_name, last_name, role)"
            " VALUES (%s, %s, %s, %s, 'Bench', 'Admin', 'tenant_admin')",
            (tenant_id, user_id, organization_id, email),
        )

    route53 = boto3.client("route53", endpoint_url=ROUTE53_URL, region_name="us-east-1")
    zones = route53.list_hosted_zones_by_name(DNSName=f"{DOMAIN}.")["HostedZones"]
    zone_id = next(z["Id"] for z in zones if z["Name"] == f"{DOMAIN}.")
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{host}.",
                        "Type": "CNAME",
                        "TTL": 300,
                        "ResourceRecords": [{"Value": f"qa.{DOMAIN}"}],
                    },
                }
            ]
        },
    )

    with connect("qa_provisioner") as conn:
        conn.execute(
            "UPDATE tenants SET status = 'active', activated_at = now()"
            " WHERE tenant_id = %s",
            (tenant_id,),
        )
    print(json.dumps({"tenant_id": tenant_id, "admin_user_id": user_id}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
