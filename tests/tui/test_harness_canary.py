"""The pilot harness turns a failing handler or worker into a test failure."""

from __future__ import annotations

from typing import ClassVar

import pytest
from textual import work
from textual.app import App, ComposeResult
from textual.binding import BindingType
from textual.widgets import Static

from tests.tui.conftest import running


class BrokenApp(App[None]):
    BINDINGS: ClassVar[list[BindingType]] = [
        ("r", "refresh_broken", "Refresh"),
        ("w", "start_worker", "Worker"),
    ]

    def compose(self) -> ComposeResult:
        yield Static("canary")

    def action_refresh_broken(self) -> None:
        raise ZeroDivisionError("handler failed on purpose")

    def action_start_worker(self) -> None:
        self._broken_worker()

    @work(thread=True, exit_on_error=False)
    def _broken_worker(self) -> None:
        raise ZeroDivisionError("worker failed on purpose")


async def test_failing_handler_fails_harness() -> None:
    with pytest.raises(ZeroDivisionError):
        async with running(BrokenApp()) as pilot:
            await pilot.press("r")
            await pilot.pause()


async def test_failing_worker_fails_harness() -> None:
    with pytest.raises(AssertionError, match="worker _broken_worker failed"):
        async with running(BrokenApp()) as pilot:
            await pilot.press("w")
            await pilot.app.workers.wait_for_complete()
            await pilot.pause()


async def test_quiet_app_passes_harness() -> None:
    async with running(BrokenApp()) as pilot:
        await pilot.pause()
