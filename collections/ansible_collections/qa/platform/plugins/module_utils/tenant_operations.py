"""The tenant operations: onboard (with rollback), suspend, resume and remove."""

from __future__ import annotations

import contextlib
import gzip
import json
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ansible_collections.qa.platform.plugins.module_utils import tenant_realm
from ansible_collections.qa.platform.plugins.module_utils.tenant_lifecycle import (
    ONBOARD_STEPS,
    TENANT_TABLES,
    Journal,
    LifecycleError,
    Outcome,
    Platform,
    Settings,
    cleanup_command,
    generate_password,
    generate_secret,
    mirror_journal,
    tenant_lock,
    tenant_record,
    write_private_file,
)
from psycopg import sql

MUTABLE_COLUMNS = (
    "display_name",
    "tier",
    "max_users",
    "max_calls_per_month",
    "features",
    "settings",
)
# The stored values of MUTABLE_COLUMNS, in that order, to compare with a file.
SETTINGS_QUERY = (
    "SELECT display_name, tier, max_users, max_calls_per_month, features, settings"
    " FROM tenants WHERE tenant_id = %s"
)


class Onboarding:
    """Onboard one validated tenant; undo every step of this run if one fails."""

    def __init__(self, platform: Platform, tenant: Mapping[str, Any]) -> None:
        self.platform = platform
        self.settings: Settings = platform.settings
        self.tenant = dict(tenant)
        self.tenant_id = str(tenant["tenant_id"])
        self.realm_name = str(tenant["realm_name"])
        self.journal = Journal(self.settings.journal_dir, self.tenant_id, "onboard")
        self.outcome = Outcome(self.tenant_id)
        # Secrets made in this run; they live only in memory and the
        # credentials file.
        self.admin_password = ""
        self.client_secret = ""
        self.was_active = False

    # The run -----------------------------------------------------------------

    def run(self) -> Outcome:
        """Run every step in order, and roll back when one fails."""
        steps: dict[str, Callable[[], bool]] = {
            "database": self.step_database,
            "realm": self.step_realm,
            "admin_profile": self.step_admin_profile,
            "dns": self.step_dns,
            "smoke": self.step_smoke,
            "credentials": self.step_credentials,
        }
        try:
            with tenant_lock(self.platform, self.tenant_id, "onboard"):
                self.check_registry()
                for name in ONBOARD_STEPS:
                    self.journal.record(name, "started")
                    try:
                        changed = steps[name]()
                    except LifecycleError:
                        raise
                    except Exception as error:
                        raise LifecycleError(name, describe(error)) from error
                    self.journal.record(name, "done")
                    self.outcome.steps[name] = "changed" if changed else "ok"
                    self.outcome.changed |= changed
                    if self.settings.fail_after_step == name:
                        raise LifecycleError(name, "fault injected after this step")
                self.activate()
        except LifecycleError as error:
            self.outcome.failed = True
            self.outcome.failed_step = error.step
            self.outcome.message = str(error)
            if error.step not in {"lock", "validate"}:
                self.roll_back()
        finally:
            mirror_journal(self.platform, self.journal)
        if not self.outcome.failed and not self.journal.remaining():
            self.journal.discard()
        return self.outcome

    def preview(self) -> Outcome:
        """Report what onboarding would change, without changing anything."""
        try:
            self.check_registry()
            with self.platform.db.transaction():
                row = self.platform.db.execute(
                    SETTINGS_QUERY, (self.tenant_id,)
                ).fetchone()
            # step_database updates a row whose settings differ from the file.
            same = row is not None and list(row) == self.file_settings()
            self.outcome.steps["database"] = "ok" if same else "changed"
            realm = self.platform.realm(self.realm_name)
            self.outcome.steps["realm"] = "ok" if realm else "changed"
            subdomain = self.tenant.get("subdomain")
            if subdomain and self.settings.dns.enabled:
                record = self.platform.dns_record(subdomain)
                self.outcome.steps["dns"] = "ok" if record else "changed"
            credentials = self.credentials_path().is_file()
            self.outcome.steps["credentials"] = "ok" if credentials else "changed"
            self.outcome.changed = "changed" in self.outcome.steps.values()
        except LifecycleError as error:
            self.outcome.failed = True
            self.outcome.failed_step = error.step
            self.outcome.message = str(error)
        except Exception as error:
            self.outcome.failed = True
            self.outcome.failed_step = "preview"
            self.outcome.message = f"step preview failed: {describe(error)}"
        return self.outcome

    def check_registry(self) -> None:
        """Fail when the tenant's names belong to another tenant, before any change."""
        from ansible_collections.qa.platform.plugins.module_utils.tenant_spec import (
            check_unique,
        )

        db = self.platform.db
        with db.transaction():
            rows = db.execute(
                "SELECT tenant_id, realm_name, subdomain, status FROM tenants"
                " WHERE tenant_id = %s OR realm_name = %s OR subdomain = %s",
                (self.tenant_id, self.realm_name, self.tenant.get("subdomain")),
            ).fetchall()
        registry = [
            {"tenant_id": row[0], "realm_name": row[1], "subdomain": row[2]}
            for row in rows
        ]
        problems = check_unique(self.tenant, registry)
        if problems:
            raise LifecycleError(
                "validate", "; ".join(problem.message for problem in problems)
            )
        suspended = [row for row in rows if row[0] == self.tenant_id]
        suspended = [row for row in suspended if row[3] == "suspended"]
        if suspended:
            raise LifecycleError(
                "validate",
                f"tenant {self.tenant_id} is suspended; run "
                "playbooks/tenant_resume.yml "
                f"-e tenant_id={self.tenant_id} before onboarding it again",
            )
        self.was_active = any(
            row[0] == self.tenant_id and row[3] != "pending" for row in rows
        )

    # Steps: each returns whether it changed anything -------------------------

    def file_settings(self) -> list[Any]:
        """Return the tenant file's values of MUTABLE_COLUMNS, in that order."""
        return [self.tenant[column] for column in MUTABLE_COLUMNS]

    def step_database(self) -> bool:
        """Insert (or update) the tenant row and its organization in one transaction."""
        tenant = self.tenant
        db = self.platform.db
        changed = False
        with db.transaction():
            row = db.execute(
                SETTINGS_QUERY + " FOR UPDATE", (self.tenant_id,)
            ).fetchone()
            values = self.file_settings()
            json_values = [
                json.dumps(value) if column in {"features", "settings"} else value
                for column, value in zip(MUTABLE_COLUMNS, values, strict=True)
            ]
            if row is None:
                db.execute(
                    "INSERT INTO tenants (tenant_id, realm_name, subdomain, status,"
                    " display_name, tier, max_users, max_calls_per_month, features,"
                    " settings)"
                    " VALUES (%s, %s, %s, 'pending', %s, %s, %s, %s, %s::jsonb,"
                    " %s::jsonb)",
                    (
                        self.tenant_id,
                        self.realm_name,
                        tenant.get("subdomain"),
                        *json_values,
                    ),
                )
                changed = True
            elif list(row) != values:
                db.execute(
                    "UPDATE tenants SET display_name = %s, tier = %s, max_users = %s,"
                    " max_calls_per_month = %s, features = %s::jsonb, settings ="
                    " %s::jsonb"
                    " WHERE tenant_id = %s",
                    (*json_values, self.tenant_id),
                )
                changed = True
            organization = db.execute(
                "SELECT id FROM organizations WHERE tenant_id = %s ORDER BY"
                " created_at LIMIT 1",
                (self.tenant_id,),
            ).fetchone()
            if organization is None:
                organization = db.execute(
                    "INSERT INTO organizations (tenant_id, name, industry, size)"
                    " VALUES (%s, %s, %s, %s) RETURNING id",
                    (
                        self.tenant_id,
                        tenant["company_name"],
                        tenant.get("industry"),
                        tenant.get("company_size"),
                    ),
                ).fetchone()
                changed = True
        self.organization_id = str(organization[0])
        self.journal.record(
            "database", "started", {"organization_id": self.organization_id}
        )
        return changed

    def step_realm(self) -> bool:
        """Create the realm from one representation, then read it back and check it."""
        existing = self.platform.realm(self.realm_name)
        if existing is not None:
            owner = (existing.get("attributes") or {}).get("tenantId")
            if owner != self.tenant_id:
                raise LifecycleError(
                    "realm",
                    f"realm {self.realm_name} exists but belongs to tenant {owner!r},"
                    f" not "
                    f"{self.tenant_id!r}; choose another realm_name",
                )
            changed = False
            if self.journal.state("credentials") != "done":
                # The earlier run never handed its password over, so make a
                # new one now instead of leaving the admin without one.
                self.reset_admin_password()
                changed = True
        else:
            self.client_secret = generate_secret()
            self.admin_password = generate_password()
            representation = tenant_realm.build_realm(
                self.tenant,
                domain=self.settings.dns.domain,
                client_secret=self.client_secret,
                admin_password=self.admin_password,
                smtp=self.settings.smtp,
            )
            self.journal.record("realm", "started", {"realm": self.realm_name})
            self.platform.keycloak.create_realm(representation, skip_exists=False)
            self.platform.refresh_admin_token()
            changed = True
        self.verify_realm()
        return changed

    def reset_admin_password(self) -> None:
        """Give the first admin a new temporary password."""
        admin = self.platform.use_realm(self.realm_name)
        user_id = self.admin_user_id()
        self.admin_password = generate_password()
        admin.set_user_password(user_id, self.admin_password, temporary=True)

    def admin_user_id(self) -> str:
        """Return the first admin's Keycloak user id."""
        admin = self.platform.use_realm(self.realm_name)
        username = tenant_realm.admin_username(self.tenant)
        users = admin.get_users({"username": username, "exact": True})
        if not users:
            raise LifecycleError(
                "realm", f"admin user {username} not found in realm {self.realm_name}"
            )
        return str(users[0]["id"])

    def verify_realm(self) -> None:
        """Check the realm's roles, client and admin mapping, and repair the mapping."""
        admin = self.platform.use_realm(self.realm_name)
        roles = {role["name"] for role in admin.get_realm_roles()}
        missing = [
            name
            for name in tenant_realm.realm_roles_for(self.tenant_id)
            if name not in roles
        ]
        if missing:
            raise LifecycleError(
                "realm", f"realm {self.realm_name} lacks the roles {', '.join(missing)}"
            )
        client_id = tenant_realm.client_id_for(self.tenant_id)
        clients = admin.get_clients()
        client = next((c for c in clients if c["clientId"] == client_id), None)
        if client is None:
            raise LifecycleError(
                "realm", f"realm {self.realm_name} lacks the client {client_id}"
            )
        self.client_uuid = str(client["id"])
        if not self.client_secret:
            self.client_secret = str(
                admin.get_client_secrets(self.client_uuid)["value"]
            )
        user_id = self.admin_user_id()
        self.admin_id = user_id
        mapped = {role["name"] for role in admin.get_realm_roles_of_user(user_id)}
        if "tenant_admin" not in mapped:
            admin.assign_realm_roles(user_id, [admin.get_realm_role("tenant_admin")])
            mapped = {role["name"] for role in admin.get_realm_roles_of_user(user_id)}
            if "tenant_admin" not in mapped:
                raise LifecycleError(
                    "realm",
                    f"admin {user_id} still lacks tenant_admin after the role mapping",
                )
        self.journal.record(
            "realm", "started", {"realm": self.realm_name, "admin_user_id": user_id}
        )

    def step_admin_profile(self) -> bool:
        """Insert the admin's user_profiles row as qa_app in the tenant's context."""
        tenant = self.tenant
        with (
            contextlib.closing(self.settings.app_db.connect()) as app,
            app.transaction(),
        ):
            app.execute(
                "SELECT set_config('app.current_tenant', %s, true)", (self.tenant_id,)
            )
            inserted = app.execute(
                "INSERT INTO user_profiles (tenant_id, keycloak_user_id,"
                " organization_id, email,"
                " first_name, last_name, role) VALUES (%s, %s, %s, %s, %s, %s,"
                " 'tenant_admin')"
                " ON CONFLICT (tenant_id, keycloak_user_id) DO NOTHING RETURNING id",
                (
                    self.tenant_id,
                    self.admin_id,
                    self.organization_id,
                    tenant_realm.admin_username(tenant),
                    tenant.get("admin_first_name"),
                    tenant.get("admin_last_name"),
                ),
            ).fetchone()
        return inserted is not None

    def step_dns(self) -> bool:
        """Make <subdomain>.qa.<domain> point at qa.<domain>, waiting once."""
        subdomain = self.tenant.get("subdomain")
        dns = self.settings.dns
        if not subdomain or not dns.enabled:
            return False
        wanted = tenant_record(dns, subdomain)
        current = self.platform.dns_record(subdomain)
        if current is not None:
            values = [
                record["Value"].rstrip(".")
                for record in current.get("ResourceRecords", [])
            ]
            if values == [dns.target]:
                return False
        self.journal.record("dns", "started", {"record": wanted["Name"]})
        self.platform.change_dns("UPSERT", wanted)
        return True

    def step_smoke(self) -> bool:
        """Check a token from the new realm, and row isolation as qa_app."""
        from keycloak import KeycloakOpenID

        keycloak = self.settings.keycloak
        openid = KeycloakOpenID(
            server_url=keycloak.url,
            realm_name=self.realm_name,
            client_id=tenant_realm.client_id_for(self.tenant_id),
            client_secret_key=self.client_secret,
            verify=keycloak.verify,
            timeout=keycloak.timeout,
        )
        token = openid.token(grant_type="client_credentials")
        claims = openid.decode_token(token["access_token"], validate=True)
        issuer = str(claims.get("iss", ""))
        if not issuer.endswith(f"/realms/{self.realm_name}"):
            raise LifecycleError(
                "smoke", f"token issuer {issuer} does not name realm {self.realm_name}"
            )
        self.issuer = issuer
        with (
            contextlib.closing(self.settings.app_db.connect()) as app,
            app.transaction(),
        ):
            app.execute(
                "SELECT set_config('app.current_tenant', %s, true)", (self.tenant_id,)
            )
            seen = {
                row[0]
                for row in app.execute("SELECT DISTINCT tenant_id FROM organizations")
            }
        if seen != {self.tenant_id}:
            raise LifecycleError(
                "smoke",
                f"qa_app in tenant {self.tenant_id}'s context saw organizations of"
                f" {sorted(seen)}",
            )
        return False

    def step_credentials(self) -> bool:
        """Hand the temporary password over once, in a file only root can read."""
        path = self.credentials_path()
        self.outcome.credentials_file = str(path)
        if path.is_file() and not self.admin_password:
            return False
        if not self.admin_password:
            # Credentials were never handed over and the realm existed: the
            # realm step made a new password, so this branch means a bug.
            raise LifecycleError("credentials", "no temporary password to hand over")
        document = {
            "tenant_id": self.tenant_id,
            "realm": self.realm_name,
            "issuer": getattr(self, "issuer", ""),
            "client_id": tenant_realm.client_id_for(self.tenant_id),
            "client_secret": self.client_secret,
            "admin_username": tenant_realm.admin_username(self.tenant),
            "admin_temporary_password": self.admin_password,
        }
        write_private_file(path, json.dumps(document, indent=2) + "\n")
        self.journal.record("credentials", "started", {"file": str(path)})
        return True

    def activate(self) -> None:
        """Mark the tenant active once every step is done."""
        db = self.platform.db
        with db.transaction():
            updated = db.execute(
                "UPDATE tenants SET status = 'active', activated_at = now()"
                " WHERE tenant_id = %s AND status = 'pending' RETURNING tenant_id",
                (self.tenant_id,),
            ).fetchone()
        if updated is not None:
            self.outcome.changed = True
        self.journal.record("activate", "done")

    def credentials_path(self) -> Path:
        """Return where the tenant's credentials file goes."""
        return self.settings.credentials_dir / f"{self.tenant_id}.json"

    # Rollback ------------------------------------------------------------------

    def roll_back(self) -> None:
        """Undo the steps of this onboarding, newest first, recording each undo."""
        if self.was_active:
            # The tenant existed and worked before this run: a failed re-run
            # must not remove it. Nothing this run made needs undoing,
            # because a re-run of a finished onboarding makes nothing.
            self.outcome.message += (
                "; the tenant was already active, so nothing was removed"
            )
            return
        if self.settings.pause_before_undo:
            time.sleep(self.settings.pause_before_undo)
        with contextlib.suppress(Exception):
            self.platform.refresh_admin_token()
        undo = {
            "credentials": self.undo_credentials,
            "dns": self.undo_dns,
            "realm": self.undo_realm,
            "database": self.undo_database,
        }
        for step in reversed(ONBOARD_STEPS):
            if step not in undo or self.journal.state(step) in {"", "undone"}:
                continue
            try:
                undo[step]()
            except Exception as error:
                self.journal.record(
                    step, "undo_failed", {"undo_error": describe(error)}
                )
                self.outcome.left_behind.append(f"{step}: {describe(error)}")
            else:
                self.journal.record(step, "undone")
        for step in ("admin_profile", "smoke"):
            if self.journal.state(step) in {"done", "started"}:
                self.journal.record(step, "undone")
        if self.outcome.left_behind:
            self.outcome.cleanup_command = cleanup_command(self.tenant_id)
            self.outcome.message += (
                "; rollback could not remove everything ("
                + "; ".join(self.outcome.left_behind)
                + f"). When the service is back, run: {self.outcome.cleanup_command}"
            )
        else:
            self.outcome.message += "; every completed step was rolled back"
            self.journal.discard()

    def undo_credentials(self) -> None:
        """Delete the credentials file."""
        with contextlib.suppress(FileNotFoundError):
            self.credentials_path().unlink()

    def undo_dns(self) -> None:
        """Delete the tenant's DNS record if it exists."""
        remove_dns(self.platform, self.tenant.get("subdomain"))

    def undo_realm(self) -> None:
        """Delete the realm and check it is gone."""
        remove_realm(self.platform, self.realm_name, self.tenant_id)

    def undo_database(self) -> None:
        """Delete the tenant row; its rows in every table go with it."""
        remove_rows(self.platform, self.tenant_id)


