#!/usr/bin/env python3
"""Run the benchmark suite on the lab and rewrite its part of docs/benchmarks.md.

    bench/run.py            # full: 100-tenant batch, 1/100/300 realms, 10M calls
    bench/run.py --quick    # a few minutes: 20 tenants, 1/20/50 realms

Each section's results go to bench/results/<full|quick>.json, and the block
between the markers of that size in docs/benchmarks.md is rewritten from
them. Every tenant and realm the suite creates is removed again at the end,
also after a failure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform as host_platform
import re
import sys
import time
import traceback
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

import common  # noqa: E402
import onboard  # noqa: E402
import realm_order  # noqa: E402
import report  # noqa: E402
import tui_bench  # noqa: E402

SECTIONS = ("single", "batch", "order", "realms", "tui", "database", "site")


@dataclass(frozen=True)
class Size:
    """The parameters of one suite size."""

    name: str
    repetitions: int
    tui_repetitions: int
    batch: int
    order: int
    order_rounds: int
    realm_levels: list[int]
    realm_time_limit_s: float
    site_runs: int


FULL = Size("full", 5, 9, 100, 50, 3, [1, 100, 300], 3600, 2)
QUICK = Size("quick", 3, 3, 20, 20, 2, [1, 20, 50], 900, 1)


def machine() -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text()
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.MULTILINE)
    meminfo = Path("/proc/meminfo").read_text()
    memory = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.MULTILINE)
    return {
        "nproc": os.cpu_count(),
        "cpu": model.group(1).strip() if model else "unknown",
        "memory_gib": round(int(memory.group(1)) / 1024 / 1024, 1) if memory else 0,
        "kernel": host_platform.release(),
        "python": host_platform.python_version(),
    }


def versions(settings: common.Settings) -> dict[str, str]:
    import requests

    found: dict[str, str] = {}
    for package in ("ansible-core", "textual", "ansible-runner", "python-keycloak"):
        found[package] = metadata.version(package)
    try:
        token = common.admin_token()
        info = requests.get(
            f"{common.KEYCLOAK_URL}/admin/serverinfo",
            headers={"Authorization": f"Bearer {token}"},
            timeout=60,
        ).json()
        found["keycloak"] = str(info["systemInfo"]["version"])
    except (requests.RequestException, KeyError, ValueError) as error:
        found["keycloak"] = f"unknown ({error})"
    with common.platform(settings) as instance, instance.db.transaction():
        row = instance.db.execute("SHOW server_version").fetchone()
        found["postgresql"] = str(row[0]) if row else "unknown"
    return found


def bench_database(quick: bool) -> dict[str, Any]:
    """Run bench/db_usage.py (usage rollups, inserts, RLS) on its throwaway cluster."""
    command = [sys.executable, str(BENCH_DIR / "db_usage.py")]
    if quick:
        command.append("--quick")
    if not Path(command[1]).is_file():
        return {"missing": True}
    result = common.require_ok(
        common.run_command(command, timeout=5400), "bench/db_usage.py"
    )
    table = result.stdout.strip()
    return {"seconds": result.seconds, "table": table, **parse_database(table)}


def parse_database(table: str) -> dict[str, Any]:
    """Pick the figures the targets need out of db_usage.py's table."""
    parsed: dict[str, Any] = {}
    patterns = {
        "usage_ms": r"^usage of .*?rollup.*?\s([\d.]+) ms",
        "group_by_ms": r"^anchor: GROUP BY.*?\s([\d.]+) ms",
        "batch_insert": r"^insert batch.*?\s([\d.]+) / ([\d.]+) ms",
        "single_insert": r"^insert single row.*?\s([\d.]+) / ([\d.]+) ms",
        "rls_last_calls": r"^last 50 calls: with RLS.*?\s([\d.]+) / ([\d.]+) ms",
        "rls_week": r"^calls of the last 7 days: with RLS.*?\s([\d.]+) / ([\d.]+) ms",
        "differ": r"(\d+) of [\d,]+ tenants differ",
    }
    for key, pattern in patterns.items():
        match = re.search(pattern, table, re.MULTILINE)
        if match is None:
            continue
        numbers = [float(group) for group in match.groups()]
        parsed[key] = numbers[0] if len(numbers) == 1 else numbers
    return parsed


