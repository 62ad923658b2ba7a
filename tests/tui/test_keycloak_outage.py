"""The TUI against the lab's real Keycloak, reached through a TCP relay that
the test cuts and restores, so Keycloak goes away and comes back for the app
without the lab's container being stopped."""

from __future__ import annotations

import contextlib
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.tui.conftest import LOCAL_INVENTORY, Cluster, free_port, running, wait_for
from tui.app import QaTuiApp
from tui.core.database import ServiceUnavailable
from tui.core.inventory import PlatformSettings
from tui.core.paths import TuiPaths
from tui.core.status import REALM_MAX_AGE_S, REALM_RECHECK_BUDGET_S, KeycloakRealms

KEYCLOAK = ("127.0.0.1", 8080)
CLIENT_SECRET_FILE = Path("/var/lib/qa-lab/secrets/keycloak_automation_client")


class Relay:
    """A loopback TCP relay to Keycloak that can be cut and restored.

    When cut, it closes its listening socket and every open connection, so
    the app gets "connection refused", as from a stopped Keycloak.
    """

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.port = free_port()
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    def restore(self) -> None:
        """Listen on the relay's port again and forward new connections."""
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def cut(self) -> None:
        """Stop listening and close every forwarded connection."""
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self._lock:
            connections, self._connections = self._connections, []
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(
                    target=self._pump, args=(source, sink), daemon=True
                ).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := source.recv(65536):
                sink.sendall(chunk)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)


@pytest.fixture
def relay() -> Iterator[Relay]:
    with contextlib.closing(socket.create_connection(KEYCLOAK, timeout=5)):
        pass
    relay = Relay(KEYCLOAK)
    relay.restore()
    yield relay
    relay.cut()


def make_app(cluster: Cluster, tui_paths: TuiPaths, relay: Relay) -> QaTuiApp:
    url = f"http://127.0.0.1:{relay.port}"
    secret = CLIENT_SECRET_FILE.read_text().strip()
    settings = PlatformSettings(
        inventory=LOCAL_INVENTORY,
        environment="test",
        domain="platform.test",
        db_host="127.0.0.1",
        db_port=cluster.port,
        db_name="qa_platform",
        db_user="qa_operator",
        db_password=None,
        keycloak_url=url,
        keycloak_client_id="qa-automation",
        keycloak_client_secret=secret,
        keycloak_ca_file=None,
        route53_endpoint=None,
        credentials_dir=tui_paths.data_dir / "credentials",
        vault_password_file=None,
    )
    providers = [KeycloakRealms(url, "qa-automation", secret)]
    return QaTuiApp(
        LOCAL_INVENTORY,
        paths=tui_paths,
        settings=settings,
        providers=providers,  # type: ignore[arg-type]
        refresh_interval=0.3,
    )


def realm_exists(app: QaTuiApp, tenant_id: str) -> bool | None:
    row = next(row for row in app.rows if row.tenant_id == tenant_id)
    return row.realm_exists


async def test_lab_keycloak_cut_then_restored(
    platform: Cluster, tui_paths: TuiPaths, relay: Relay
) -> None:
    app = make_app(platform, tui_paths, relay)
    async with running(app) as pilot:
        await wait_for(
            pilot, lambda: app.service_marker("keycloak") == "up", what="kc up"
        )
        # The lab's Keycloak contains the default tenant's realm.
        await wait_for(
            pilot, lambda: realm_exists(app, "default") is True, what="realm seen"
        )

        relay.cut()
        await wait_for(
            pilot, lambda: app.service_marker("keycloak") == "down", what="kc down"
        )
        await wait_for(
            pilot, lambda: realm_exists(app, "default") is None, what="unknown"
        )
        titles = [notification.title for notification in app._notifications]
        assert "Keycloak unreachable" in titles

        relay.restore()
        await wait_for(
            pilot, lambda: app.service_marker("keycloak") == "up", what="kc back"
        )
        await wait_for(
            pilot, lambda: realm_exists(app, "default") is True, what="realm again"
        )
        titles = [notification.title for notification in app._notifications]
        assert "Keycloak back" in titles


# The realm provider on its own ------------------------------------------


def lab_realms(
    max_age_s: float = REALM_MAX_AGE_S,
    recheck_budget_s: float = REALM_RECHECK_BUDGET_S,
    base_url: str = f"http://{KEYCLOAK[0]}:{KEYCLOAK[1]}",
) -> KeycloakRealms:
    return KeycloakRealms(
        base_url,
        "qa-automation",
        CLIENT_SECRET_FILE.read_text().strip(),
        max_age_s=max_age_s,
        recheck_budget_s=recheck_budget_s,
    )


@pytest.fixture
def scratch_realm() -> Iterator[tuple[str, Any]]:
    """Yield a realm name that does not exist yet and a function that
    creates it, then delete the realm."""
    name = f"tui-read-{uuid.uuid4().hex[:8]}"
    provider = lab_realms()
    session = requests.Session()

    def create() -> None:
        session.headers["Authorization"] = f"Bearer {provider._token(session)}"
        response = session.post(
            f"{provider.base_url}/admin/realms",
            json={"realm": name, "enabled": False},
            timeout=60,
        )
        assert response.status_code == 201, response.text

    yield name, create
    session.headers["Authorization"] = f"Bearer {provider._token(session)}"
    session.delete(f"{provider.base_url}/admin/realms/{name}", timeout=60)
    session.close()


def test_realms_are_read_by_name(scratch_realm: tuple[str, Any]) -> None:
    name, _ = scratch_realm
    provider = lab_realms()
    assert provider.names({"qa-default", name, "master"}) == {"qa-default", "master"}


def test_cached_lookups_last_until_forgotten(scratch_realm: tuple[str, Any]) -> None:
    name, create = scratch_realm
    cached, fresh = lab_realms(max_age_s=3600), lab_realms(max_age_s=0)
    assert cached.names({name}) == set()
    assert fresh.names({name}) == set()
    create()
    assert cached.names({name}) == set(), "a cached lookup was read again"
    assert fresh.names({name}) == {name}, "a stale lookup was not read again"
    cached.forget({name})
    assert cached.names({name}) == {name}


def test_recheck_budget_leaves_the_rest_for_later() -> None:
    names = {f"tui-absent-{index}" for index in range(40)}
    provider = lab_realms(max_age_s=0, recheck_budget_s=0)
    assert provider.names(names) == set()
    read_at = dict(provider._known)
    provider.names(names)
    reread = [name for name in names if provider._known[name] != read_at[name]]
    # With no budget, each call still reads one old lookup again.
    assert len(reread) == 1


def test_outage_reported_despite_fresh_cache(relay: Relay) -> None:
    provider = lab_realms(max_age_s=3600, base_url=f"http://127.0.0.1:{relay.port}")
    assert provider.names({"qa-default"}) == {"qa-default"}
    relay.cut()
    with pytest.raises(ServiceUnavailable, match="unreachable"):
        provider.names({"qa-default"})
    relay.restore()
    assert provider.names({"qa-default"}) == {"qa-default"}
