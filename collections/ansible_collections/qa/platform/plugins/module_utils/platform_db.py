"""Build the platform database: roles, databases, migrations and safety checks.

Shared by ``scripts/db_migrate.py`` (``make db-migrate``) and the Ansible module
``qa.platform.platform_db``, so both run the same SQL. Imports only the standard
library and psycopg 3, because Ansible ships this file to the managed host.

The caller connects with a master connection: a superuser, or a role with
CREATEROLE and CREATEDB such as the RDS master user, which is not a superuser.
Migrations then run as ``qa_owner`` through ``SET ROLE``, so the master needs no
password for the owner and the objects are owned by ``qa_owner``.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

Logger = Callable[[str], None]
# A folder of migration files, or a mapping of file name to SQL text.
MigrationSource = str | os.PathLike[str] | Mapping[str, str]

OWNER_ROLE = "qa_owner"
APP_ROLE = "qa_app"
PROVISIONER_ROLE = "qa_provisioner"
OPERATOR_ROLE = "qa_operator"
KEYCLOAK_ROLE = "keycloak"
APP_DATABASE = "qa_platform"
KEYCLOAK_DATABASE = "keycloak"

# Environment variable holding each role's password. A role whose variable is
# unset gets no password, which only a local server may accept.
PASSWORD_ENV = {
    OWNER_ROLE: "QA_OWNER_PASSWORD",
    APP_ROLE: "QA_APP_PASSWORD",
    PROVISIONER_ROLE: "QA_PROVISIONER_PASSWORD",
    OPERATOR_ROLE: "QA_OPERATOR_PASSWORD",
    KEYCLOAK_ROLE: "KEYCLOAK_DB_PASSWORD",
}

# Roles that connect to the application database. None of them may own
# anything there or bypass row-level security.
CLIENT_ROLES = (APP_ROLE, PROVISIONER_ROLE, OPERATOR_ROLE)
ALL_ROLES = (OWNER_ROLE, *CLIENT_ROLES, KEYCLOAK_ROLE)

# Role attributes that every platform role must have. A CREATEROLE master
# (RDS) cannot grant SUPERUSER, BYPASSRLS or REPLICATION, and none is wanted.
ROLE_ATTRIBUTES = {
    "rolcanlogin": True,
    "rolsuper": False,
    "rolcreatedb": False,
    "rolcreaterole": False,
    "rolbypassrls": False,
    "rolreplication": False,
}
ROLE_ATTRIBUTE_SQL = {
    "rolcanlogin": ("LOGIN", "NOLOGIN"),
    "rolsuper": ("SUPERUSER", "NOSUPERUSER"),
    "rolcreatedb": ("CREATEDB", "NOCREATEDB"),
    "rolcreaterole": ("CREATEROLE", "NOCREATEROLE"),
    "rolbypassrls": ("BYPASSRLS", "NOBYPASSRLS"),
    "rolreplication": ("REPLICATION", "NOREPLICATION"),
}

MIGRATION_FILE = re.compile(r"^(?P<version>\d{4})_[a-z0-9_]+\.sql$")
# Session advisory lock key that serializes concurrent migration runs.
MIGRATION_LOCK_KEY = 7_304_512_113
SELFTEST_TENANTS = ("selftest-probe-a", "selftest-probe-b")


class PlatformDbError(Exception):
    """A step of the database build failed. The message names the value and the fix."""


@dataclass(frozen=True)
class Migration:
    """One SQL migration file."""

    version: str
    name: str
    sql: str
    checksum: str


@dataclass
class BuildResult:
    """Changes made (or, in check mode, planned) by one run."""

    roles_created: list[str] = field(default_factory=list)
    roles_altered: list[str] = field(default_factory=list)
    passwords_set: list[str] = field(default_factory=list)
    databases_created: list[str] = field(default_factory=list)
    privileges_changed: list[str] = field(default_factory=list)
    migrations_applied: list[str] = field(default_factory=list)
    migrations_pending: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return bool(
            self.roles_created
            or self.roles_altered
            or self.passwords_set
            or self.databases_created
            or self.privileges_changed
            or self.migrations_applied
        )

    def as_dict(self) -> dict[str, Any]:
        return {
            "changed": self.changed,
            "roles_created": self.roles_created,
            "roles_altered": self.roles_altered,
            "passwords_set": self.passwords_set,
            "databases_created": self.databases_created,
            "privileges_changed": self.privileges_changed,
            "migrations_applied": self.migrations_applied,
            "migrations_pending": self.migrations_pending,
            "warnings": self.warnings,
        }


def _ignore(message: str) -> None:
    del message


# ---------------------------------------------------------------------------
# Migration files


def load_migrations(directory: str | os.PathLike[str]) -> list[Migration]:
    """Read the migration files of ``directory`` in file-name order.

    Raises PlatformDbError for a ``.sql`` file whose name does not match
    ``NNNN_lowercase_words.sql`` or for two files with one version number.
    """
    path = Path(directory)
    if not path.is_dir():
        raise PlatformDbError(
            f"migrations directory {path} not found; pass the project's sql/ folder"
        )
    files = {file.name: file.read_text(encoding="utf-8") for file in path.glob("*.sql")}
    if not files:
        raise PlatformDbError(f"no migration files (*.sql) found in {path}")
    return parse_migrations(files)


def parse_migrations(files: Mapping[str, str]) -> list[Migration]:
    """Return the migrations of a file name to SQL text mapping, in name order.

    Raises PlatformDbError for a name that does not match
    ``NNNN_lowercase_words.sql``, for two files with one version number, or
    for an empty mapping.
    """
    if not files:
        raise PlatformDbError("no migrations given; pass the project's sql/ files")
    migrations: list[Migration] = []
    seen: dict[str, str] = {}
    for name in sorted(files):
        match = MIGRATION_FILE.match(name)
        if match is None:
            raise PlatformDbError(
                f"migration file name {name!r} is invalid: it must match "
                "NNNN_lowercase_words.sql; rename it"
            )
        version = match.group("version")
        if version in seen:
            raise PlatformDbError(
                f"migrations {seen[version]} and {name} share version "
                f"{version}; give one of them the next free number"
            )
        seen[version] = name
        text = files[name]
        checksum = hashlib.sha256(text.encode("utf-8")).hexdigest()
        migrations.append(Migration(version, name, text, checksum))
    return migrations


def _migrations(source: MigrationSource) -> list[Migration]:
    if isinstance(source, Mapping):
        return parse_migrations(source)
    return load_migrations(source)


# ---------------------------------------------------------------------------
# Connections


def is_local_host(host: str | None) -> bool:
    """Return True for a Unix socket, ``localhost`` or a loopback address."""
    if not host:
        return True
    for item in host.split(","):
        item = item.strip()
        if item.startswith("/") or item == "localhost":
            continue
        try:
            if not ipaddress.ip_address(item).is_loopback:
                return False
        except ValueError:
            return False
    return True


def connect(
    params: Mapping[str, Any], dbname: str | None = None
) -> psycopg.Connection[Any]:
    """Open an autocommit connection with ``params`` (libpq keywords).

    Passwords travel in ``params`` or through PGPASSWORD/PGPASSFILE, never in
    a command line.
    """
    kwargs = {key: value for key, value in params.items() if value not in (None, "")}
    if dbname is not None:
        kwargs["dbname"] = dbname
    kwargs.setdefault("connect_timeout", 10)
    kwargs.setdefault("application_name", "qa-platform-db")
    try:
        return psycopg.connect(autocommit=True, **kwargs)
    except psycopg.OperationalError as error:
        where = f"{kwargs.get('host', 'local socket')}:{kwargs.get('port', 5432)}"
        raise PlatformDbError(
            f"connection to {where} database {kwargs.get('dbname', '(default)')} "
            f"as {kwargs.get('user', '(default user)')} failed: "
            f"{str(error).strip()}; check the DSN, the password in PGPASSWORD and "
            "pg_hba.conf"
        ) from error


# ---------------------------------------------------------------------------
# Roles and databases


def _role_row(cur: psycopg.Cursor[Any], role: str) -> dict[str, Any] | None:
    cur.execute(
        "SELECT rolcanlogin, rolsuper, rolcreatedb, rolcreaterole, rolbypassrls, "
        "rolreplication FROM pg_roles WHERE rolname = %s",
        (role,),
    )
    row = cur.fetchone()
    if row is None:
        return None
    return dict(zip(ROLE_ATTRIBUTES, row, strict=True))


def check_master(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    """Read the master role's attributes and reject one that cannot build."""
    with conn.cursor() as cur:
        cur.execute(
            "SELECT current_user, rolsuper, rolcreaterole, rolcreatedb, "
            "current_setting('server_version_num')::int "
            "FROM pg_roles WHERE rolname = current_user"
        )
        row = cur.fetchone()
    assert row is not None
    name, is_super, can_create_role, can_create_db, version = row
    if version < 150000:
        raise PlatformDbError(
            f"server version {version} is too old: the schema needs PostgreSQL 15 "
            "or later (ON DELETE SET NULL with a column list)"
        )
    if not is_super and not (can_create_role and can_create_db):
        raise PlatformDbError(
            f"master role {name} is invalid: it needs CREATEROLE and CREATEDB (as "
            "the RDS master user has) or SUPERUSER; connect as the master user"
        )
    return {
        "user": name,
        "superuser": is_super,
        "createrole": can_create_role,
        "createdb": can_create_db,
        "server_version_num": version,
    }


