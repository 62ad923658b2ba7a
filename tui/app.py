"""The qa-tui application: tenant list, lifecycle runs, history.

Blocking work (inventory resolution, database and API reads, ansible-runner)
runs in thread workers, which report back with messages. ansible-runner's
handler puts each event on a queue. A worker per run drains that queue into
RunEventsReceived messages, so a slow screen never slows a run.
"""

from __future__ import annotations

import argparse
import logging
import os
import queue
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from ansible_collections.qa.platform.plugins.module_utils import tenant_spec
from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.screen import Screen

from tui.core import history
from tui.core.credentials import (
    CredentialsError,
    ShownPasswords,
    admin_username,
    read_credentials,
)
from tui.core.database import DatabaseParams, PlatformDatabase, ServiceUnavailable
from tui.core.events import RunEvent, parse_event
from tui.core.inventory import InventoryError, PlatformSettings, resolve_settings
from tui.core.operations import (
    PLAYBOOKS_DIR,
    PlaybookMissing,
    estimate_task_count,
    lifecycle_request,
    provision_request,
    write_tenant_file,
)
from tui.core.paths import PROJECT_DIR, TuiPaths, default_data_dir
from tui.core.runs import PlaybookRunner, RunHandle, RunRequest
from tui.core.status import (
    DOWN,
    UP,
    KeycloakRealms,
    NameProvider,
    Route53Records,
    ServiceState,
    Snapshot,
    check_all,
    lab_ca_bundle,
)
from tui.core.tenants import TenantRow
from tui.messages import (
    RunEventsReceived,
    RunFinished,
    RunStarted,
    ServiceFailed,
    SettingsFailed,
    SettingsResolved,
    TenantDetailLoaded,
    TenantsLoaded,
)
from tui.screens.detail import DetailScreen
from tui.screens.dialogs import ConfirmScreen, HelpScreen, PasswordScreen
from tui.screens.history import HistoryScreen
from tui.screens.onboard import OnboardScreen
from tui.screens.run_view import RunScreen
from tui.screens.tenants import TenantsScreen

log = logging.getLogger("qa_tui")

REFRESH_INTERVAL_S = 5.0
# Events handed to the UI in one message; more wait for the next message.
EVENT_BATCH_MAX = 200
# Minimum seconds between two event messages of one run. The first event
# goes out at once and later ones are collected until the interval is over.
# A run then costs the event loop five screen updates a second at most,
# instead of one per event.
EVENT_MESSAGE_INTERVAL_S = 0.2
SERVICE_NAMES = {"database": "Database", "keycloak": "Keycloak", "dns": "DNS"}


@dataclass
class LiveRun:
    """A run started by this process, with every event received so far."""

    handle: RunHandle
    task_total: int | None
    events: list[RunEvent] = field(default_factory=list)
    status: str = "starting"
    rc: int | None = None
    error: str = ""