# Shared removal steps ---------------------------------------------------------


def remove_dns(platform: Platform, subdomain: str | None) -> bool:
    """Delete a tenant's CNAME record; return whether one existed."""
    if not subdomain or not platform.settings.dns.enabled:
        return False
    current = platform.dns_record(subdomain)
    if current is None:
        return False
    platform.change_dns("DELETE", current)
    return True


def remove_realm(platform: Platform, realm_name: str, tenant_id: str) -> bool:
    """Delete a tenant's realm once it is known to be the tenant's."""
    existing = platform.realm(realm_name)
    if existing is None:
        return False
    owner = (existing.get("attributes") or {}).get("tenantId")
    if owner != tenant_id:
        raise LifecycleError(
            "realm",
            f"realm {realm_name} belongs to tenant {owner!r}, not {tenant_id!r}; not"
            f" deleting it",
        )
    platform.keycloak.delete_realm(realm_name)
    if platform.realm(realm_name) is not None:
        raise LifecycleError(
            "realm", f"realm {realm_name} still exists after its deletion"
        )
    return True


def remove_rows(platform: Platform, tenant_id: str) -> bool:
    """Delete the tenant row, which cascades to every tenant table."""
    db = platform.db
    db.rollback()
    with db.transaction():
        deleted = db.execute(
            "DELETE FROM tenants WHERE tenant_id = %s RETURNING 1", (tenant_id,)
        ).fetchone()
    return deleted is not None


