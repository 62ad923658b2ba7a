"""Onboard, suspend, resume and remove tenants, with a journal and rollback.

Every operation runs in one process on the controller: one admin token, one
database connection per role, and the steps in the order the platform needs.
Each completed step is written to a journal file before the next step
starts, and mirrored to the ``provisioning_journal`` table when the database
is reachable. A failed run can so be undone, and a crashed or half-undone one
finished by a re-run.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import socket
import string
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

TENANT_TABLES = (
    "call_analyses",
    "transcriptions",
    "calls",
    "customers",
    "agents",
    "teams",
    "departments",
    "user_profiles",
    "organizations",
    "tenants",
)
ONBOARD_STEPS = ("database", "realm", "admin_profile", "dns", "smoke", "credentials")
SECRET_ALPHABET = string.ascii_letters + string.digits
# Keycloak's password policy of the realm template needs each character class.
PASSWORD_SYMBOLS = "!#%+-=?@^_"  # noqa: S105 - an alphabet, not a password


class LifecycleError(Exception):
    """A lifecycle step failed; ``step`` names it for the operator."""

    def __init__(self, step: str, message: str) -> None:
        super().__init__(f"step {step} failed: {message}")
        self.step = step
        self.reason = message


class TenantLocked(LifecycleError):
    """Error raised when another run holds the tenant's lock."""


@dataclass(frozen=True)
class DbSettings:
    """How to reach the platform database as one of its roles."""

    host: str
    port: int
    dbname: str
    user: str
    password: str = ""
    sslmode: str = "prefer"
    sslrootcert: str = ""
    connect_timeout: int = 5

    def connect(self) -> Any:
        """Open a psycopg connection; the password never enters a DSN string."""
        import psycopg

        options: dict[str, Any] = {
            "host": self.host,
            "port": self.port,
            "dbname": self.dbname,
            "user": self.user,
            "sslmode": self.sslmode,
            "connect_timeout": self.connect_timeout,
            "application_name": "qa-platform-ops",
        }
        if self.password:
            options["password"] = self.password
        if self.sslrootcert:
            options["sslrootcert"] = self.sslrootcert
        return psycopg.connect(**options)


@dataclass(frozen=True)
class KeycloakSettings:
    """How to reach Keycloak's admin API with the automation client."""

    url: str
    client_id: str
    client_secret: str
    verify: bool | str = True
    realm: str = "master"
    timeout: int = 30


@dataclass(frozen=True)
class DnsSettings:
    """Settings of tenant DNS records, <subdomain>.qa.<domain> CNAME qa.<domain>."""

    domain: str
    zone_id: str = ""
    endpoint_url: str = ""
    region: str = "us-east-1"
    ttl: int = 300
    wait_timeout: int = 300
    enabled: bool = True

    @property
    def target(self) -> str:
        """Return the name every tenant record points at."""
        return f"qa.{self.domain}"

    def record_name(self, subdomain: str) -> str:
        """Return a tenant record's fully qualified name."""
        return f"{subdomain}.qa.{self.domain}"


@dataclass
class Settings:
    """Everything an operation needs besides the tenant itself."""

    provisioner_db: DbSettings
    app_db: DbSettings
    keycloak: KeycloakSettings
    dns: DnsSettings
    credentials_dir: Path
    journal_dir: Path
    dumps_dir: Path
    holder: str = field(default_factory=lambda: f"{socket.gethostname()}:{os.getpid()}")
    lock_ttl_seconds: int = 3600
    smtp: Mapping[str, Any] | None = None
    # For tests: raise after this step completes, to prove the rollback, and
    # wait this many seconds before undoing, so a test can stop a service.
    fail_after_step: str = ""
    pause_before_undo: int = 0


def generate_secret(length: int = 32) -> str:
    """Return a random secret of letters and digits."""
    return "".join(secrets.choice(SECRET_ALPHABET) for _ in range(length))


def generate_password() -> str:
    """Return a temporary password that satisfies the realm's policy."""
    core = [secrets.choice(SECRET_ALPHABET) for _ in range(16)]
    core += [
        secrets.choice(string.ascii_uppercase),
        secrets.choice(string.ascii_lowercase),
        secrets.choice(string.digits),
        secrets.choice(PASSWORD_SYMBOLS),
    ]
    secrets.SystemRandom().shuffle(core)
    return "".join(core)


def now_iso() -> str:
    """Return the current UTC time in ISO 8601."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def write_private_file(path: Path, text: str) -> None:
    """Write a file only its owner can read, replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(text)
    os.replace(temporary, path)


