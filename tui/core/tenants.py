"""Tenant rows as the list shows them, and where the three records disagree.

A tenant lives in three places: its database row, its Keycloak realm and,
when it has a subdomain, its DNS record. ``None`` for a realm or record
means its service could not be asked.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

ORPHAN_STATUS = "orphan"


@dataclass(frozen=True)
class TenantRow:
    """One line of the tenant list."""

    tenant_id: str
    display_name: str
    status: str
    tier: str
    realm_name: str
    subdomain: str | None
    user_count: int | None
    max_users: int | None
    calls_this_month: int | None
    max_calls_per_month: int | None
    has_db_row: bool = True
    realm_exists: bool | None = None
    dns_exists: bool | None = None
    orphan_of: str = ""

    @property
    def missing(self) -> list[str]:
        """The records this tenant should have and lacks."""
        missing: list[str] = []
        if not self.has_db_row:
            missing.append("database row")
        if self.has_db_row and self.realm_exists is False:
            missing.append(f"realm {self.realm_name}")
        if self.has_db_row and self.subdomain and self.dns_exists is False:
            missing.append("DNS record")
        return missing

    @property
    def consistent(self) -> bool:
        return not self.missing


@dataclass(frozen=True)
class TenantDetail:
    """Everything the detail screen shows about one tenant."""

    row: TenantRow
    company_name: str | None = None
    industry: str | None = None
    company_size: str | None = None
    features: list[str] = field(default_factory=list)
    settings: dict[str, Any] = field(default_factory=dict)
    max_storage_gb: int | None = None
    created_at: str = ""
    suspended_at: str = ""
    usage: dict[str, Any] = field(default_factory=dict)
    operations: list[dict[str, Any]] = field(default_factory=list)
    admin_username: str | None = None


def row_from_record(record: dict[str, Any]) -> TenantRow:
    """Build a TenantRow from a TENANT_LIST record."""
    return TenantRow(
        tenant_id=str(record["tenant_id"]),
        display_name=str(record["display_name"]),
        status=str(record["status"]),
        tier=str(record["tier"]),
        realm_name=str(record["realm_name"]),
        subdomain=record["subdomain"],
        user_count=_int(record.get("user_count")),
        max_users=_int(record.get("max_users")),
        calls_this_month=_int(record.get("calls_this_month")),
        max_calls_per_month=_int(record.get("max_calls_per_month")),
    )


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int) else None


def reconcile(
    rows: list[TenantRow],
    realms: set[str] | None,
    dns_names: set[str] | None,
    record_name: Any,
) -> list[TenantRow]:
    """Mark each row's realm and DNS record as present, missing or unknown,
    and add a row for each realm or record that no tenant row claims.

    Rows for unclaimed names have ids ``realm:<name>`` and ``dns:<label>``,
    which no tenant id can take. ``record_name(subdomain)`` returns a
    tenant's DNS name. ``realms`` and
    ``dns_names`` are None when their service could not be asked.
    """
    result: list[TenantRow] = []
    claimed_realms: set[str] = {"master"}
    claimed_names: set[str] = set()
    for row in rows:
        realm_exists = None if realms is None else row.realm_name in realms
        dns_exists: bool | None = None
        if row.subdomain and dns_names is not None:
            dns_exists = record_name(row.subdomain) in dns_names
        claimed_realms.add(row.realm_name)
        if row.subdomain:
            claimed_names.add(record_name(row.subdomain))
        result.append(replace(row, realm_exists=realm_exists, dns_exists=dns_exists))
    for realm in sorted((realms or set()) - claimed_realms):
        result.append(_orphan(f"realm:{realm}", f"realm {realm}", realm_exists=True))
    for name in sorted((dns_names or set()) - claimed_names):
        label = name.split(".", 1)[0]
        result.append(_orphan(f"dns:{label}", f"DNS record {name}", dns_exists=True))
    return result


def _orphan(
    name: str,
    what: str,
    realm_exists: bool | None = None,
    dns_exists: bool | None = None,
) -> TenantRow:
    return TenantRow(
        tenant_id=name,
        display_name=f"({what} without a tenant row)",
        status=ORPHAN_STATUS,
        tier="",
        realm_name=name.removeprefix("realm:") if realm_exists else "",
        subdomain=None,
        user_count=None,
        max_users=None,
        calls_this_month=None,
        max_calls_per_month=None,
        has_db_row=False,
        realm_exists=realm_exists,
        dns_exists=dns_exists,
        orphan_of=what,
    )