def describe(error: BaseException) -> str:
    """Return an exception as one line without a traceback."""
    text = " ".join(str(error).split())
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


# Suspend, resume, remove ------------------------------------------------------


def tenant_row(platform: Platform, tenant_id: str) -> dict[str, Any]:
    """Return the tenant's registry row, or fail naming the tenant."""
    db = platform.db
    with db.transaction():
        row = db.execute(
            "SELECT tenant_id, realm_name, subdomain, status FROM tenants WHERE"
            " tenant_id = %s",
            (tenant_id,),
        ).fetchone()
    if row is None:
        raise LifecycleError(
            "lookup", f"tenant {tenant_id} not found in the tenant registry"
        )
    return {
        "tenant_id": row[0],
        "realm_name": row[1],
        "subdomain": row[2],
        "status": row[3],
    }


def set_suspended(platform: Platform, tenant_id: str, suspended: bool) -> Outcome:
    """Suspend (disable realm, end sessions, mark suspended) or resume a tenant."""
    operation = "suspend" if suspended else "resume"
    outcome = Outcome(tenant_id)
    try:
        with tenant_lock(platform, tenant_id, operation):
            row = tenant_row(platform, tenant_id)
            realm = platform.realm(row["realm_name"])
            if realm is None:
                raise LifecycleError(
                    "realm",
                    f"realm {row['realm_name']} of tenant {tenant_id} not found",
                )
            if realm.get("enabled", True) == suspended:
                platform.keycloak.update_realm(
                    row["realm_name"], {"enabled": not suspended}
                )
                outcome.changed = True
            if suspended:
                # Ending sessions is safe to repeat and needs no change report.
                admin = platform.use_realm(row["realm_name"])
                admin.connection.raw_post(
                    f"admin/realms/{row['realm_name']}/logout-all", data=json.dumps({})
                )
            status = "suspended" if suspended else "active"
            with platform.db.transaction():
                updated = platform.db.execute(
                    "UPDATE tenants SET status = %s,"
                    " suspended_at = CASE WHEN %s THEN now() ELSE NULL END"
                    " WHERE tenant_id = %s AND status IS DISTINCT FROM %s RETURNING 1",
                    (status, suspended, tenant_id, status),
                ).fetchone()
            outcome.changed |= updated is not None
            outcome.steps = {
                "realm": "enabled" if not suspended else "disabled",
                "status": status,
            }
    except LifecycleError as error:
        outcome.failed = True
        outcome.failed_step = error.step
        outcome.message = str(error)
    except Exception as error:
        outcome.failed = True
        outcome.failed_step = operation
        outcome.message = f"step {operation} failed: {describe(error)}"
    return outcome