def _encrypted_password(conn: psycopg.Connection[Any], role: str, password: str) -> str:
    # libpq hashes the password with the server's password_encryption method
    # (SCRAM by default), so the clear text never reaches the server or its log.
    verifier = conn.pgconn.encrypt_password(password.encode(), role.encode())
    return verifier.decode()


def ensure_roles(
    conn: psycopg.Connection[Any],
    passwords: Mapping[str, str | None],
    result: BuildResult,
    local: bool,
    log: Logger,
) -> None:
    """Create the platform roles where missing and fix attribute drift."""
    with conn.cursor() as cur:
        for role in ALL_ROLES:
            current = _role_row(cur, role)
            attributes = sql.SQL(" ").join(
                sql.SQL(ROLE_ATTRIBUTE_SQL[key][0 if wanted else 1])
                for key, wanted in ROLE_ATTRIBUTES.items()
            )
            if current is None:
                password = passwords.get(role)
                if not password and not local:
                    raise PlatformDbError(
                        f"{PASSWORD_ENV[role]} is not set, and role {role} would be "
                        "created without a password on a remote server; set the "
                        "variable and run again"
                    )
                statement = sql.SQL("CREATE ROLE {} WITH {}").format(
                    sql.Identifier(role), attributes
                )
                if password:
                    statement = sql.SQL("{} PASSWORD {}").format(
                        statement,
                        sql.Literal(_encrypted_password(conn, role, password)),
                    )
                    result.passwords_set.append(role)
                cur.execute(statement)
                result.roles_created.append(role)
                log(f"created role {role}")
                continue
            drift = [
                key for key, wanted in ROLE_ATTRIBUTES.items() if current[key] != wanted
            ]
            if drift:
                try:
                    cur.execute(
                        sql.SQL("ALTER ROLE {} WITH {}").format(
                            sql.Identifier(role), attributes
                        )
                    )
                except psycopg.Error as error:
                    raise PlatformDbError(
                        f"role {role} has attributes {', '.join(drift)} that must "
                        f"be off, and removing them failed: {error}; ask a "
                        "superuser to run ALTER ROLE"
                    ) from error
                result.roles_altered.append(role)
                log(f"reset attributes {', '.join(drift)} of role {role}")