def bench_site(runs: int) -> dict[str, Any]:
    """Time ansible-playbook site.yml on the converged lab; count changes."""
    samples: list[dict[str, Any]] = []
    for _ in range(runs):
        result = common.run_command(["ansible-playbook", "site.yml"], timeout=1800)
        changed = sum(
            int(match)
            for match in re.findall(
                r"^\S+\s*:\s*ok=\d+\s+changed=(\d+)", result.stdout, re.M
            )
        )
        samples.append({"seconds": result.seconds, "changed": changed, "rc": result.rc})
        common.log(
            f"site.yml: {result.seconds:.1f} s, changed={changed}, rc={result.rc}"
        )
    return {
        "runs": samples,
        "seconds": common.median([sample["seconds"] for sample in samples]),
        "changed": max(sample["changed"] for sample in samples),
        "rc": max(sample["rc"] for sample in samples),
    }


def run_section(
    name: str, size: Size, settings: common.Settings, results: dict[str, Any]
) -> None:
    common.log(f"section {name} ({size.name})")
    start = time.perf_counter()
    try:
        if name == "single":
            results[name] = onboard.bench_single(settings, size.repetitions)
        elif name == "batch":
            results[name] = onboard.bench_batch(settings, size.batch)
        elif name == "order":
            results[name] = realm_order.bench_realm_order(size.order, size.order_rounds)
        elif name == "realms":
            results[name] = onboard.bench_realm_scaling(
                settings, size.realm_levels, size.repetitions, size.realm_time_limit_s
            )
        elif name == "tui":
            results[name] = {
                "list": tui_bench.bench_tenant_list(size.tui_repetitions),
                "key": tui_bench.bench_key_press(size.tui_repetitions),
                "busy": tui_bench.bench_busy_run(size.repetitions),
                "change": tui_bench.bench_changed_tenant(size.tui_repetitions),
            }
        elif name == "database":
            results[name] = bench_database(size.name == "quick")
        elif name == "site":
            results[name] = bench_site(size.site_runs)
    except Exception as error:  # one failed section must not lose the others
        traceback.print_exc()
        results[name] = {"error": f"{type(error).__name__}: {error}"}
    finally:
        # Leave the lab as it was even when a section failed half-way.
        counts = common.clean_up(settings)
        if any(counts.values()):
            common.log(f"removed after section {name}: {counts}")
    common.log(f"section {name}: {time.perf_counter() - start:.0f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="the small suite (a few minutes)"
    )
    parser.add_argument(
        "--only",
        choices=SECTIONS,
        action="append",
        help="run only this section (repeatable); the others keep their last results",
    )
    parser.add_argument(
        "--render",
        action="store_true",
        help="only rewrite docs/benchmarks.md from the saved results of this size",
    )
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    document = BENCH_DIR.parent / "docs" / "benchmarks.md"
    if args.render:
        saved = BENCH_DIR / "results" / f"{size.name}.json"
        report.rewrite(document, size.name, json.loads(saved.read_text()))
        return 0
    work_dir = common.scratch_dir("qa-bench-")
    settings = common.engine_settings(work_dir)
    results_file = BENCH_DIR / "results" / f"{size.name}.json"
    results: dict[str, Any] = {}
    if args.only and results_file.is_file():
        results = json.loads(results_file.read_text())
    command = "make bench-quick" if args.quick else "make bench"
    if args.only:
        command = (
            "bench/run.py"
            + (" --quick" if args.quick else "")
            + "".join(f" --only {name}" for name in args.only)
        )
    results["meta"] = {
        "size": size.name,
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "command": command,
        "machine": machine(),
        "versions": versions(settings),
        "parameters": {
            "repetitions": size.repetitions,
            "tui_repetitions": size.tui_repetitions,
            "batch": size.batch,
            "order": size.order,
            "order_rounds": size.order_rounds,
            "realm_levels": size.realm_levels,
        },
    }
    leftovers = common.clean_up(settings)
    if any(leftovers.values()):
        common.log(f"removed leftovers of an earlier run: {leftovers}")
    for name in args.only or SECTIONS:
        run_section(name, size, settings, results)
        results_file.parent.mkdir(exist_ok=True)
        results_file.write_text(json.dumps(results, indent=2, sort_keys=True))
    report.rewrite(document, size.name, results)
    common.log(f"results in {results_file}; docs/benchmarks.md rewritten")
    return 0


if __name__ == "__main__":
    sys.exit(main())
