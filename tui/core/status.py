"""Status providers: which realms and DNS records exist, or "unknown".

Each provider has one blocking method that returns a set of names or raises
ServiceUnavailable, so the TUI can call it from a thread worker and show a
status marker when it fails. ``check_all`` queries all of them and reports
each service's state.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import quote

from tui.core.database import PlatformDatabase, ServiceUnavailable
from tui.core.tenants import TenantRow, reconcile

HTTP_TIMEOUT_S = 5
# How long a realm lookup is cached, and how much of one refresh may go to
# reading cached lookups again.
REALM_MAX_AGE_S = 60.0
REALM_RECHECK_BUDGET_S = 1.0
UP, DOWN, UNKNOWN = "up", "down", "unknown"


class NameProvider(Protocol):
    """Something that reports which names (realms, DNS records) exist in one
    service."""

    service: str

    def names(self, expected: Collection[str]) -> set[str]:
        """Return the names of ``expected`` that exist, plus any other names
        the service can list cheaply, or raise ServiceUnavailable."""
        ...


@dataclass(frozen=True)
class ServiceState:
    """One service's state after a refresh: up, down or unknown."""

    service: str
    state: str
    detail: str = ""


@dataclass(frozen=True)
class Snapshot:
    """The result of one refresh: tenant rows and every service's state."""

    rows: list[TenantRow]
    services: dict[str, ServiceState]
    taken_at: float
    # True for the rows sent before the other services have replied.
    partial: bool = False
    # When the tenant rows were read, to drop a refresh that finishes late.
    rows_read_at: float = 0.0


class KeycloakRealms:
    """Provider of the tenant realms that exist, read one by one from each
    realm's public endpoint (``GET /realms/<name>``: 200 for an enabled or
    disabled realm, 404 for none). Every refresh also gets a token for the
    automation client (client credentials grant), which shows that Keycloak
    and the client work.

    Keycloak 26's realm list (``GET /admin/realms``) is not used. Right
    after any realm changes it takes about a second per realm present, and
    more as realms accumulate. From about 100 realms it passes Keycloak's
    120 s transaction timeout and blocks the admin API meanwhile. Admin reads
    of one realm are not used either: with 300 realms the first one after a
    realm change took about 20 s, while the public endpoint took 0.02 s
    (docs/benchmarks.md). The price is that a realm no tenant row names is
    not seen.

    Lookups are cached for ``max_age_s``. A name requested for the first
    time, or dropped with ``forget``, is always read, so the first refresh
    reads every tenant's realm. Older lookups are read again, oldest first,
    for at most ``recheck_budget_s`` a call (at least one a call), so
    re-reading them adds about that much to a refresh.
    """

    service = "keycloak"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | None,
        ca_file: str | None = None,
        max_age_s: float = REALM_MAX_AGE_S,
        recheck_budget_s: float = REALM_RECHECK_BUDGET_S,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.ca_file = ca_file
        self.max_age_s = max_age_s
        self.recheck_budget_s = recheck_budget_s
        # realm name -> (exists, time.monotonic() of the read)
        self._known: dict[str, tuple[bool, float]] = {}

    def forget(self, names: Collection[str] | None = None) -> None:
        """Drop cached lookups (all of them when ``names`` is None), so the
        next call reads them again."""
        if names is None:
            self._known.clear()
        for name in names or ():
            self._known.pop(name, None)

    def names(self, expected: Collection[str]) -> set[str]:
        import requests

        if not self.client_secret:
            raise ServiceUnavailable(
                self.service,
                "no automation client secret in the inventory "
                "(platform_keycloak_automation_client_secret)",
            )
        # ``forget`` runs on the UI thread, so work from a copy.
        known = dict(self._known)
        for name in known.keys() - set(expected):
            self._known.pop(name, None)
        now = time.monotonic()
        unread = [name for name in expected if name not in known]
        stale = sorted(
            (name for name in expected if name in known),
            key=lambda name: known[name][1],
        )
        stale = [name for name in stale if now - known[name][1] >= self.max_age_s]
        # The token request runs even when every lookup is fresh, because it
        # is how an outage shows up.
        try:
            with requests.Session() as session:
                session.verify = self.ca_file or True
                self._read(session, unread, stale)
        except requests.RequestException as error:
            self._known.clear()
            raise ServiceUnavailable(
                self.service,
                f"{self.base_url} unreachable: {type(error).__name__}",
            ) from error
        except ServiceUnavailable:
            self._known.clear()
            raise
        return {name for name in expected if self._known.get(name, (False, 0.0))[0]}

    def _read(self, session: Any, unread: list[str], stale: list[str]) -> None:
        self._token(session)
        started = time.monotonic()
        for index, name in enumerate(unread + stale):
            # At least one old lookup is read again per call, so every name
            # gets its turn whatever the budget.
            elapsed = time.monotonic() - started
            if index > len(unread) and elapsed > self.recheck_budget_s:
                return
            response = session.get(
                f"{self.base_url}/realms/{quote(name, safe='')}",
                timeout=HTTP_TIMEOUT_S,
            )
            if response.status_code not in (200, 404):
                raise ServiceUnavailable(
                    self.service,
                    f"reading realm {name} failed with HTTP {response.status_code}",
                )
            self._known[name] = (response.status_code == 200, time.monotonic())

    def _token(self, session: Any) -> str:
        response = session.post(
            f"{self.base_url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": self.client_id,
                "client_secret": self.client_secret,
            },
            timeout=HTTP_TIMEOUT_S,
        )
        if response.status_code != 200:
            raise ServiceUnavailable(
                self.service,
                f"token request for client {self.client_id} failed with "
                f"HTTP {response.status_code}",
            )
        return str(response.json()["access_token"])