def ensure_master_memberships(
    conn: psycopg.Connection[Any], master: Mapping[str, Any], result: BuildResult
) -> None:
    """Make the master a member of qa_owner, qa_app and keycloak.

    CREATE DATABASE ... OWNER <role> needs it on a non-superuser master, and
    so do the SET ROLE steps of the migration run and the self-test.
    """
    if master["superuser"]:
        return
    with conn.cursor() as cur:
        for role in (OWNER_ROLE, APP_ROLE, KEYCLOAK_ROLE):
            cur.execute("SELECT pg_has_role(current_user, %s, 'MEMBER')", (role,))
            row = cur.fetchone()
            if row is not None and row[0]:
                continue
            cur.execute(
                sql.SQL("GRANT {} TO {}").format(
                    sql.Identifier(role), sql.Identifier(master["user"])
                )
            )
            result.privileges_changed.append(f"{master['user']} member of {role}")


def _database_state(cur: psycopg.Cursor[Any], name: str) -> tuple[str, str] | None:
    cur.execute(
        "SELECT pg_get_userbyid(datdba), coalesce(datacl::text, '') "
        "FROM pg_database WHERE datname = %s",
        (name,),
    )
    row = cur.fetchone()
    return None if row is None else (row[0], row[1])


def ensure_databases(
    conn: psycopg.Connection[Any], result: BuildResult, app_database: str, log: Logger
) -> None:
    """Create the application and Keycloak databases and set their privileges.

    PUBLIC loses CONNECT and TEMP on both. Keycloak owns its database, which
    on PostgreSQL 15 also makes it owner of that database's public schema,
    so it can create its tables there.
    """
    plan = (
        (app_database, OWNER_ROLE, CLIENT_ROLES),
        (KEYCLOAK_DATABASE, KEYCLOAK_ROLE, ()),
    )
    with conn.cursor() as cur:
        for name, owner, connectors in plan:
            before = _database_state(cur, name)
            if before is None:
                cur.execute(
                    sql.SQL("CREATE DATABASE {} OWNER {} ENCODING 'UTF8'").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )
                result.databases_created.append(name)
                log(f"created database {name} owned by {owner}")
            elif before[0] != owner:
                cur.execute(
                    sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                        sql.Identifier(name), sql.Identifier(owner)
                    )
                )
            cur.execute(
                sql.SQL("REVOKE ALL ON DATABASE {} FROM PUBLIC").format(
                    sql.Identifier(name)
                )
            )
            for role in connectors:
                cur.execute(
                    sql.SQL("REVOKE ALL ON DATABASE {} FROM {}").format(
                        sql.Identifier(name), sql.Identifier(role)
                    )
                )
                cur.execute(
                    sql.SQL("GRANT CONNECT ON DATABASE {} TO {}").format(
                        sql.Identifier(name), sql.Identifier(role)
                    )
                )
            after = _database_state(cur, name)
            if before is not None and after != before:
                result.privileges_changed.append(f"database {name}")
                log(f"set owner and privileges of database {name}")