def dump_tenant(platform: Platform, tenant_id: str) -> Path:
    """Write the tenant's rows as gzipped COPY data, one file per table, mode 0600."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    directory = platform.settings.dumps_dir / f"{tenant_id}-{stamp}"
    directory.mkdir(parents=True, mode=0o700)
    db = platform.db
    with db.transaction():
        for table in TENANT_TABLES:
            path = directory / f"{table}.copy.gz"
            with (
                gzip.open(path, "wb") as handle,
                db.cursor().copy(
                    sql.SQL(
                        "COPY (SELECT * FROM {} WHERE tenant_id = %s) TO STDOUT"
                    ).format(sql.Identifier(table)),
                    (tenant_id,),
                ) as copy,
            ):
                for chunk in copy:
                    handle.write(bytes(chunk))
            path.chmod(0o600)
    return directory


def remove_tenant(platform: Platform, tenant_id: str, *, keep_dump: bool) -> Outcome:
    """Remove realm, DNS record, rows and credentials of a tenant.

    Safe to run again: each part that is already gone is skipped, so this
    also finishes a rollback that could not reach a service.
    """
    outcome = Outcome(tenant_id)
    journal = Journal(platform.settings.journal_dir, tenant_id, "onboard")
    try:
        with tenant_lock(platform, tenant_id, "remove"):
            try:
                row: dict[str, Any] | None = tenant_row(platform, tenant_id)
            except LifecycleError:
                row = None
            realm_name = (
                row["realm_name"] if row else journal.details("realm").get("realm")
            )
            subdomain = row["subdomain"] if row else None
            record = journal.details("dns").get("record")
            if subdomain is None and record:
                subdomain = str(record).split(".", 1)[0]
            if row is not None and keep_dump:
                outcome.steps["dump"] = str(dump_tenant(platform, tenant_id))
            if remove_dns(platform, subdomain):
                outcome.steps["dns"] = "removed"
            if realm_name and remove_realm(platform, str(realm_name), tenant_id):
                outcome.steps["realm"] = "removed"
            if remove_rows(platform, tenant_id):
                outcome.steps["database"] = "removed"
            credentials = platform.settings.credentials_dir / f"{tenant_id}.json"
            if credentials.exists():
                credentials.unlink()
                outcome.steps["credentials"] = "removed"
            outcome.changed = bool(outcome.steps)
            journal.discard()
            with contextlib.suppress(Exception), platform.db.transaction():
                platform.db.execute(
                    "DELETE FROM provisioning_journal WHERE tenant_id = %s",
                    (tenant_id,),
                )
    except LifecycleError as error:
        outcome.failed = True
        outcome.failed_step = error.step
        outcome.message = str(error)
    except Exception as error:
        outcome.failed = True
        outcome.failed_step = "remove"
        outcome.message = f"step remove failed: {describe(error)}"
    return outcome