class QaTuiApp(App[None]):
    """Operate the platform's tenants through the project's playbooks."""

    TITLE = "qa-platform-ops"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        inventory: Path,
        *,
        paths: TuiPaths | None = None,
        settings: PlatformSettings | None = None,
        database: PlatformDatabase | None = None,
        providers: list[NameProvider] | None = None,
        playbooks_dir: Path = PLAYBOOKS_DIR,
        refresh_interval: float = REFRESH_INTERVAL_S,
        vault_password_file: Path | None = None,
    ) -> None:
        super().__init__()
        self.inventory = inventory
        self.paths = paths or TuiPaths(default_data_dir())
        self.settings = settings
        self.database = database
        self.providers = providers
        self.playbooks_dir = playbooks_dir
        self.refresh_interval = refresh_interval
        self.vault_password_file = vault_password_file
        self.runner = PlaybookRunner(self.paths, PROJECT_DIR)
        self.runs: dict[str, LiveRun] = {}
        self.services: dict[str, ServiceState] = {}
        self.rows: list[TenantRow] = []
        self._rows_read_at = 0.0
        self.shown_passwords = ShownPasswords(self.paths.state_file)
        self.sub_title = str(inventory)

    def get_default_screen(self) -> Screen[None]:
        return TenantsScreen()

    # Start-up ----------------------------------------------------------

    def on_mount(self) -> None:
        # Data loads after the first paint: importing Ansible, psycopg and
        # boto3 costs over a second.
        self.call_after_refresh(self._start_background)

    def _start_background(self) -> None:
        self._warm_up()
        if self.database is None:
            self._resolve_settings()
        else:
            self._after_settings()

    @work(thread=True, group="startup")
    def _warm_up(self) -> None:
        import ansible_runner  # noqa: F401
        import psycopg  # noqa: F401

    @work(thread=True, exclusive=True, group="settings")
    def _resolve_settings(self) -> None:
        if self.settings is None:
            try:
                settings = resolve_settings(self.inventory, self.vault_password_file)
            except (InventoryError, OSError) as error:
                self.post_message(SettingsFailed(str(error)))
                return
        else:
            settings = self.settings
        self.post_message(SettingsResolved(settings))

    def on_settings_resolved(self, message: SettingsResolved) -> None:
        settings = self.settings = message.settings
        self.database = PlatformDatabase(
            DatabaseParams(
                host=settings.db_host,
                port=settings.db_port,
                dbname=settings.db_name,
                user=settings.db_user,
                password=settings.db_password,
            )
        )
        if self.providers is None:
            self.providers = [
                KeycloakRealms(
                    settings.keycloak_url,
                    settings.keycloak_client_id,
                    settings.keycloak_client_secret,
                    settings.keycloak_ca_file,
                ),
                Route53Records(
                    settings.domain,
                    settings.route53_endpoint,
                    lab_credentials=settings.environment == "lab",
                ),
            ]
        self._after_settings()

    def on_settings_failed(self, message: SettingsFailed) -> None:
        log.error("inventory could not be read: %s", message.detail)
        self.notify(
            f"{message.detail}. Fix the inventory and restart qa-tui.",
            title="Inventory not readable",
            severity="error",
            timeout=30,
        )

    def _after_settings(self) -> None:
        self.action_refresh_tenants()
        self.set_interval(self.refresh_interval, self.action_refresh_tenants)

    # Tenant list -------------------------------------------------------

    def action_refresh_tenants(self) -> None:
        if self.database is not None:
            self._refresh()

    def _record_name(self, subdomain: str) -> str:
        if self.settings is not None:
            return self.settings.tenant_record(subdomain)
        return subdomain

    @work(thread=True, exclusive=True, group="refresh")
    def _refresh(self) -> None:
        assert self.database is not None
        providers = list(self.providers or [])
        self._prepare_lab_ca(providers)
        # Until the list has rows, show them before Keycloak and DNS reply.
        on_rows = None if self.rows else self._post_rows
        try:
            snapshot = check_all(
                self.database, providers, self._record_name, on_rows=on_rows
            )
        except ServiceUnavailable as error:
            self.post_message(ServiceFailed(error.service, error.detail))
            return
        self.post_message(TenantsLoaded(snapshot))

    def _post_rows(self, snapshot: Snapshot) -> None:
        self.post_message(TenantsLoaded(snapshot))

    def _forget_realms(self, tenant_id: str | None) -> None:
        """Have the next refresh read again the realms a run may have changed."""
        names = None
        if tenant_id:
            names = {row.realm_name for row in self.rows if row.tenant_id == tenant_id}
        for provider in self.providers or []:
            if isinstance(provider, KeycloakRealms):
                provider.forget(names)

    def _prepare_lab_ca(self, providers: list[NameProvider]) -> None:
        """Fetch the lab's ACME root for Keycloak's certificate (lab only)."""
        settings = self.settings
        if settings is None or settings.environment != "lab":
            return
        for provider in providers:
            if isinstance(provider, KeycloakRealms) and provider.ca_file is None:
                from tui.core.inventory import _lab_summary

                pebble = _lab_summary().get("pebble") or {}
                lab_ca, management = (
                    pebble.get("ca_certificate"),
                    pebble.get("management"),
                )
                if not lab_ca or not management:
                    return
                try:
                    bundle = lab_ca_bundle(
                        Path(lab_ca), f"{management}/roots/0", self.paths.ca_bundle
                    )
                except Exception as error:  # requests and OS errors alike
                    log.warning("lab CA bundle not fetched: %s", error)
                    return
                provider.ca_file = str(bundle)

    def on_tenants_loaded(self, message: TenantsLoaded) -> None:
        snapshot = message.snapshot
        # A refresh that was replaced while it waited for Keycloak or DNS
        # still finishes, and its rows are older than those on screen.
        if snapshot.rows_read_at < self._rows_read_at:
            log.debug("dropped a refresh that finished after a newer one")
            return
        self._rows_read_at = snapshot.rows_read_at
        self.rows = snapshot.rows
        for service in ("database", "keycloak", "dns"):
            state = snapshot.services.get(service)
            if state is None and snapshot.partial:
                continue
            self._set_service(service, state or ServiceState(service, "unknown"))
        screen = self._tenants_screen()
        if screen is not None:
            changed = screen.table.set_rows(snapshot.rows)
            screen.show_summary()
            log.debug(
                "tenant list refreshed: %d rows, %d changed",
                len(snapshot.rows),
                changed,
            )

    def on_service_failed(self, message: ServiceFailed) -> None:
        self._set_service(
            message.service, ServiceState(message.service, DOWN, message.detail)
        )
        # Without the database nothing else is asked: mark the rest unknown.
        for service in ("keycloak", "dns"):
            if service != message.service and self.services.get(service) is None:
                self.services[service] = ServiceState(service, "unknown")
        self._show_services()

    def _set_service(self, service: str, state: ServiceState) -> None:
        previous = self.services.get(service)
        self.services[service] = state
        name = SERVICE_NAMES.get(service, service)
        if state.state == DOWN and (previous is None or previous.state != DOWN):
            log.error("%s unreachable: %s", service, state.detail)
            self.notify(
                f"{state.detail}. The list keeps the last data and retries every "
                f"{self.refresh_interval:g} s.",
                title=f"{name} unreachable",
                severity="error",
                timeout=15,
            )
        elif state.state == UP and previous is not None and previous.state == DOWN:
            log.info("%s reachable again", service)
            self.notify(f"{name} is reachable again.", title=f"{name} back")
        self._show_services()

    def _show_services(self) -> None:
        screen = self._tenants_screen()
        if screen is None:
            return
        parts = []
        for service, name in SERVICE_NAMES.items():
            state = self.services.get(service)
            label = state.state if state else "unknown"
            text = f"{name}: {label.upper() if label == DOWN else label}"
            parts.append(f"[red]{text}[/red]" if label == DOWN else text)
        screen.services.update("   ".join(parts))

    def _tenants_screen(self) -> TenantsScreen | None:
        for screen in self.screen_stack:
            if isinstance(screen, TenantsScreen):
                return screen
        return None

    def service_marker(self, service: str) -> str:
        """Return up, down or unknown for a service."""
        state = self.services.get(service)
        return state.state if state else "unknown"

    # Tenant details ----------------------------------------------------

    def on_tenant_table_selected(self, message: object) -> None:
        row = getattr(message, "row", None)
        if isinstance(row, TenantRow):
            self.push_screen(DetailScreen(row))
            self._load_detail(row)

    @work(thread=True, exclusive=True, group="detail")
    def _load_detail(self, row: TenantRow) -> None:
        if self.database is None or not row.has_db_row:
            from tui.core.tenants import TenantDetail

            self.post_message(TenantDetailLoaded(TenantDetail(row=row)))
            return
        try:
            detail = self.database.detail(row)
        except ServiceUnavailable as error:
            self.post_message(ServiceFailed(error.service, error.detail))
            return
        if self.settings is not None:
            from dataclasses import replace

            detail = replace(
                detail,
                admin_username=admin_username(
                    self.settings.credentials_dir, row.tenant_id
                ),
            )
        self.post_message(TenantDetailLoaded(detail))

    def on_tenant_detail_loaded(self, message: TenantDetailLoaded) -> None:
        screen = self.screen
        if (
            isinstance(screen, DetailScreen)
            and screen.row.tenant_id == message.detail.row.tenant_id
        ):
            screen.show_detail(
                message.detail, self.history_records(message.detail.row.tenant_id)
            )

    def _selected_tenant(self) -> TenantRow | None:
        screen = self.screen
        if isinstance(screen, DetailScreen):
            return screen.row
        tenants = self._tenants_screen()
        return tenants.table.current if tenants is not None else None

    # Lifecycle operations ----------------------------------------------

    def action_suspend(self) -> None:
        self._confirm_lifecycle("suspend")

    def action_resume(self) -> None:
        self._confirm_lifecycle("resume")

    def action_remove(self) -> None:
        self._confirm_lifecycle(
            "remove",
            "Removal deletes the realm, the DNS record and every database row of "
            "the tenant; a dump of its rows is kept.",
        )

    def _confirm_lifecycle(self, operation: str, warning: str = "") -> None:
        row = self._selected_tenant()
        if row is None:
            self.notify("Select a tenant first.", title=f"Nothing to {operation}")
            return
        if not row.has_db_row:
            self.notify(
                f"{row.tenant_id} has no tenant row ({row.orphan_of}); remove it "
                "with the service's own tools.",
                title=f"Cannot {operation}",
                severity="warning",
            )
            return

        def confirmed(answer: bool | None) -> None:
            if answer:
                self.start_lifecycle(operation, row.tenant_id)

        self.push_screen(ConfirmScreen(operation, row.tenant_id, warning), confirmed)

    def start_lifecycle(self, operation: str, tenant_id: str) -> RunHandle | None:
        """Start suspend, resume or remove for ``tenant_id``."""
        try:
            request = lifecycle_request(
                operation,
                tenant_id,
                self.inventory,
                vault_password_file=self.vault_password_file,
            )
        except PlaybookMissing as error:
            self.notify(
                str(error), title=f"Cannot {operation} {tenant_id}", severity="error"
            )
            return None
        return self.start_run(request)

    def action_onboard(self) -> None:
        self.push_screen(OnboardScreen())

    def on_onboard_screen_submitted(self, message: OnboardScreen.Submitted) -> None:
        self.onboard(message.tenant, message.check)

    def onboard(self, tenant: dict[str, object], check: bool) -> RunHandle | None:
        """Write the tenant file and run the provisioning playbook."""
        tenant_id = str(tenant.get("tenant_id"))
        try:
            tenant_file = write_tenant_file(tenant, self.paths.tenant_files_dir)
            request = provision_request(
                tenant_file,
                tenant_id,
                self.inventory,
                check,
                vault_password_file=self.vault_password_file,
            )
        except tenant_spec.TenantSpecError as error:
            self.notify(
                "; ".join(problem.message for problem in error.problems),
                title="Tenant not valid",
                severity="error",
            )
            return None
        except PlaybookMissing as error:
            self.notify(
                str(error), title=f"Cannot onboard {tenant_id}", severity="error"
            )
            return None
        except OSError as error:
            self.notify(
                f"tenant file not written in {self.paths.tenant_files_dir}: "
                f"{error.strerror}. Check the folder's permissions.",
                title=f"Cannot onboard {tenant_id}",
                severity="error",
            )
            return None
        return self.start_run(request)

    # Runs --------------------------------------------------------------

    def start_run(self, request: RunRequest) -> RunHandle | None:
        """Start a run, show its view at once and drain its events."""
        try:
            handle = self.runner.start(request)
        except OSError as error:
            self.notify(
                f"artifacts folder {self.paths.artifacts_dir} not writable: "
                f"{error.strerror}. Set QA_TUI_DATA_DIR to a writable folder.",
                title=f"Cannot start {request.title}",
                severity="error",
            )
            return None
        live = LiveRun(handle, estimate_task_count(request.playbook))
        self.runs[handle.ident] = live
        log.info("run %s started: %s", handle.ident, request.title)
        self.push_screen(RunScreen(handle.ident, request.title, live.task_total))
        self.post_message(RunStarted(handle))
        self._drain(handle)
        return handle

    @work(thread=True, group="runs")
    def _drain(self, handle: RunHandle) -> None:
        """Move a run's events from its queue into messages, in order."""
        posted_at = 0.0
        errors: list[str] = []
        while True:
            items = [handle.events.get()]
            deadline = posted_at + EVENT_MESSAGE_INTERVAL_S
            while len(items) < EVENT_BATCH_MAX and items[-1].kind != "finished":
                timeout = deadline - time.monotonic()
                try:
                    if timeout > 0:
                        items.append(handle.events.get(timeout=timeout))
                    else:
                        items.append(handle.events.get_nowait())
                except queue.Empty:
                    break
            events = [
                parse_event(item.payload) for item in items if item.kind == "event"
            ]
            if events:
                self.post_message(RunEventsReceived(handle.ident, events))
                posted_at = time.monotonic()
            errors += [
                str(item.payload.get("message"))
                for item in items
                if item.kind == "error"
            ]
            for item in items:
                if item.kind == "finished":
                    self.post_message(
                        RunFinished(
                            handle.ident,
                            str(item.payload["status"]),
                            item.payload.get("rc"),
                            "; ".join(errors),
                        )
                    )
                    return

    def _run_screen(self, ident: str) -> RunScreen | None:
        for screen in self.screen_stack:
            if (
                isinstance(screen, RunScreen)
                and screen.ident == ident
                and not screen.replay
            ):
                return screen
        return None

    def on_run_events_received(self, message: RunEventsReceived) -> None:
        live = self.runs.get(message.ident)
        if live is not None:
            live.events.extend(message.events)
            live.status = "running"
        screen = self._run_screen(message.ident)
        if screen is not None:
            screen.add_events(message.events)

    def on_run_finished(self, message: RunFinished) -> None:
        live = self.runs.get(message.ident)
        if live is None:
            return
        live.status, live.rc, live.error = message.status, message.rc, message.error
        request = live.handle.request
        log.info("run %s finished: %s rc=%s", message.ident, message.status, message.rc)
        screen = self._run_screen(message.ident)
        if screen is not None:
            screen.set_finished(message.status, message.rc, message.error)
        if message.status == "successful":
            self.notify(f"{request.title} finished successfully.", title="Run finished")
        else:
            failed = next(
                (
                    event
                    for event in reversed(live.events)
                    if event.result in ("failed", "unreachable")
                ),
                None,
            )
            reason = (
                f"task '{failed.task}' on {failed.host}: {failed.message}"
                if failed
                else message.error or f"rc {message.rc}"
            )
            self.notify(
                f"{request.title} {message.status}: {reason}. "
                "See the run view or the history.",
                title="Run failed",
                severity="error",
                timeout=20,
            )
        if not request.check:
            self._forget_realms(request.tenant_id)
        self.action_refresh_tenants()
        if (
            message.status == "successful"
            and request.tenant_id
            and not request.check
            and request.playbook.name == "tenant_provision.yml"
        ):
            self.show_password_once(request.tenant_id)

    def cancel_run(self, ident: str) -> None:
        live = self.runs.get(ident)
        if live is None or live.handle.finished.is_set():
            self.notify("This run is not running.", title="Nothing to cancel")
            return
        live.handle.cancel()
        self.notify(
            f"Cancel requested for {live.handle.request.title}.", title="Canceling"
        )

    # Passwords ---------------------------------------------------------

    def action_show_password(self) -> None:
        row = self._selected_tenant()
        if row is not None:
            self.show_password_once(row.tenant_id)

    def show_password_once(self, tenant_id: str) -> None:
        """Show a new admin's temporary password if it was never shown."""
        if self.shown_passwords.was_shown(tenant_id):
            self.notify(
                f"The temporary password of {tenant_id} was already shown once. "
                "Reset the admin's password in Keycloak if it was lost.",
                title="Password already shown",
                severity="warning",
            )
            return
        credentials_dir = (
            self.settings.credentials_dir
            if self.settings is not None
            else Path("/var/lib/qa-platform/credentials")
        )
        try:
            credentials = read_credentials(credentials_dir, tenant_id)
        except CredentialsError as error:
            self.notify(str(error), title="No password to show", severity="warning")
            return
        try:
            self.shown_passwords.mark_shown(tenant_id)
        except OSError as error:
            self.notify(
                f"state file {self.paths.state_file} not writable ({error.strerror}); "
                "the password is not shown, because it could be shown twice.",
                title="Password not shown",
                severity="error",
            )
            return
        log.info("temporary password of %s shown", tenant_id)
        self.push_screen(PasswordScreen(credentials))

    # History -----------------------------------------------------------

    def history_records(self, tenant_id: str | None = None) -> list[history.RunRecord]:
        live = frozenset(
            ident
            for ident, run in self.runs.items()
            if not run.handle.finished.is_set()
        )
        return history.list_runs(self.paths.artifacts_dir, live, tenant_id=tenant_id)

    def action_history(self) -> None:
        self.push_screen(
            HistoryScreen(self.history_records(), str(self.paths.artifacts_dir))
        )

    def on_history_screen_replay_requested(
        self, message: HistoryScreen.ReplayRequested
    ) -> None:
        record = message.record
        live = self.runs.get(record.ident)
        if live is not None and not live.handle.finished.is_set():
            # Still running: show the live view with what arrived so far.
            screen = RunScreen(record.ident, record.title, live.task_total)
            screen.add_events(list(live.events))
            self.push_screen(screen)
            return
        screen = RunScreen(record.ident, record.title, None, replay=True)
        self.push_screen(screen)
        self._load_replay(screen, record)

    @work(thread=True, group="replay")
    def _load_replay(self, screen: RunScreen, record: history.RunRecord) -> None:
        events = history.load_events(record.folder)
        self.call_from_thread(self._show_replay, screen, record, events)

    def _show_replay(
        self, screen: RunScreen, record: history.RunRecord, events: list[RunEvent]
    ) -> None:
        screen.add_events(events)
        screen.set_finished(record.status, record.rc)

    def action_help(self) -> None:
        self.push_screen(HelpScreen())