def ensure_passwords(
    params: Mapping[str, Any],
    conn: psycopg.Connection[Any],
    passwords: Mapping[str, str | None],
    result: BuildResult,
    app_database: str,
    log: Logger,
) -> None:
    """Set the password of each existing role whose login with it fails.

    A non-superuser cannot read stored password hashes, so the check is a
    real login. When the server lets the role in without asking for a
    password (trust or peer), the password cannot be checked and is left alone.
    """
    for role in ALL_ROLES:
        password = passwords.get(role)
        if not password or role in result.passwords_set:
            continue
        dbname = KEYCLOAK_DATABASE if role == KEYCLOAK_ROLE else app_database
        probe = {**params, "user": role, "password": password, "dbname": dbname}
        probe = {k: v for k, v in probe.items() if v not in (None, "")}
        probe.setdefault("connect_timeout", 10)
        try:
            with psycopg.connect(**probe) as login:
                if not login.pgconn.used_password:
                    result.warnings.append(
                        f"password of role {role} was not checked: the server "
                        "accepted the login without one (trust or peer in pg_hba.conf)"
                    )
                continue
        except psycopg.OperationalError as error:
            if "password authentication failed" not in str(error):
                raise PlatformDbError(
                    f"login check for role {role} failed: {str(error).strip()}; "
                    "check that the server accepts password logins for it"
                ) from error
        with conn.cursor() as cur:
            cur.execute(
                sql.SQL("ALTER ROLE {} WITH PASSWORD {}").format(
                    sql.Identifier(role),
                    sql.Literal(_encrypted_password(conn, role, password)),
                )
            )
        result.passwords_set.append(role)
        log(f"set password of role {role} from {PASSWORD_ENV[role]}")


def ensure_public_schema_owner(
    conn: psycopg.Connection[Any], result: BuildResult
) -> None:
    """Give qa_owner the public schema of the application database.

    PostgreSQL 15 creates it owned by pg_database_owner, which is qa_owner
    here. A database made by an older server or by hand may differ.
    """
    with conn.cursor() as cur:
        cur.execute(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace "
            "WHERE nspname = 'public'"
        )
        row = cur.fetchone()
        if row is None:
            cur.execute(
                sql.SQL("CREATE SCHEMA public AUTHORIZATION {}").format(
                    sql.Identifier(OWNER_ROLE)
                )
            )
            result.privileges_changed.append("schema public created")
        elif row[0] not in (OWNER_ROLE, "pg_database_owner"):
            cur.execute(
                sql.SQL("ALTER SCHEMA public OWNER TO {}").format(
                    sql.Identifier(OWNER_ROLE)
                )
            )
            result.privileges_changed.append("schema public owner")


