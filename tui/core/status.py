"""Status providers: which realms and DNS records exist, or "unknown".

Each provider has one blocking method that returns a set of names or raises
ServiceUnavailable, so the TUI can call it from a thread worker and show a
status marker when it fails. ``check_all`` queries all of them and reports
each service's state.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from tui.core.database import PlatformDatabase, ServiceUnavailable
from tui.core.tenants import TenantRow, reconcile

HTTP_TIMEOUT_S = 5
UP, DOWN, UNKNOWN = "up", "down", "unknown"


class NameProvider(Protocol):
    """Something that lists names (realms, DNS records) of one service."""

    service: str

    def names(self) -> set[str]:
        """Return the names, or raise ServiceUnavailable."""
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


class KeycloakRealms:
    """Realm names from Keycloak's admin API, signed in with the automation
    client (client credentials grant)."""

    service = "keycloak"

    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str | None,
        ca_file: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.client_secret = client_secret
        self.ca_file = ca_file

    def names(self) -> set[str]:
        # NOTE: listing every realm stalls Keycloak 26.5 for minutes at about
        # 100 realms on a 2-core host (docs/benchmarks.md), and the column
        # then shows Keycloak as unreachable.
        import requests

        if not self.client_secret:
            raise ServiceUnavailable(
                self.service,
                "no automation client secret in the inventory "
                "(platform_keycloak_automation_client_secret)",
            )
        verify: bool | str = self.ca_file or True
        try:
            token = requests.post(
                f"{self.base_url}/realms/master/protocol/openid-connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": self.client_id,
                    "client_secret": self.client_secret,
                },
                timeout=HTTP_TIMEOUT_S,
                verify=verify,
            )
            if token.status_code != 200:
                raise ServiceUnavailable(
                    self.service,
                    f"token request for client {self.client_id} failed with "
                    f"HTTP {token.status_code}",
                )
            response = requests.get(
                f"{self.base_url}/admin/realms",
                params={"briefRepresentation": "true"},
                headers={"Authorization": f"Bearer {token.json()['access_token']}"},
                timeout=HTTP_TIMEOUT_S,
                verify=verify,
            )
        except requests.RequestException as error:
            raise ServiceUnavailable(
                self.service, f"{self.base_url} unreachable: {type(error).__name__}"
            ) from error
        if response.status_code != 200:
            raise ServiceUnavailable(
                self.service, f"listing realms failed with HTTP {response.status_code}"
            )
        return {str(realm["realm"]) for realm in response.json()}


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

    def names(self) -> set[str]:
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
) -> Snapshot:
    """Read the tenant rows and every provider's names, then reconcile them.

    A provider that fails is reported down and its names count as unknown;
    a failing database raises ServiceUnavailable, because there are no rows.
    """
    services: dict[str, ServiceState] = {}
    rows = database.tenants()
    services[database.service] = ServiceState(database.service, UP)
    found: dict[str, set[str] | None] = {}
    for provider in providers:
        try:
            found[provider.service] = provider.names()
            services[provider.service] = ServiceState(provider.service, UP)
        except ServiceUnavailable as error:
            found[provider.service] = None
            services[provider.service] = ServiceState(
                provider.service, DOWN, error.detail
            )
    reconciled = reconcile(rows, found.get("keycloak"), found.get("dns"), record_name)
    return Snapshot(rows=reconciled, services=services, taken_at=time.time())
