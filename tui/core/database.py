"""Read tenants, usage and operations from the platform database.

psycopg is imported on first use, so importing this module costs nothing
before the first paint. Each call opens a short connection: the TUI reads
every few seconds and a dropped server must not leave a broken connection
behind.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tui.core import queries
from tui.core.tenants import TenantDetail, TenantRow, row_from_record

CONNECT_TIMEOUT_S = 3
UNDEFINED_FUNCTION = "42883"


class ServiceUnavailable(Exception):
    """A platform service (database, Keycloak, DNS) could not be reached."""

    def __init__(self, service: str, detail: str) -> None:
        super().__init__(f"{service}: {detail}")
        self.service = service
        self.detail = detail


@dataclass(frozen=True)
class DatabaseParams:
    """libpq connection settings for the operator role."""

    host: str
    port: int
    dbname: str
    user: str
    password: str | None = None

    def describe(self) -> str:
        return f"{self.user}@{self.host}:{self.port}/{self.dbname}"


class PlatformDatabase:
    """The platform database, read as the ``qa_operator`` role."""

    service = "database"

    def __init__(self, params: DatabaseParams) -> None:
        self.params = params

    def _connect(self) -> Any:
        import psycopg
        from psycopg.rows import dict_row

        kwargs: dict[str, Any] = {
            "host": self.params.host,
            "port": self.params.port,
            "dbname": self.params.dbname,
            "user": self.params.user,
            "connect_timeout": CONNECT_TIMEOUT_S,
            "row_factory": dict_row,
            "autocommit": True,
            "application_name": "qa-tui",
        }
        if self.params.password:
            kwargs["password"] = self.params.password
        try:
            return psycopg.connect(**kwargs)
        except psycopg.OperationalError as error:
            # libpq can fail with an empty message, which has no last line.
            lines = str(error).strip().splitlines() or [type(error).__name__]
            raise ServiceUnavailable(
                self.service,
                f"cannot connect to {self.params.describe()}: {lines[-1]}",
            ) from error

    def _query(
        self, sql: str, args: dict[str, Any] | None = None
    ) -> list[dict[str, Any]]:
        import psycopg

        with self._connect() as conn:
            try:
                return list(conn.execute(sql, args or {}).fetchall())
            except psycopg.OperationalError as error:
                raise ServiceUnavailable(
                    self.service, f"connection lost: {str(error).strip()}"
                ) from error

    def tenants(self) -> list[TenantRow]:
        """Return every tenant with this month's usage, by tenant id."""
        import psycopg

        try:
            records = self._query(queries.TENANT_LIST)
        except psycopg.errors.UndefinedFunction:
            records = self._query(queries.TENANT_LIST_WITHOUT_USAGE)
        return [row_from_record(record) for record in records]

    def detail(self, row: TenantRow) -> TenantDetail:
        """Return one tenant's settings, usage and recent operations."""
        import psycopg

        found = self._query(queries.TENANT_DETAIL, {"tenant_id": row.tenant_id})
        if not found:
            return TenantDetail(row=row)
        record = found[0]
        try:
            usage_rows = self._query(queries.TENANT_USAGE, {"tenant_id": row.tenant_id})
        except psycopg.errors.UndefinedFunction:
            usage_rows = []
        operations = self._query(
            queries.TENANT_OPERATIONS, {"tenant_id": row.tenant_id, "limit": 20}
        )
        features = record.get("features")
        settings = record.get("settings")
        return TenantDetail(
            row=row,
            company_name=record.get("company_name"),
            industry=record.get("industry"),
            company_size=record.get("company_size"),
            features=list(features) if isinstance(features, list) else [],
            settings=dict(settings) if isinstance(settings, dict) else {},
            max_storage_gb=record.get("max_storage_gb"),
            created_at=_time(record.get("created_at")),
            suspended_at=_time(record.get("suspended_at")),
            usage=dict(usage_rows[0]) if usage_rows else {},
            operations=operations,
        )


def _time(value: object) -> str:
    if value is None:
        return ""
    strftime = getattr(value, "strftime", None)
    return str(strftime("%Y-%m-%d %H:%M UTC")) if strftime else str(value)
