"""The TUI against the lab's real Keycloak, reached through a TCP relay that
the test cuts and restores, so Keycloak goes away and comes back for the app
without the lab's container being stopped."""

from __future__ import annotations

import contextlib
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.conftest import LOCAL_INVENTORY, Cluster, free_port, running, wait_for
from tui.app import QaTuiApp
from tui.core.inventory import PlatformSettings
from tui.core.paths import TuiPaths
from tui.core.status import KeycloakRealms

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