class Journal:
    """The record of an operation's completed steps, one file per tenant.

    The file is the primary record, because it can be written even when the
    database is the service that is down. The database table mirrors it, so
    the TUI and other operators see it too.
    """

    def __init__(self, directory: Path, tenant_id: str, operation: str) -> None:
        self.path = directory / f"{tenant_id}.{operation}.json"
        self.tenant_id = tenant_id
        self.operation = operation
        self.steps: dict[str, dict[str, Any]] = {}
        if self.path.is_file():
            self.steps = json.loads(self.path.read_text()).get("steps", {})

    def state(self, step: str) -> str:
        """Return a step's recorded state, or "" when it never ran."""
        return str(self.steps.get(step, {}).get("state", ""))

    def details(self, step: str) -> dict[str, Any]:
        """Return what a step recorded about the resources it made."""
        recorded: dict[str, Any] = self.steps.get(step, {}).get("details", {})
        return recorded

    def record(
        self, step: str, state: str, details: Mapping[str, Any] | None = None
    ) -> None:
        """Record a step's state, keeping details from earlier records."""
        entry = self.steps.setdefault(step, {"details": {}})
        entry["state"] = state
        entry["at"] = now_iso()
        if details:
            entry["details"].update(details)
        document = {"tenant_id": self.tenant_id, "operation": self.operation}
        write_private_file(
            self.path, json.dumps({**document, "steps": self.steps}, indent=2)
        )

    def remaining(self) -> list[str]:
        """Return the steps whose resources may still exist."""
        return [
            step
            for step, entry in self.steps.items()
            if entry["state"] in {"done", "undo_failed", "started"}
        ]

    def discard(self) -> None:
        """Remove the journal file once nothing it records is left."""
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()