class Route53Records:
    """Tenant DNS names (``<label>.qa.<domain>``) in the domain's hosted zone."""

    service = "dns"

    def __init__(
        self, domain: str, endpoint_url: str | None, lab_credentials: bool = False
    ) -> None:
        self.domain = domain.rstrip(".")
        self.endpoint_url = endpoint_url
        self.lab_credentials = lab_credentials

    def _client(self) -> Any:
        import boto3
        from botocore.config import Config

        kwargs: dict[str, Any] = {
            "endpoint_url": self.endpoint_url,
            "config": Config(
                connect_timeout=HTTP_TIMEOUT_S,
                read_timeout=HTTP_TIMEOUT_S,
                retries={"max_attempts": 1},
            ),
        }
        if self.lab_credentials:
            # moto accepts any key; these never reach AWS.
            kwargs.update(aws_access_key_id="lab", aws_secret_access_key="lab")  # noqa: S106
        return boto3.client("route53", region_name="us-east-1", **kwargs)

    def names(self, expected: Collection[str]) -> set[str]:
        """Return every tenant record in the zone: one listing is cheap, and
        it shows records that no tenant row claims."""
        from botocore.exceptions import BotoCoreError, ClientError

        suffix = f".qa.{self.domain}"
        names: set[str] = set()
        try:
            client = self._client()
            zones = client.list_hosted_zones_by_name(DNSName=self.domain)
            zone_id = next(
                (
                    zone["Id"]
                    for zone in zones.get("HostedZones", [])
                    if zone["Name"].rstrip(".") == self.domain
                ),
                None,
            )
            if zone_id is None:
                raise ServiceUnavailable(
                    self.service, f"no hosted zone for {self.domain}"
                )
            paginator = client.get_paginator("list_resource_record_sets")
            for page in paginator.paginate(HostedZoneId=zone_id):
                for record in page.get("ResourceRecordSets", []):
                    name = record["Name"].rstrip(".").replace("\\052", "*")
                    label = name[: -len(suffix)] if name.endswith(suffix) else ""
                    if label and "." not in label and label != "*":
                        names.add(name)
        except (BotoCoreError, ClientError) as error:
            raise ServiceUnavailable(
                self.service, f"Route 53 unreachable: {type(error).__name__}"
            ) from error
        return names


def lab_ca_bundle(lab_ca: Path, pebble_roots_url: str, bundle: Path) -> Path:
    """Write the lab CA and pebble's current root into ``bundle``.

    Pebble makes a new root at every start, so the root is fetched (trusting
    the lab CA for pebble's own API) rather than kept.
    """
    import requests

    response = requests.get(
        pebble_roots_url, timeout=HTTP_TIMEOUT_S, verify=str(lab_ca)
    )
    response.raise_for_status()
    bundle.parent.mkdir(parents=True, exist_ok=True)
    bundle.write_text(lab_ca.read_text().rstrip() + "\n" + response.text.strip() + "\n")
    return bundle


def check_all(
    database: PlatformDatabase,
    providers: list[NameProvider],
    record_name: Any,
    on_rows: Callable[[Snapshot], None] | None = None,
) -> Snapshot:
    """Read the tenant rows and every provider's names, then reconcile them.

    ``on_rows``, when given, gets the rows as soon as they are read, with
    realms and DNS records unknown, so a first screen need not wait for the
    other services. A provider that fails is reported down and its names
    count as unknown; a failing database raises ServiceUnavailable, because
    there are no rows.
    """
    services: dict[str, ServiceState] = {}
    rows = database.tenants()
    rows_read_at = time.monotonic()
    services[database.service] = ServiceState(database.service, UP)
    if on_rows is not None:
        on_rows(
            Snapshot(
                rows=reconcile(rows, None, None, record_name),
                services=dict(services),
                taken_at=time.time(),
                partial=True,
                rows_read_at=rows_read_at,
            )
        )
    expected = {
        "keycloak": {row.realm_name for row in rows},
        "dns": {record_name(row.subdomain) for row in rows if row.subdomain},
    }
    found: dict[str, set[str] | None] = {}
    for provider in providers:
        try:
            found[provider.service] = provider.names(
                expected.get(provider.service, set())
            )
            services[provider.service] = ServiceState(provider.service, UP)
        except ServiceUnavailable as error:
            found[provider.service] = None
            services[provider.service] = ServiceState(
                provider.service, DOWN, error.detail
            )
    reconciled = reconcile(rows, found.get("keycloak"), found.get("dns"), record_name)
    return Snapshot(
        rows=reconciled,
        services=services,
        taken_at=time.time(),
        rows_read_at=rows_read_at,
    )
