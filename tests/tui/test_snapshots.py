"""Snapshots of each screen, with times, durations and run ids masked."""

from __future__ import annotations

import time
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

import pytest
from textual.pilot import Pilot

from tests.tui.conftest import LOCAL_INVENTORY, SAMPLE_PLAYBOOK
from tui import format as fmt
from tui.app import QaTuiApp
from tui.core.database import DatabaseParams, PlatformDatabase
from tui.core.inventory import PlatformSettings
from tui.core.paths import TuiPaths
from tui.core.runs import PlaybookRunner, RunRequest
from tui.core.tenants import TenantDetail, TenantRow
from tui.screens.dialogs import ConfirmScreen

SIZE = (150, 40)


class FixedDatabase(PlatformDatabase):
    """Fixed tenant rows, so the snapshots do not depend on a server."""

    def __init__(self) -> None:
        super().__init__(DatabaseParams("127.0.0.1", 1, "none", "none"))

    def tenants(self) -> list[TenantRow]:
        return [
            TenantRow("acme", "ACME Corporation", "active", "professional", "acme",
                      "acme", 42, 100, 5120, 10000),
            TenantRow("default", "QA Platform - Default Tenant", "active", "free",
                      "qa-default", None, 3, 10, 0, 1000),
            TenantRow("globex", "Globex", "suspended", "starter", "globex",
                      "globex", 9, 10, 990, 1000),
        ]  # fmt: skip

    def detail(self, row: TenantRow) -> TenantDetail:
        return TenantDetail(
            row=row,
            company_name="ACME Corporation Ltd.",
            industry="Technology",
            company_size="medium",
            features=["api_access", "sso"],
            settings={"branding": {"primary_color": "#0066cc"}},
            max_storage_gb=10,
            created_at="2025-01-01 00:00 UTC",
            usage={
                "user_count": 42,
                "max_users": 100,
                "calls_this_month": 5120,
                "max_calls_per_month": 10000,
                "storage_bytes": 1048576,
                "max_storage_gb": 10,
                "storage_pct": 0.01,
                "api_calls_this_month": 77,
            },
        )


class FixedRealms:
    service = "keycloak"

    def names(self, expected: Collection[str]) -> set[str]:
        return {"master", "qa-default", "acme"} & set(expected)


class FixedRecords:
    service = "dns"

    def names(self, expected: Collection[str]) -> set[str]:
        return {"acme.qa.platform.test"}


@pytest.fixture(autouse=True)
def _mask_volatile(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fmt, "MASK_VOLATILE", True)


@pytest.fixture(scope="module")
def recorded_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TuiPaths]:
    """A data folder holding one finished run of the sample playbook."""
    paths = TuiPaths(tmp_path_factory.mktemp("snapshots") / "tui-data")
    handle = PlaybookRunner(paths).start(
        RunRequest(
            playbook=SAMPLE_PLAYBOOK, inventory=LOCAL_INVENTORY, title="sample run"
        )
    )
    assert handle.finished.wait(120)
    yield paths


def make_app(paths: TuiPaths) -> QaTuiApp:
    settings = PlatformSettings(
        inventory=LOCAL_INVENTORY, environment="test", domain="platform.test",
        db_host="127.0.0.1", db_port=1, db_name="none", db_user="none",
        db_password=None, keycloak_url="https://auth.platform.test",
        keycloak_client_id="qa-automation", keycloak_client_secret=None,
        keycloak_ca_file=None, route53_endpoint=None,
        credentials_dir=paths.data_dir / "credentials", vault_password_file=None,
    )  # fmt: skip
    app = QaTuiApp(
        LOCAL_INVENTORY,
        paths=paths,
        settings=settings,
        database=FixedDatabase(),
        providers=[FixedRealms(), FixedRecords()],
        refresh_interval=3600,
    )
    app.sub_title = "inventories/local"
    return app


async def settle(pilot: Pilot[Any]) -> None:
    app = pilot.app
    deadline = time.monotonic() + 10
    while not getattr(app, "rows", None) and time.monotonic() < deadline:
        await pilot.pause(0.05)
    await app.workers.wait_for_complete()
    await pilot.pause()


def test_tenant_list(snap_compare: Any, tmp_path: Path) -> None:
    assert snap_compare(
        make_app(TuiPaths(tmp_path / "d")), terminal_size=SIZE, run_before=settle
    )


def test_tenant_detail(snap_compare: Any, tmp_path: Path) -> None:
    async def open_detail(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()

    assert snap_compare(
        make_app(TuiPaths(tmp_path / "d")), terminal_size=SIZE, run_before=open_detail
    )


def test_onboard_form(snap_compare: Any, tmp_path: Path) -> None:
    async def open_form(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("o")
        await pilot.press(*"Bad_Id")
        await pilot.pause()

    assert snap_compare(
        make_app(TuiPaths(tmp_path / "d")), terminal_size=SIZE, run_before=open_form
    )


def test_history_and_replay(snap_compare: Any, recorded_run: TuiPaths) -> None:
    async def replay(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("h")
        await pilot.press("enter")
        await pilot.app.workers.wait_for_complete()
        await pilot.pause(0.2)

    assert snap_compare(make_app(recorded_run), terminal_size=SIZE, run_before=replay)


def test_history_list(snap_compare: Any, recorded_run: TuiPaths) -> None:
    async def open_history(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("h")
        await pilot.pause()

    assert snap_compare(
        make_app(recorded_run), terminal_size=SIZE, run_before=open_history
    )


def test_help(snap_compare: Any, tmp_path: Path) -> None:
    async def open_help(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause()

    assert snap_compare(
        make_app(TuiPaths(tmp_path / "d")), terminal_size=SIZE, run_before=open_help
    )


def test_remove_confirmation(snap_compare: Any, tmp_path: Path) -> None:
    async def open_confirm(pilot: Pilot[Any]) -> None:
        await settle(pilot)
        await pilot.app.push_screen(
            ConfirmScreen("remove", "acme", "Removal deletes it.")
        )
        await pilot.press(*"ac")
        await pilot.pause()

    assert snap_compare(
        make_app(TuiPaths(tmp_path / "d")), terminal_size=SIZE, run_before=open_confirm
    )
