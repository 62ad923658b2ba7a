"""Shared helpers of the benchmark suite: the lab's settings, timing, cleanup.

Every address here is on loopback: the lab's PostgreSQL, Keycloak and moto.
"""

from __future__ import annotations

import atexit
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "collections"))
sys.path.insert(0, str(PROJECT_ROOT))

from ansible_collections.qa.platform.plugins.module_utils.tenant_lifecycle import (  # noqa: E402
    DbSettings,
    DnsSettings,
    KeycloakSettings,
    Platform,
    Settings,
)

SECRETS_DIR = Path("/var/lib/qa-lab/secrets")
KEYCLOAK_URL = "http://127.0.0.1:8080"
DB_HOST = "127.0.0.1"
DB_PORT = 5433
DB_NAME = "qa_platform"
# Keycloak's own database on the same cluster (keycloak_db_name in
# roles/keycloak/defaults), read through the local socket as user postgres.
KEYCLOAK_DB_NAME = "keycloak"
KEYCLOAK_DB_SOCKET_DIR = "/var/run/postgresql"
ROUTE53_URL = "http://127.0.0.1:5000"
DOMAIN = "platform.test"
BIN_DIR = Path(sys.executable).parent
# The lab's dummy AWS credentials for moto, as inventories/local sets them.
AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
}
# Every tenant and realm the suite makes starts with one of these prefixes, so
# the clean-up finds them all and touches nothing else.
TENANT_PREFIX = "bench-"
FILL_PREFIX = "bench-fill-"
# Upper bound of any single command the suite starts.
COMMAND_TIMEOUT_S = 900
PLAYBOOK_CREDENTIALS_DIR = Path("/var/lib/qa-platform/credentials")
PLAYBOOK_JOURNAL_DIR = Path("/var/lib/qa-platform/journal")
# Age in seconds at which an admin token is replaced: half the 60 s access
# token lifespan of Keycloak's master realm, which the lab keeps as default.
ADMIN_TOKEN_MAX_AGE_S = 30


def scratch_dir(prefix: str) -> Path:
    """Return a new temporary folder that is removed when the suite exits."""
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return Path(path)


def secret(name: str) -> str:
    """Return a lab secret from its file, without the trailing newline."""
    return (SECRETS_DIR / name).read_text().strip()


def environment() -> dict[str, str]:
    """Return the environment for Ansible and the anchors: venv first, lab AWS."""
    env = dict(os.environ)
    env.update(AWS_ENVIRONMENT)
    env["PATH"] = f"{BIN_DIR}{os.pathsep}{env.get('PATH', '')}"
    env["ANSIBLE_CONFIG"] = str(PROJECT_ROOT / "ansible.cfg")
    env["ANSIBLE_NOCOLOR"] = "1"
    return env


def engine_settings(work_dir: Path) -> Settings:
    """Return the onboarding engine's settings for the lab, as the playbooks set."""
    os.environ.update(AWS_ENVIRONMENT)

    def database(user: str) -> DbSettings:
        return DbSettings(DB_HOST, DB_PORT, DB_NAME, user, secret(user))

    return Settings(
        provisioner_db=database("qa_provisioner"),
        app_db=database("qa_app"),
        keycloak=KeycloakSettings(
            url=KEYCLOAK_URL,
            client_id="qa-automation",
            client_secret=secret("keycloak_automation_client"),
        ),
        dns=DnsSettings(domain=DOMAIN, endpoint_url=ROUTE53_URL),
        credentials_dir=work_dir / "credentials",
        journal_dir=work_dir / "journal",
        dumps_dir=work_dir / "dumps",
    )


def tenant_spec(tenant_id: str) -> dict[str, Any]:
    """Return a tenant file's fields for a benchmark tenant."""
    return {
        "tenant_id": tenant_id,
        "realm_name": tenant_id,
        "subdomain": tenant_id,
        "display_name": f"Bench {tenant_id}",
        "company_name": f"Bench {tenant_id} Ltd.",
        "industry": "Technology",
        "company_size": "medium",
        "tier": "professional",
        "max_users": 100,
        "max_calls_per_month": 10000,
        "allow_registration": False,
        "admin_email": f"admin@{tenant_id}.example",
        "admin_first_name": "Bench",
        "admin_last_name": "Admin",
        "features": ["api_access"],
        "settings": {},
    }


def validated(tenant: dict[str, Any]) -> dict[str, Any]:
    """Return a tenant after the playbook's own validation and defaults."""
    from ansible_collections.qa.platform.plugins.module_utils import (
        tenant_spec as spec,
    )

    return dict(spec.validate_tenant(dict(tenant)))


@dataclass
class Timed:
    """A command's wall time from start to exit, its exit code and output tail."""

    seconds: float
    rc: int
    tail: str
    stdout: str


