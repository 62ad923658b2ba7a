"""TUI benchmarks: each measurement runs ``tui_child.py`` in a fresh process.

The parent records the wall clock just before it starts a child, so the
tenant-list figures are whole processes from start to the painted table.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from common import environment, log, median

CHILD = Path(__file__).resolve().parent / "tui_child.py"
CHILD_TIMEOUT_S = 600


def child(*arguments: str) -> tuple[float, dict[str, Any]]:
    """Run one child; return its start time and the JSON it printed."""
    start = time.time()
    completed = subprocess.run(
        [sys.executable, str(CHILD), *arguments],
        env=environment(),
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
        check=False,
    )
    lines = [line for line in completed.stdout.splitlines() if line.startswith("{")]
    if completed.returncode != 0 or not lines:
        raise RuntimeError(
            f"tui_child.py {' '.join(arguments)} failed with rc "
            f"{completed.returncode}: {completed.stderr[-2000:]}"
        )
    return start, json.loads(lines[-1])


def time_to_paint(mode: str, rows: int) -> float:
    start, result = child(mode, str(rows))
    return float(result["painted"]) - start


def bench_tenant_list(repetitions: int) -> dict[str, Any]:
    """Bare DataTable against qa-tui's list, alternating, at 1,000 and 10,000 rows."""
    samples: dict[str, list[float]] = {}
    for rows in (1000, 10000):
        for rep in range(repetitions):
            order = ("bare-table", "app-table")
            for mode in order if rep % 2 == 0 else order[::-1]:
                key = f"{mode}-{rows}"
                samples.setdefault(key, []).append(time_to_paint(mode, rows))
        bare = median(samples[f"bare-table-{rows}"])
        app = median(samples[f"app-table-{rows}"])
        log(f"tenant list, {rows} rows: bare {bare:.2f} s, qa-tui {app:.2f} s")
    return {
        "samples": samples,
        "medians": {key: median(values) for key, values in samples.items()},
    }


def bench_key_press(repetitions: int) -> dict[str, Any]:
    """Key press to started and to the first event, bare app against qa-tui."""
    samples: dict[str, list[float]] = {}
    for rep in range(repetitions):
        order = ("bare-key", "app-key")
        for mode in order if rep % 2 == 0 else order[::-1]:
            _, result = child(mode)
            for name in ("started", "first_event"):
                samples.setdefault(f"{mode}-{name}", []).append(float(result[name]))
    medians = {key: median(values) for key, values in samples.items()}
    log(f"key press: {json.dumps({k: round(v, 3) for k, v in medians.items()})}")
    return {"samples": samples, "medians": medians}


def bench_busy_run(repetitions: int) -> dict[str, Any]:
    """A 100-task run in a busy qa-tui, an idle one, and a queue-only handler."""
    runs: dict[str, list[dict[str, Any]]] = {}
    for rep in range(repetitions):
        order = ["queue-only", "bare-busy", "app-idle", "app-busy"]
        shift = rep % len(order)
        for mode in order[shift:] + order[:shift]:
            _, result = child(mode)
            runs.setdefault(mode, []).append(result)
    medians = {
        mode: median([float(result["seconds"]) for result in results])
        for mode, results in runs.items()
    }
    lost = {
        mode: max(int(r["emitted"]) - int(r["shown"]) for r in results)
        for mode, results in runs.items()
        if mode.startswith("app-")
    }
    log(f"100-task run: {json.dumps(medians)}; events lost {lost}")
    return {"runs": runs, "medians": medians, "lost": lost}


def bench_changed_tenant(repetitions: int) -> dict[str, Any]:
    """Time a changed tenant from its database read to the painted screen."""
    samples: dict[str, list[float]] = {}
    for rows in (1000, 10000):
        for _ in range(repetitions):
            _, result = child("app-change", str(rows))
            samples.setdefault(str(rows), []).extend(result["seconds"])
    summary = {
        rows: {"median": median(values), "max": max(values), "count": len(values)}
        for rows, values in samples.items()
    }
    log(f"changed tenant, read to screen: {json.dumps(summary)}")
    return {"samples": samples, "summary": summary}
