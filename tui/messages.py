"""Messages that thread workers post to the app, named for what happened."""

from __future__ import annotations

from textual.message import Message

from tui.core.events import RunEvent
from tui.core.inventory import PlatformSettings
from tui.core.runs import RunHandle
from tui.core.status import Snapshot
from tui.core.tenants import TenantDetail


class SettingsResolved(Message):
    def __init__(self, settings: PlatformSettings) -> None:
        super().__init__()
        self.settings = settings


class SettingsFailed(Message):
    def __init__(self, detail: str) -> None:
        super().__init__()
        self.detail = detail


class TenantsLoaded(Message):
    def __init__(self, snapshot: Snapshot) -> None:
        super().__init__()
        self.snapshot = snapshot


class ServiceFailed(Message):
    def __init__(self, service: str, detail: str) -> None:
        super().__init__()
        self.service = service
        self.detail = detail


class TenantDetailLoaded(Message):
    def __init__(self, detail: TenantDetail) -> None:
        super().__init__()
        self.detail = detail


class RunStarted(Message):
    def __init__(self, handle: RunHandle) -> None:
        super().__init__()
        self.handle = handle


class RunEventsReceived(Message):
    """A batch of events of one run, in order."""

    def __init__(self, ident: str, events: list[RunEvent]) -> None:
        super().__init__()
        self.ident = ident
        self.events = events


class RunFinished(Message):
    def __init__(
        self, ident: str, status: str, rc: int | None, error: str = ""
    ) -> None:
        super().__init__()
        self.ident = ident
        self.status = status
        self.rc = rc
        self.error = error