def run_command(command: Sequence[str], *, timeout: float = COMMAND_TIMEOUT_S) -> Timed:
    """Run a command from the project root and time it from start to exit."""
    start = time.perf_counter()
    completed = subprocess.run(
        list(command),
        cwd=PROJECT_ROOT,
        env=environment(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    seconds = time.perf_counter() - start
    tail = "\n".join((completed.stdout + completed.stderr).splitlines()[-15:])
    return Timed(seconds, completed.returncode, tail, completed.stdout)


def require_ok(result: Timed, what: str) -> Timed:
    """Raise when a timed command failed, with its output's last lines."""
    if result.rc != 0:
        raise RuntimeError(f"{what} failed with rc {result.rc}:\n{result.tail}")
    return result


def median(samples: Sequence[float]) -> float:
    return float(statistics.median(samples))


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


@contextmanager
def platform(settings: Settings) -> Iterator[Platform]:
    instance = Platform(settings)
    try:
        yield instance
    finally:
        instance.close()


def admin_token() -> str:
    """Return an admin token of the automation client (for setup and clean-up)."""
    import requests

    response = requests.post(
        f"{KEYCLOAK_URL}/realms/master/protocol/openid-connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "qa-automation",
            "client_secret": secret("keycloak_automation_client"),
        },
        timeout=30,
    )
    response.raise_for_status()
    return str(response.json()["access_token"])


class AdminToken:
    """An admin token of the automation client, replaced before it expires."""

    def __init__(self) -> None:
        self._value = admin_token()
        self._issued = time.monotonic()

    def get(self) -> str:
        """Return the token, first fetching a new one if it is too old."""
        if time.monotonic() - self._issued > ADMIN_TOKEN_MAX_AGE_S:
            self._value, self._issued = admin_token(), time.monotonic()
        return self._value


def realm_names() -> list[str]:
    """Return the names of all realms, read from Keycloak's database.

    The suite does not use GET /admin/realms. In Keycloak 26.5 the first list
    after a realm is created takes about 1 s per realm present, and more as
    realms grow. Near 100 realms it passes Keycloak's 120 s transaction timeout
    and holds up other requests while it runs. The connection is read-only.
    """
    import psycopg

    with psycopg.connect(
        host=KEYCLOAK_DB_SOCKET_DIR,
        port=DB_PORT,
        user="postgres",
        dbname=KEYCLOAK_DB_NAME,
        options="-c default_transaction_read_only=on",
    ) as connection:
        rows = connection.execute("SELECT name FROM realm ORDER BY name").fetchall()
    return [str(row[0]) for row in rows]


def delete_realm(token: str, name: str) -> None:
    import requests

    response = requests.delete(
        f"{KEYCLOAK_URL}/admin/realms/{name}",
        headers={"Authorization": f"Bearer {token}"},
        timeout=120,
    )
    if response.status_code not in (204, 404):
        response.raise_for_status()


def bench_tenants(settings: Settings) -> list[str]:
    """Return the ids of the tenant rows the suite made."""
    with platform(settings) as instance, instance.db.transaction():
        rows = instance.db.execute(
            "SELECT tenant_id FROM tenants WHERE tenant_id LIKE %s ORDER BY 1",
            (TENANT_PREFIX + "%",),
        ).fetchall()
    return [str(row[0]) for row in rows]


def bench_dns_records(settings: Settings) -> list[dict[str, Any]]:
    """Return the CNAME record sets of the suite's tenants in the lab's zone."""
    with platform(settings) as instance:
        route53 = instance.route53
        zone_id = instance.zone_id()
        found: list[dict[str, Any]] = []
        paginator = route53.get_paginator("list_resource_record_sets")
        for page in paginator.paginate(HostedZoneId=zone_id):
            for record in page["ResourceRecordSets"]:
                if record["Type"] == "CNAME" and record["Name"].startswith(
                    TENANT_PREFIX
                ):
                    found.append(record)
        return found


def clean_up(settings: Settings) -> dict[str, int]:
    """Remove every tenant, realm and DNS record the suite made; count them.

    Tenants go through the engine's removal (realm, DNS record, rows,
    credentials). Filler realms and whatever a failed run left behind are
    deleted directly, and only names with the suite's prefix are touched.
    """
    from ansible_collections.qa.platform.plugins.module_utils.tenant_operations import (
        remove_tenant,
    )

    counts = {"tenants": 0, "realms": 0, "dns_records": 0}
    # Each part runs even when an earlier one failed, so that a database
    # outage does not leave filler realms behind.
    try:
        for tenant_id in bench_tenants(settings):
            with platform(settings) as instance:
                outcome = remove_tenant(instance, tenant_id, keep_dump=False)
            if outcome.failed:
                log(f"removal of {tenant_id} failed: {outcome.message}")
            else:
                counts["tenants"] += 1
    except Exception as error:
        log(f"clean-up of tenant rows failed: {error}; run the suite again to retry")
    try:
        token = AdminToken()
        for name in realm_names():
            if name.startswith(TENANT_PREFIX):
                delete_realm(token.get(), name)
                counts["realms"] += 1
    except Exception as error:
        log(f"clean-up of realms failed: {error}; run the suite again to retry")
    try:
        records = bench_dns_records(settings)
        if records:
            with platform(settings) as instance:
                instance.route53.change_resource_record_sets(
                    HostedZoneId=instance.zone_id(),
                    ChangeBatch={
                        "Changes": [
                            {"Action": "DELETE", "ResourceRecordSet": record}
                            for record in records
                        ]
                    },
                )
            counts["dns_records"] = len(records)
    except Exception as error:
        log(f"clean-up of DNS records failed: {error}; run the suite again to retry")
    # Credentials and journal files that onboarding through the playbook wrote.
    for folder in (PLAYBOOK_CREDENTIALS_DIR, PLAYBOOK_JOURNAL_DIR):
        for path in folder.glob(TENANT_PREFIX + "*.json"):
            path.unlink()
    return counts
