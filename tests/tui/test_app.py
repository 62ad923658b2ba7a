"""Pilot tests of the real app: PostgreSQL, moto and ansible-runner are real;
Keycloak is a status provider the test switches on and off, because the
lab's Keycloak is not part of these tests' fixtures."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from textual.widgets import Button, Input, Static

from tests.tui.conftest import (
    LOCAL_INVENTORY,
    SAMPLE_PLAYBOOK,
    SAMPLE_TASKS,
    Cluster,
    add_tenant,
    running,
    wait_for,
)
from tui.app import QaTuiApp
from tui.core.database import ServiceUnavailable
from tui.core.inventory import PlatformSettings
from tui.core.operations import LIFECYCLE_PLAYBOOKS, PLAYBOOKS_DIR
from tui.core.paths import TuiPaths
from tui.core.runs import RunRequest
from tui.core.status import Route53Records
from tui.screens.dialogs import ConfirmScreen, PasswordScreen
from tui.screens.history import HistoryScreen
from tui.screens.onboard import OnboardScreen
from tui.screens.run_view import RunScreen
from tui.screens.tenants import TenantsScreen

DOMAIN = "platform.test"


class SwitchableRealms:
    """Realm names with an on/off switch standing in for Keycloak going down."""

    service = "keycloak"

    def __init__(self, realms: set[str]) -> None:
        self.realms = realms
        self.up = True

    def names(self, expected: Collection[str]) -> set[str]:
        if not self.up:
            raise ServiceUnavailable(
                self.service, "https://auth.platform.test unreachable"
            )
        return self.realms & set(expected)


@pytest.fixture
def zone(moto_endpoint: str) -> Iterator[Any]:
    client = boto3.client(
        "route53",
        endpoint_url=moto_endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - moto accepts any key
    )
    zone_id = client.create_hosted_zone(Name=DOMAIN, CallerReference=str(id(client)))[
        "HostedZone"
    ]["Id"]
    yield client, zone_id
    records = client.list_resource_record_sets(HostedZoneId=zone_id)[
        "ResourceRecordSets"
    ]
    changes = [
        {"Action": "DELETE", "ResourceRecordSet": record}
        for record in records
        if record["Type"] not in ("SOA", "NS")
    ]
    if changes:
        client.change_resource_record_sets(
            HostedZoneId=zone_id, ChangeBatch={"Changes": changes}
        )
    client.delete_hosted_zone(Id=zone_id)


def add_record(zone: Any, label: str) -> None:
    client, zone_id = zone
    client.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "UPSERT",
                    "ResourceRecordSet": {
                        "Name": f"{label}.qa.{DOMAIN}",
                        "Type": "CNAME",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": f"qa.{DOMAIN}"}],
                    },
                }
            ]
        },
    )


def settings_for(
    cluster: Cluster, tmp_path: Path, moto_endpoint: str
) -> PlatformSettings:
    return PlatformSettings(
        inventory=LOCAL_INVENTORY,
        environment="test",
        domain=DOMAIN,
        db_host="127.0.0.1",
        db_port=cluster.port,
        db_name="qa_platform",
        db_user="qa_operator",
        db_password=None,
        keycloak_url="https://auth.platform.test",
        keycloak_client_id="qa-automation",
        keycloak_client_secret=None,
        keycloak_ca_file=None,
        route53_endpoint=moto_endpoint,
        credentials_dir=tmp_path / "credentials",
        vault_password_file=None,
    )


def make_app(
    cluster: Cluster,
    tui_paths: TuiPaths,
    tmp_path: Path,
    moto_endpoint: str,
    realms: SwitchableRealms,
    refresh: float = 0.3,
) -> QaTuiApp:
    settings = settings_for(cluster, tmp_path, moto_endpoint)
    return QaTuiApp(
        LOCAL_INVENTORY,
        paths=tui_paths,
        settings=settings,
        providers=[
            realms,
            Route53Records(DOMAIN, moto_endpoint, lab_credentials=True),
        ],
        refresh_interval=refresh,
    )


def tenants_screen(app: QaTuiApp) -> TenantsScreen:
    screen = app._tenants_screen()
    assert screen is not None
    return screen


def row_of(app: QaTuiApp, tenant_id: str) -> Any:
    return next((row for row in app.rows if row.tenant_id == tenant_id), None)


async def test_list_shows_tenants_with_usage(
    platform: Cluster,
    tui_paths: TuiPaths,
    tmp_path: Path,
    moto_endpoint: str,
    zone: Any,
) -> None:
    with platform.connect() as conn:
        add_tenant(conn, "acme", users=3, calls=12, max_users=4, subdomain="acme")
        add_tenant(conn, "globex", status="suspended", subdomain="globex")
    add_record(zone, "acme")
    add_record(zone, "stale")
    realms = SwitchableRealms({"master", "qa-default", "acme", "stale-realm"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms)
    async with running(app) as pilot:
        # The first load paints the rows before Keycloak and DNS answer, so
        # wait for the service markers, which only a full refresh sets.
        await wait_for(
            pilot,
            lambda: (
                row_of(app, "acme") is not None
                and app.service_marker("keycloak") == "up"
                and app.service_marker("dns") == "up"
            ),
            what="tenant rows with realm and DNS columns",
        )
        table = tenants_screen(app).table
        acme = row_of(app, "acme")
        assert acme.user_count == 3
        assert acme.calls_this_month == 12
        assert acme.consistent
        globex = row_of(app, "globex")
        assert globex.missing == ["realm globex", "DNS record"]
        assert row_of(app, "realm:stale-realm") is None
        orphan = row_of(app, "dns:stale")
        assert orphan.missing == ["database row"]
        assert table.row_count == 4
        rendered = "\n".join(
            "".join(segment.text for segment in table.render_line(y))
            for y in range(table.row_count)
        )
        assert "3/4 75%" in rendered
        assert "12/1,000 1%" in rendered
        await pilot.press("slash")
        await pilot.press(*"suspended")
        await pilot.pause()
        assert [row.tenant_id for row in table.visible_rows()] == ["globex"]
        await pilot.press("enter")
        table.set_filter("")
        await pilot.press("2")
        assert table.sort_column == "display_name"
        await pilot.press("2")
        assert table.sort_reverse


async def test_changed_tenant_redraws_only_its_row(
    platform: Cluster,
    tui_paths: TuiPaths,
    tmp_path: Path,
    moto_endpoint: str,
    zone: Any,
) -> None:
    del zone
    with platform.connect() as conn:
        add_tenant(conn, "acme")
        add_tenant(conn, "initech")
    realms = SwitchableRealms({"qa-default", "acme", "initech"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms)
    async with running(app) as pilot:
        await wait_for(pilot, lambda: row_of(app, "initech") is not None, what="rows")
        table = tenants_screen(app).table
        with platform.connect() as conn:
            add_tenant(conn, "zeta")
            conn.execute(
                "UPDATE tenants SET status = 'suspended' WHERE tenant_id = 'acme'"
            )
            conn.commit()
        await wait_for(
            pilot,
            lambda: (
                row_of(app, "acme") is not None
                and row_of(app, "acme").status == "suspended"
            ),
            what="acme suspended",
        )
        assert table.set_rows(list(app.rows)) == 0
        with platform.connect() as conn:
            conn.execute(
                "UPDATE tenants SET status = 'active' WHERE tenant_id = 'acme'"
            )
            conn.commit()
        await wait_for(
            pilot, lambda: row_of(app, "acme").status == "active", what="acme active"
        )


async def test_database_down_then_back(
    platform: Cluster,
    tui_paths: TuiPaths,
    tmp_path: Path,
    moto_endpoint: str,
    zone: Any,
) -> None:
    del zone
    realms = SwitchableRealms({"qa-default"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms)
    async with running(app) as pilot:
        await wait_for(
            pilot, lambda: app.service_marker("database") == "up", what="db up"
        )
        platform.stop()
        await wait_for(
            pilot, lambda: app.service_marker("database") == "down", what="db down"
        )
        services = tenants_screen(app).query_one("#services", Static)
        assert "Database: DOWN" in str(services.render())
        titles = [notification.title for notification in app._notifications]
        assert "Database unreachable" in titles
        assert row_of(app, "default") is not None, "the last rows stay on screen"
        platform.start()
        await wait_for(
            pilot, lambda: app.service_marker("database") == "up", what="db back"
        )
        titles = [notification.title for notification in app._notifications]
        assert "Database back" in titles


async def test_keycloak_down_marks_realms_unknown(
    platform: Cluster,
    tui_paths: TuiPaths,
    tmp_path: Path,
    moto_endpoint: str,
    zone: Any,
) -> None:
    del zone
    with platform.connect() as conn:
        add_tenant(conn, "acme")
    realms = SwitchableRealms({"qa-default", "acme"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms)
    async with running(app) as pilot:
        await wait_for(
            pilot, lambda: app.service_marker("keycloak") == "up", what="kc up"
        )
        assert row_of(app, "acme").realm_exists is True
        realms.up = False
        await wait_for(
            pilot, lambda: app.service_marker("keycloak") == "down", what="kc down"
        )
        await wait_for(
            pilot, lambda: row_of(app, "acme").realm_exists is None, what="unknown"
        )
        assert row_of(app, "acme").consistent
        assert "Keycloak unreachable" in [n.title for n in app._notifications]
        realms.up = True
        await wait_for(
            pilot, lambda: app.service_marker("keycloak") == "up", what="kc back"
        )
        await wait_for(
            pilot, lambda: row_of(app, "acme").realm_exists is True, what="realm"
        )


async def test_live_run_then_replay(
    platform: Cluster,
    tui_paths: TuiPaths,
    tmp_path: Path,
    moto_endpoint: str,
    zone: Any,
) -> None:
    del zone
    realms = SwitchableRealms({"qa-default"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms, refresh=5)
    async with running(app) as pilot:
        await pilot.pause()
        handle = app.start_run(
            RunRequest(
                playbook=SAMPLE_PLAYBOOK, inventory=LOCAL_INVENTORY, title="sample run"
            )
        )
        assert handle is not None
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, RunScreen)
        assert "started" in str(screen.query_one("#run-status", Static).render())
        await wait_for(pilot, lambda: screen.events_seen > 0, what="first event")
        await wait_for(
            pilot, lambda: screen.status == "failed", timeout=120, what="end"
        )
        assert len(screen.tasks_done) == SAMPLE_TASKS
        assert screen.rc == 2
        failure = str(screen.query_one("#run-failure", Static).render())
        assert "sample failure: the tenant database is not reachable" in failure
        assert "Run failed" in [n.title for n in app._notifications]
        await pilot.press("escape")
        await pilot.press("h")
        history_screen = app.screen
        assert isinstance(history_screen, HistoryScreen)
        assert [record.status for record in history_screen.records] == ["failed"]
        await pilot.press("enter")
        replay = app.screen
        assert isinstance(replay, RunScreen)
        assert replay.replay
        await wait_for(pilot, lambda: replay.events_seen > 0, what="replayed events")
        assert len(replay.tasks_done) == SAMPLE_TASKS
        assert replay.failures[-1].message == failure.split(": ", 1)[1].strip()


async def test_onboard_form_checks_as_you_type(
    platform: Cluster, tui_paths: TuiPaths, tmp_path: Path, moto_endpoint: str
) -> None:
    realms = SwitchableRealms({"qa-default"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms, refresh=30)
    async with running(app) as pilot:
        await pilot.press("o")
        screen = app.screen
        assert isinstance(screen, OnboardScreen)
        await pilot.press(*"Bad_Id")
        problem = str(screen.query_one("#problem-tenant_id", Static).render())
        assert "DNS label" in problem or "lowercase" in problem
        screen.query_one("#field-tenant_id", Input).value = "admin"
        await pilot.pause()
        assert "reserved" in str(
            screen.query_one("#problem-tenant_id", Static).render()
        )
        screen.query_one("#field-tenant_id", Input).value = "acme"
        await pilot.pause()
        assert str(screen.query_one("#problem-tenant_id", Static).render()) == ""
        screen.query_one("#field-max_users", Input).value = "0"
        await pilot.pause()
        assert str(screen.query_one("#problem-max_users", Static).render()) != ""
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert isinstance(app.screen, OnboardScreen), "an invalid form starts no run"
        assert "Tenant not valid" in [n.title for n in app._notifications]


async def test_confirm_needs_typed_tenant_id(
    platform: Cluster, tui_paths: TuiPaths, tmp_path: Path, moto_endpoint: str
) -> None:
    with platform.connect() as conn:
        add_tenant(conn, "acme")
    realms = SwitchableRealms({"qa-default", "acme"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms, refresh=30)
    async with running(app) as pilot:
        await wait_for(pilot, lambda: row_of(app, "acme") is not None, what="rows")
        await pilot.press("s")
        dialog = app.screen
        assert isinstance(dialog, ConfirmScreen)
        assert dialog.tenant_id == "acme"
        await pilot.press(*"acm")
        assert dialog.query_one("#confirm-ok", Button).disabled
        await pilot.press("e")
        assert not dialog.query_one("#confirm-ok", Button).disabled
        await pilot.press("escape")
        assert isinstance(app.screen, TenantsScreen)


async def test_password_shown_once(
    platform: Cluster, tui_paths: TuiPaths, tmp_path: Path, moto_endpoint: str
) -> None:
    password = "Temp-Pass-4242-xyz"  # noqa: S105 - a test value
    credentials = tmp_path / "credentials"
    credentials.mkdir()
    (credentials / "acme.json").write_text(
        json.dumps(
            {
                "tenant_id": "acme",
                "realm": "acme",
                "issuer": "https://auth.platform.test/realms/acme",
                "client_id": "acme-backend",
                "client_secret": "not-shown",
                "admin_username": "admin@acme.example",
                "admin_temporary_password": password,
            }
        )
    )
    realms = SwitchableRealms({"qa-default"})
    app = make_app(platform, tui_paths, tmp_path, moto_endpoint, realms, refresh=30)
    async with running(app) as pilot:
        await pilot.pause()
        app.show_password_once("acme")
        await pilot.pause()
        dialog = app.screen
        assert isinstance(dialog, PasswordScreen)
        assert password in str(dialog.query_one("#password", Static).render())
        await pilot.press("c")
        assert app.clipboard == password
        await pilot.press("escape")
        app.show_password_once("acme")
        await pilot.pause()
        assert not isinstance(app.screen, PasswordScreen)
        assert "Password already shown" in [n.title for n in app._notifications]
    state = tui_paths.state_file.read_text()
    assert "acme" in state
    assert password not in state
    for path in tui_paths.data_dir.rglob("*"):
        if path.is_file():
            assert password.encode() not in path.read_bytes(), path


def lifecycle_playbooks_missing() -> bool:
    return not all(
        (PLAYBOOKS_DIR / name).is_file() for name in LIFECYCLE_PLAYBOOKS.values()
    )


def remove_lab_tenant(tenant_id: str) -> None:
    """Remove a tenant from the lab with the playbook, whatever state it is in."""
    subprocess.run(
        [
            "ansible-playbook",
            str(PLAYBOOKS_DIR / "tenant_remove.yml"),
            "-e",
            f"tenant_id={tenant_id}",
            "-e",
            f"confirm={tenant_id}",
            "-e",
            "keep_dump=false",
        ],
        cwd=PLAYBOOKS_DIR.parent,
        capture_output=True,
        check=False,
        timeout=300,
    )


async def test_onboard_then_suspend_on_lab(tui_paths: TuiPaths) -> None:
    """Onboard through the form against the lab, watch the run, see the
    tenant with usage, suspend it and replay its run."""
    # A run that failed half-way leaves the tenant behind; start clean.
    remove_lab_tenant("tui-pilot")
    try:
        await onboard_suspend_replay_remove(tui_paths)
    finally:
        remove_lab_tenant("tui-pilot")


async def onboard_suspend_replay_remove(tui_paths: TuiPaths) -> None:
    """Drive the lab scenario through the app's screens."""
    app = QaTuiApp(LOCAL_INVENTORY, paths=tui_paths, refresh_interval=1.0)
    tenant = {
        "tenant_id": "tui-pilot",
        "realm_name": "tui-pilot",
        "subdomain": "tui-pilot",
        "display_name": "TUI Pilot",
        "admin_email": "admin@tui-pilot.example",
    }
    async with running(app) as pilot:
        await wait_for(
            pilot, lambda: app.database is not None, timeout=60, what="settings"
        )
        await pilot.press("o")
        form = app.screen
        assert isinstance(form, OnboardScreen)
        form.fill(tenant)
        await pilot.press("ctrl+s")
        await pilot.pause()
        run = app.screen
        assert isinstance(run, RunScreen), "the provisioning playbook did not start"
        await wait_for(
            pilot, lambda: run.status not in ("starting", "running"), timeout=300
        )
        assert run.status == "successful", run.failures
        if isinstance(app.screen, PasswordScreen):
            await pilot.press("escape")
        await wait_for(pilot, lambda: row_of(app, "tui-pilot") is not None, timeout=30)
        assert row_of(app, "tui-pilot").user_count is not None
        app.start_lifecycle("suspend", "tui-pilot")
        await pilot.pause()
        suspend = app.screen
        assert isinstance(suspend, RunScreen)
        await wait_for(
            pilot, lambda: suspend.status not in ("starting", "running"), timeout=300
        )
        assert suspend.status == "successful", suspend.failures
        await wait_for(
            pilot, lambda: row_of(app, "tui-pilot").status == "suspended", timeout=30
        )
        # Back to the tenant list past the suspend and onboarding runs.
        for _ in range(5):
            if not isinstance(app.screen, RunScreen | OnboardScreen):
                break
            await pilot.press("escape")
            await pilot.pause()
        await pilot.press("h")
        await wait_for(pilot, lambda: isinstance(app.screen, HistoryScreen), timeout=10)
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, RunScreen), timeout=10)
        replay = app.screen
        assert isinstance(replay, RunScreen)
        assert replay.replay
        app.start_lifecycle("remove", "tui-pilot")
        await pilot.pause()
        remove = app.screen
        assert isinstance(remove, RunScreen)
        await wait_for(
            pilot, lambda: remove.status not in ("starting", "running"), timeout=300
        )