# ---------------------------------------------------------------------------
# Migrations

VERSION_TABLE_SQL = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version VARCHAR(20) PRIMARY KEY,
    name VARCHAR(255) NOT NULL,
    checksum CHAR(64) NOT NULL,
    applied_at TIMESTAMP WITH TIME ZONE NOT NULL DEFAULT now(),
    applied_by NAME NOT NULL DEFAULT session_user
);
ALTER TABLE schema_migrations ENABLE ROW LEVEL SECURITY;
ALTER TABLE schema_migrations FORCE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS owner_all ON schema_migrations;
CREATE POLICY owner_all ON schema_migrations FOR ALL TO qa_owner
    USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS operator_read ON schema_migrations;
CREATE POLICY operator_read ON schema_migrations FOR SELECT TO qa_operator
    USING (true);
REVOKE ALL ON schema_migrations FROM PUBLIC;
GRANT SELECT ON schema_migrations TO qa_operator;
"""


def _applied_versions(cur: psycopg.Cursor[Any]) -> dict[str, tuple[str, str]]:
    cur.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL")
    row = cur.fetchone()
    if row is None or not row[0]:
        return {}
    cur.execute("SELECT version, name, checksum FROM schema_migrations")
    return {version: (name, checksum) for version, name, checksum in cur.fetchall()}


def _pending(
    migrations: list[Migration], applied: Mapping[str, tuple[str, str]]
) -> list[Migration]:
    pending = []
    for migration in migrations:
        recorded = applied.get(migration.version)
        if recorded is None:
            pending.append(migration)
            continue
        name, checksum = recorded
        if checksum.strip() != migration.checksum:
            raise PlatformDbError(
                f"migration {migration.name} differs from the applied {name} "
                f"(checksum {migration.checksum[:12]} against {checksum[:12]}); "
                "applied migrations must not change: restore the file and put "
                "the change in a new migration"
            )
    return pending


def _error_line(text: str, error: psycopg.Error) -> str:
    position = getattr(error.diag, "statement_position", None)
    if not position:
        return ""
    try:
        line = text.count("\n", 0, int(position) - 1) + 1
    except ValueError:
        return ""
    return f" at line {line}"


def apply_migrations(
    conn: psycopg.Connection[Any],
    migrations: list[Migration],
    result: BuildResult,
    log: Logger,
) -> None:
    """Apply the pending migrations as qa_owner, each in one transaction.

    Stops at the first failing migration, which leaves no trace. The ones
    before it stay applied and recorded.
    """
    with conn.cursor() as cur:
        cur.execute(sql.SQL("SET ROLE {}").format(sql.Identifier(OWNER_ROLE)))
        cur.execute("SET search_path TO public")
        cur.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            with conn.transaction():
                cur.execute(VERSION_TABLE_SQL)
            pending = _pending(migrations, _applied_versions(cur))
            for migration in pending:
                try:
                    with conn.transaction():
                        cur.execute(migration.sql.encode("utf-8"))
                        cur.execute(
                            "INSERT INTO schema_migrations (version, name, checksum) "
                            "VALUES (%s, %s, %s)",
                            (migration.version, migration.name, migration.checksum),
                        )
                except psycopg.Error as error:
                    primary = error.diag.message_primary or str(error).strip()
                    raise PlatformDbError(
                        f"migration {migration.name} failed"
                        f"{_error_line(migration.sql, error)}: "
                        f"{primary} (SQLSTATE {error.sqlstate}); it was rolled back "
                        "and no later migration was applied; fix it and run again"
                    ) from error
                result.migrations_applied.append(migration.name)
                log(f"applied migration {migration.name}")
        finally:
            cur.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
            cur.execute("RESET ROLE")


# ---------------------------------------------------------------------------
# Safety checks


SECURITY_QUERIES: tuple[tuple[str, str], ...] = (
    (
        "a client role is a superuser, bypasses row-level security or can "
        "create roles or databases",
        """SELECT rolname FROM pg_roles
           WHERE rolname = ANY(%(clients)s)
             AND (rolsuper OR rolbypassrls OR rolcreaterole OR rolcreatedb)""",
    ),
    (
        "a client role is a member of the owner role",
        """SELECT r.rolname FROM pg_roles r
           WHERE r.rolname = ANY(%(clients)s)
             AND pg_has_role(r.oid, %(owner)s, 'MEMBER')""",
    ),
    (
        "a client role owns a relation, function or schema",
        """SELECT pg_get_userbyid(relowner) || ' owns ' || relname FROM pg_class
           WHERE pg_get_userbyid(relowner) = ANY(%(clients)s)
           UNION ALL
           SELECT pg_get_userbyid(proowner) || ' owns ' || proname FROM pg_proc
           WHERE pg_get_userbyid(proowner) = ANY(%(clients)s)
           UNION ALL
           SELECT pg_get_userbyid(nspowner) || ' owns ' || nspname FROM pg_namespace
           WHERE pg_get_userbyid(nspowner) = ANY(%(clients)s)""",
    ),
    (
        "a table in schema public is not owned by qa_owner or lacks forced "
        "row-level security",
        """SELECT c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
             AND (NOT c.relrowsecurity OR NOT c.relforcerowsecurity
                  OR pg_get_userbyid(c.relowner) <> %(owner)s)""",
    ),
    (
        "a client role holds TRUNCATE, TRIGGER or REFERENCES on a table",
        """SELECT r.rolname || ' on ' || c.relname FROM pg_class c
           JOIN pg_namespace n ON n.oid = c.relnamespace
           CROSS JOIN pg_roles r
           WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm')
             AND r.rolname = ANY(%(clients)s)
             AND (has_table_privilege(r.oid, c.oid, 'TRUNCATE')
                  OR has_table_privilege(r.oid, c.oid, 'TRIGGER')
                  OR has_table_privilege(r.oid, c.oid, 'REFERENCES'))""",
    ),
    (
        "a client role can create objects in a schema or temporary tables",
        """SELECT r.rolname || ' on ' || n.nspname FROM pg_namespace n
           CROSS JOIN pg_roles r
           WHERE r.rolname = ANY(%(clients)s)
             AND n.nspname NOT LIKE 'pg\\_%%' AND n.nspname <> 'information_schema'
             AND has_schema_privilege(r.oid, n.oid, 'CREATE')
           UNION ALL
           SELECT r.rolname || ' on database' FROM pg_roles r
           WHERE r.rolname = ANY(%(clients)s)
             AND (has_database_privilege(r.oid, current_database(), 'CREATE')
                  OR has_database_privilege(r.oid, current_database(), 'TEMP'))""",
    ),
)


def check_security(conn: psycopg.Connection[Any]) -> None:
    """Check the privilege rules that isolation depends on, then self-test.

    Raises PlatformDbError listing every broken rule with the objects that
    break it.
    """
    problems = []
    params = {"clients": list(CLIENT_ROLES), "owner": OWNER_ROLE}
    with conn.cursor() as cur:
        for rule, query in SECURITY_QUERIES:
            cur.execute(query, params)
            offenders = sorted({str(row[0]) for row in cur.fetchall()})
            if offenders:
                problems.append(f"{rule}: {', '.join(offenders)}")
    if problems:
        raise PlatformDbError("database security check failed; " + "; ".join(problems))
    run_isolation_selftest(conn)


class _SelfTestRollback(Exception):
    pass


def run_isolation_selftest(conn: psycopg.Connection[Any]) -> None:
    """Check, as qa_app, that two probe tenants cannot see each other.

    The probe rows live only inside a transaction that is rolled back.
    """
    first, second = SELFTEST_TENANTS
    failures: list[str] = []
    try:
        with conn.transaction(), conn.cursor() as cur:
            cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(OWNER_ROLE)))
            cur.execute("SET LOCAL search_path TO public")
            for tenant in SELFTEST_TENANTS:
                cur.execute(
                    "INSERT INTO tenants (tenant_id, realm_name, display_name) "
                    "VALUES (%s, %s, %s)",
                    (tenant, tenant, "self-test probe"),
                )
                cur.execute(
                    "INSERT INTO organizations (tenant_id, name) VALUES (%s, %s)",
                    (tenant, "self-test probe"),
                )
            cur.execute(sql.SQL("SET LOCAL ROLE {}").format(sql.Identifier(APP_ROLE)))
            cur.execute(
                "SELECT (SELECT count(*) FROM tenants), "
                "(SELECT count(*) FROM organizations)"
            )
            row = cur.fetchone()
            if row != (0, 0):
                failures.append(
                    f"without a tenant qa_app saw {row} tenants/organizations"
                )
            cur.execute("SELECT set_config('app.current_tenant', %s, true)", (first,))
            cur.execute(
                "SELECT tenant_id, count(*) FROM organizations GROUP BY tenant_id "
                "UNION ALL SELECT tenant_id, count(*) FROM tenants GROUP BY tenant_id"
            )
            seen = {str(tenant) for tenant, _count in cur.fetchall()}
            if seen != {first}:
                failures.append(
                    f"with tenant {first} qa_app saw tenants {sorted(seen)}"
                )
            try:
                with conn.transaction():
                    cur.execute(
                        "INSERT INTO organizations (tenant_id, name) VALUES (%s, %s)",
                        (second, "cross-tenant write"),
                    )
                failures.append(
                    f"with tenant {first} qa_app inserted a row of {second}"
                )
            except psycopg.errors.InsufficientPrivilege:
                pass
            raise _SelfTestRollback
    except _SelfTestRollback:
        pass
    if failures:
        raise PlatformDbError(
            "row-level security self-test failed: " + "; ".join(failures)
        )


# ---------------------------------------------------------------------------
# Whole runs


def passwords_from_env(env: Mapping[str, str] | None = None) -> dict[str, str | None]:
    """Read each role's password from its environment variable."""
    source = os.environ if env is None else env
    return {
        role: source.get(variable) or None for role, variable in PASSWORD_ENV.items()
    }


