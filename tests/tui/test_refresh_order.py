"""Refresh results that arrive out of order."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path

from tests.tui.conftest import running, wait_for
from tests.tui.test_snapshots import make_app
from tui.core.paths import TuiPaths
from tui.core.status import Snapshot
from tui.messages import TenantsLoaded


async def test_late_refresh_is_dropped(tmp_path: Path) -> None:
    app = make_app(TuiPaths(tmp_path / "data"))
    async with running(app) as pilot:
        await wait_for(pilot, lambda: bool(app.rows), what="tenant rows")
        first = app.rows[0]
        newer = Snapshot(
            rows=[replace(first, user_count=99)],
            services={},
            taken_at=time.time(),
            rows_read_at=time.monotonic(),
        )
        older = replace(
            newer,
            rows=[replace(first, user_count=1)],
            rows_read_at=newer.rows_read_at - 1.0,
        )
        app.post_message(TenantsLoaded(newer))
        app.post_message(TenantsLoaded(older))
        await pilot.pause()
        await pilot.pause()
        assert [row.user_count for row in app.rows] == [99]