def _configure_logging(paths: TuiPaths) -> None:
    paths.create()
    handler = logging.FileHandler(paths.log_file)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
    )
    log.addHandler(handler)
    log.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and run the TUI."""
    parser = argparse.ArgumentParser(
        prog="qa-tui", description="Operate the platform's tenants."
    )
    parser.add_argument(
        "--inventory",
        type=Path,
        default=PROJECT_DIR / "inventories" / "local",
        help="Ansible inventory of the platform (default: inventories/local)",
    )
    parser.add_argument(
        "--vault-password-file",
        type=Path,
        default=None,
        help="file with the inventory's vault password (passed to every run as a path)",
    )
    parser.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="folder for run artifacts (the history), state and log "
        "(default: $QA_TUI_DATA_DIR, /var/lib/qa-platform/tui as root, "
        "else ~/.local/state/qa-platform/tui)",
    )
    args = parser.parse_args(argv)
    inventory = args.inventory.resolve()
    if not inventory.exists():
        parser.error(
            f"inventory {inventory} not found; pass --inventory with a valid path"
        )
    # Ansible reads the project's ansible.cfg (collections and lookups) when
    # the TUI resolves the inventory in process.
    os.environ.setdefault("ANSIBLE_CONFIG", str(PROJECT_DIR / "ansible.cfg"))
    paths = TuiPaths(args.data_dir or default_data_dir())
    try:
        _configure_logging(paths)
    except OSError as error:
        parser.error(
            f"data folder {paths.data_dir} not writable: {error.strerror}; "
            "pass --data-dir"
        )
    QaTuiApp(inventory, paths=paths, vault_password_file=args.vault_password_file).run()


if __name__ == "__main__":
    main()