def build(
    params: Mapping[str, Any],
    migrations: MigrationSource,
    passwords: Mapping[str, str | None],
    app_database: str = APP_DATABASE,
    log: Logger = _ignore,
) -> BuildResult:
    """Create roles and databases where missing, then apply pending migrations.

    ``params`` are libpq keywords of the master connection (host, port, user,
    password, dbname of a maintenance database, sslmode, ...). Running it
    again changes nothing. ``migrations`` is a folder of migration files or
    a mapping of file name to SQL text.
    """
    result = BuildResult()
    try:
        _build(params, _migrations(migrations), passwords, app_database, log, result)
    except psycopg.Error as error:
        raise PlatformDbError(
            f"database build failed: {str(error).strip()} (SQLSTATE "
            f"{error.sqlstate}); nothing after this step was changed"
        ) from error
    return result


def _build(
    params: Mapping[str, Any],
    migrations: list[Migration],
    passwords: Mapping[str, str | None],
    app_database: str,
    log: Logger,
    result: BuildResult,
) -> None:
    local = is_local_host(params.get("host") or os.environ.get("PGHOST"))
    with connect(params) as conn:
        master = check_master(conn)
        log(
            f"connected as {master['user']} "
            f"(superuser: {master['superuser']}, server {master['server_version_num']})"
        )
        ensure_roles(conn, passwords, result, local, log)
        ensure_master_memberships(conn, master, result)
        ensure_databases(conn, result, app_database, log)
    ensure_passwords_params = {k: v for k, v in params.items() if k != "password"}
    with connect(params, dbname=app_database) as conn:
        ensure_passwords(
            ensure_passwords_params, conn, passwords, result, app_database, log
        )
        ensure_public_schema_owner(conn, result)
        apply_migrations(conn, migrations, result, log)
        check_security(conn)


def plan(
    params: Mapping[str, Any],
    source: MigrationSource,
    app_database: str = APP_DATABASE,
) -> BuildResult:
    """Report what ``build`` would create and apply, without changing anything.

    Passwords and privileges are not compared, so a check run may miss those.
    """
    migrations = _migrations(source)
    result = BuildResult()
    with connect(params) as conn, conn.cursor() as cur:
        check_master(conn)
        for role in ALL_ROLES:
            if _role_row(cur, role) is None:
                result.roles_created.append(role)
        for name in (app_database, KEYCLOAK_DATABASE):
            if _database_state(cur, name) is None:
                result.databases_created.append(name)
    if app_database in result.databases_created:
        pending = migrations
    else:
        with connect(params, dbname=app_database) as conn, conn.cursor() as cur:
            pending = _pending(migrations, _applied_versions(cur))
    result.migrations_applied = [migration.name for migration in pending]
    result.migrations_pending = list(result.migrations_applied)
    return result