class Platform:
    """Connections to the services an operation touches, opened on first use."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._provisioner: Any = None
        self._keycloak: Any = None
        self._route53: Any = None
        self._zone_id = ""

    def close(self) -> None:
        """Close the database connection."""
        if self._provisioner is not None:
            with contextlib.suppress(Exception):
                self._provisioner.close()
            self._provisioner = None

    @property
    def db(self) -> Any:
        """Return the provisioner's connection (autocommit off)."""
        if self._provisioner is None or self._provisioner.closed:
            self._provisioner = self.settings.provisioner_db.connect()
        return self._provisioner

    @property
    def keycloak(self) -> Any:
        """Return a KeycloakAdmin that signs in with the automation client.

        python-keycloak gets a new token when one expires and retries a call
        once on 401, so a long batch keeps working past the token lifetime.
        """
        if self._keycloak is None:
            from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

            settings = self.settings.keycloak
            connection = KeycloakOpenIDConnection(
                server_url=settings.url,
                realm_name=settings.realm,
                user_realm_name=settings.realm,
                client_id=settings.client_id,
                client_secret_key=settings.client_secret,
                verify=settings.verify,
                timeout=settings.timeout,
            )
            self._keycloak = KeycloakAdmin(connection=connection)
        return self._keycloak

    @property
    def route53(self) -> Any:
        """Return a Route 53 client (the lab's points at moto)."""
        if self._route53 is None:
            import boto3

            dns = self.settings.dns
            options: dict[str, Any] = {"region_name": dns.region}
            if dns.endpoint_url:
                options["endpoint_url"] = dns.endpoint_url
            self._route53 = boto3.client("route53", **options)
        return self._route53

    def zone_id(self) -> str:
        """Return the hosted zone of the platform's domain."""
        if self._zone_id:
            return self._zone_id
        dns = self.settings.dns
        if dns.zone_id:
            self._zone_id = dns.zone_id
            return self._zone_id
        wanted = dns.domain.rstrip(".") + "."
        zones = self.route53.list_hosted_zones_by_name(DNSName=wanted)["HostedZones"]
        for zone in zones:
            if zone["Name"] == wanted and not zone.get("Config", {}).get("PrivateZone"):
                self._zone_id = zone["Id"].split("/")[-1]
                return self._zone_id
        raise LifecycleError(
            "dns", f"no public hosted zone named {wanted} found in Route 53"
        )

    # Keycloak helpers -------------------------------------------------------

    def realm(self, name: str) -> dict[str, Any] | None:
        """Return a realm's representation, or None when it does not exist."""
        from keycloak.exceptions import KeycloakGetError

        try:
            found: dict[str, Any] = self.keycloak.get_realm(name)
        except KeycloakGetError as error:
            if error.response_code == 404:
                return None
            raise
        return found

    def refresh_admin_token(self) -> None:
        """Get a new admin token, which carries the roles of realms made since.

        Keycloak gives the creator of a realm the roles that manage it, but
        only tokens issued after the creation contain them.
        """
        self.keycloak.connection.get_token()

    def use_realm(self, name: str) -> Any:
        """Return the admin client aimed at one realm's resources."""
        admin = self.keycloak
        admin.change_current_realm(name)
        return admin

    # DNS helpers -------------------------------------------------------------

    def dns_record(self, subdomain: str) -> dict[str, Any] | None:
        """Return the tenant's CNAME record set, or None."""
        name = self.settings.dns.record_name(subdomain) + "."
        answer = self.route53.list_resource_record_sets(
            HostedZoneId=self.zone_id(),
            StartRecordName=name,
            StartRecordType="CNAME",
            MaxItems="1",
        )
        for record in answer["ResourceRecordSets"]:
            # Route 53 escapes some characters, such as * as \052.
            if (
                record["Name"].replace("\\052", "*") == name
                and record["Type"] == "CNAME"
            ):
                found: dict[str, Any] = record
                return found
        return None

    def change_dns(self, action: str, record: Mapping[str, Any]) -> None:
        """Apply one record change and wait once until Route 53 has it."""
        change = self.route53.change_resource_record_sets(
            HostedZoneId=self.zone_id(),
            ChangeBatch={
                "Changes": [{"Action": action, "ResourceRecordSet": dict(record)}]
            },
        )
        change_id = change["ChangeInfo"]["Id"]
        waiter = self.route53.get_waiter("resource_record_sets_changed")
        delay = 5
        waiter.wait(
            Id=change_id,
            WaiterConfig={
                "Delay": delay,
                "MaxAttempts": max(1, self.settings.dns.wait_timeout // delay),
            },
        )


def tenant_record(dns: DnsSettings, subdomain: str) -> dict[str, Any]:
    """Return the record set of a tenant's subdomain."""
    return {
        "Name": dns.record_name(subdomain) + ".",
        "Type": "CNAME",
        "TTL": dns.ttl,
        "ResourceRecords": [{"Value": dns.target}],
    }


def holder_is_dead(holder: str) -> bool:
    """Return whether a lock holder ran on this host and its process has ended.

    A holder from another host is never presumed dead: only its expiry frees
    its lock.
    """
    host, _, pid = holder.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def _try_lock(platform: Platform, tenant_id: str, operation: str) -> Any:
    """Try to take the lock once; return None when taken, else the holder's row."""
    settings = platform.settings
    with platform.db.transaction():
        taken = platform.db.execute(
            "SELECT acquire_tenant_lock(%s, %s, %s, make_interval(secs => %s))",
            (tenant_id, settings.holder, operation, settings.lock_ttl_seconds),
        ).fetchone()[0]
        if taken:
            return None
        return platform.db.execute(
            "SELECT holder, operation, acquired_at FROM tenant_locks"
            " WHERE tenant_id = %s",
            (tenant_id,),
        ).fetchone()


@contextlib.contextmanager
def tenant_lock(platform: Platform, tenant_id: str, operation: str) -> Iterator[None]:
    """Hold the tenant's lock for the block, or fail at once if another run has it.

    A lock left by a killed run on this host is released at once instead of
    blocking the tenant until it expires.
    """
    settings = platform.settings
    try:
        holder = _try_lock(platform, tenant_id, operation)
        if holder is not None and holder_is_dead(holder[0]):
            with platform.db.transaction():
                platform.db.execute(
                    "SELECT release_tenant_lock(%s, %s)", (tenant_id, holder[0])
                )
            holder = _try_lock(platform, tenant_id, operation)
    except Exception as error:
        raise LifecycleError(
            "lock", f"cannot reach the database to lock tenant {tenant_id}: {error}"
        ) from error
    if holder is not None:
        raise TenantLocked(
            "lock",
            f"tenant {tenant_id} is locked by {holder[0]} ({holder[1]} since "
            f"{holder[2]:%Y-%m-%d %H:%M:%S %Z}); another run is changing it. "
            "Wait for that run to finish, then run this one again.",
        )
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            platform.db.rollback()
            with platform.db.transaction():
                platform.db.execute(
                    "SELECT release_tenant_lock(%s, %s)", (tenant_id, settings.holder)
                )


def mirror_journal(platform: Platform, journal: Journal) -> None:
    """Copy the journal file's entries into provisioning_journal, when reachable."""
    with contextlib.suppress(Exception):
        platform.db.rollback()
        with platform.db.transaction():
            for step, entry in journal.steps.items():
                platform.db.execute(
                    "INSERT INTO provisioning_journal"
                    " (tenant_id, operation, step, state, details, finished_at)"
                    " VALUES (%s, %s, %s, %s, %s::jsonb, now())"
                    " ON CONFLICT (tenant_id, operation, step) DO UPDATE"
                    " SET state = excluded.state, details = excluded.details,"
                    " finished_at = now()",
                    (
                        journal.tenant_id,
                        journal.operation,
                        step,
                        entry["state"],
                        json.dumps(entry.get("details", {})),
                    ),
                )


@dataclass
class Outcome:
    """Result of one operation for the module to return; it never contains a secret."""

    tenant_id: str
    changed: bool = False
    failed: bool = False
    failed_step: str = ""
    message: str = ""
    steps: dict[str, str] = field(default_factory=dict)
    credentials_file: str = ""
    cleanup_command: str = ""
    left_behind: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """Return the outcome as plain data."""
        return {
            "tenant_id": self.tenant_id,
            "changed": self.changed,
            "failed": self.failed,
            "failed_step": self.failed_step,
            "message": self.message,
            "steps": self.steps,
            "credentials_file": self.credentials_file,
            "cleanup_command": self.cleanup_command,
            "left_behind": self.left_behind,
        }


def cleanup_command(tenant_id: str) -> str:
    """Return the command that finishes removing a half-made tenant."""
    return (
        "ansible-playbook playbooks/tenant_remove.yml "
        f"-e tenant_id={tenant_id} -e confirm={tenant_id} -e keep_dump=false"
    )


def _db_spec() -> dict[str, Any]:
    return {
        "type": "dict",
        "required": True,
        "options": {
            "host": {"type": "str", "required": True},
            "port": {"type": "int", "default": 5432},
            "dbname": {"type": "str", "default": "qa_platform"},
            "user": {"type": "str", "required": True},
            "password": {"type": "str", "default": "", "no_log": True},
            "sslmode": {"type": "str", "default": "prefer"},
            "sslrootcert": {"type": "str", "default": ""},
        },
    }


def settings_argument_spec() -> dict[str, Any]:
    """Return the module options every tenant operation shares."""
    return {
        "provisioner_db": _db_spec(),
        "app_db": _db_spec(),
        "keycloak": {
            "type": "dict",
            "required": True,
            "options": {
                "url": {"type": "str", "required": True},
                "client_id": {"type": "str", "required": True},
                "client_secret": {"type": "str", "required": True, "no_log": True},
                "verify": {"type": "raw", "default": True},
                "timeout": {"type": "int", "default": 30},
            },
        },
        "dns": {
            "type": "dict",
            "required": True,
            "options": {
                "domain": {"type": "str", "required": True},
                "zone_id": {"type": "str", "default": ""},
                "endpoint_url": {"type": "str", "default": ""},
                "region": {"type": "str", "default": "us-east-1"},
                "ttl": {"type": "int", "default": 300},
                "wait_timeout": {"type": "int", "default": 300},
                "enabled": {"type": "bool", "default": True},
            },
        },
        "credentials_dir": {
            "type": "path",
            "default": "/var/lib/qa-platform/credentials",
        },
        "journal_dir": {"type": "path", "default": "/var/lib/qa-platform/journal"},
        "dumps_dir": {"type": "path", "default": "/var/lib/qa-platform/dumps"},
        "smtp": {"type": "dict", "default": None, "no_log": False},
        "fail_after_step": {"type": "str", "default": ""},
        "pause_before_undo": {"type": "int", "default": 0},
    }


def settings_from_params(params: Mapping[str, Any]) -> Settings:
    """Build Settings from a module's validated parameters."""

    def db(options: Mapping[str, Any]) -> DbSettings:
        return DbSettings(
            host=options["host"],
            port=options["port"],
            dbname=options["dbname"],
            user=options["user"],
            password=options["password"] or "",
            sslmode=options["sslmode"],
            sslrootcert=options["sslrootcert"] or "",
        )

    keycloak = params["keycloak"]
    verify = keycloak["verify"]
    if isinstance(verify, str) and verify.lower() in {"true", "false"}:
        verify = verify.lower() == "true"
    dns = params["dns"]
    return Settings(
        provisioner_db=db(params["provisioner_db"]),
        app_db=db(params["app_db"]),
        keycloak=KeycloakSettings(
            url=keycloak["url"].rstrip("/"),
            client_id=keycloak["client_id"],
            client_secret=keycloak["client_secret"],
            verify=verify,
            timeout=keycloak["timeout"],
        ),
        dns=DnsSettings(
            domain=dns["domain"],
            zone_id=dns["zone_id"] or "",
            endpoint_url=dns["endpoint_url"] or "",
            region=dns["region"],
            ttl=dns["ttl"],
            wait_timeout=dns["wait_timeout"],
            enabled=dns["enabled"],
        ),
        credentials_dir=Path(params["credentials_dir"]),
        journal_dir=Path(params["journal_dir"]),
        dumps_dir=Path(params["dumps_dir"]),
        smtp=params.get("smtp"),
        fail_after_step=params.get("fail_after_step") or "",
        pause_before_undo=params.get("pause_before_undo") or 0,
    )
