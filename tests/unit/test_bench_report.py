"""The benchmark report: the realm plot and the rewritten result block."""

from __future__ import annotations

import importlib.util
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from types import ModuleType

import pytest

REPORT = Path(__file__).resolve().parents[2] / "bench" / "report.py"
SVG = "{http://www.w3.org/2000/svg}"
ROWS = [
    {"realms": 2, "product": 2.0, "floor": 0.5},
    {"realms": 100, "product": 2.5, "floor": 0.7},
    {"realms": 300, "product": 4.0, "floor": 1.5},
]


@pytest.fixture(scope="module")
def report() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_report", REPORT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # dataclasses looks the module up by name while it builds a class.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def points(svg: str, colour: str) -> list[tuple[float, float]]:
    root = ET.fromstring(svg)  # noqa: S314 - the report code under test made it
    line = next(
        element
        for element in root.iter(f"{SVG}polyline")
        if element.get("stroke") == colour
    )
    pairs = [pair.split(",") for pair in (line.get("points") or "").split()]
    return [(float(x), float(y)) for x, y in pairs]


def test_plot_has_one_point_per_level(report: ModuleType) -> None:
    svg = report.realm_plot(ROWS)
    product = points(svg, "#1f5fa8")
    floor = points(svg, "#c0392b")

    assert len(product) == len(ROWS)
    assert len(floor) == len(ROWS)
    assert [x for x, _ in product] == sorted(x for x, _ in product)


def test_plot_draws_slower_higher(report: ModuleType) -> None:
    product = points(report.realm_plot(ROWS), "#1f5fa8")
    floor = points(report.realm_plot(ROWS), "#c0392b")

    # SVG's y axis points down, so more seconds means a smaller y.
    assert product[0][1] > product[1][1] > product[2][1]
    assert all(p[1] < f[1] for p, f in zip(product, floor, strict=True))


def test_rewrite_writes_plot_and_link(report: ModuleType, tmp_path: Path) -> None:
    document = tmp_path / "benchmarks.md"
    document.write_text(
        "intro\n<!-- bench:full:begin -->\nold\n<!-- bench:full:end -->\n"
    )
    results = {
        "meta": {
            "size": "full",
            "date": "2026-12-04 12:00 UTC",
            "command": "make bench",
            "machine": {
                "nproc": 2,
                "cpu": "test CPU",
                "memory_gib": 4,
                "kernel": "6.1",
                "python": "3.11",
            },
            "versions": {},
            "parameters": {"repetitions": 1, "tui_repetitions": 1},
        },
        "realms": {"rows": ROWS, "removal_seconds": 1.0},
    }

    report.rewrite(document, "full", results)

    text = document.read_text()
    assert text.startswith("intro\n")
    assert "old" not in text
    assert "](benchmarks-realms-full.svg)" in text
    assert (tmp_path / "benchmarks-realms-full.svg").is_file()


def test_realm_row_shows_floor_ratio(report: ModuleType) -> None:
    row = {"realms": 300, "product": 33.6, "floor": 2.4, "filler_post": 1.1}

    cells = [cell.strip() for cell in report.realm_row(row).split("|")[1:-1]]

    assert cells[:5] == ["300", "33.60 s", "2.40 s", "14.0", "1.10 s"]


def test_realm_row_failed_level_has_no_ratio(report: ModuleType) -> None:
    row = {"level": 100, "filler_post": 0.7, "error": "ReadTimeout"}

    cells = [cell.strip() for cell in report.realm_row(row).split("|")[1:-1]]

    assert cells[:5] == ["100 (target)", "failed", "-", "-", "0.70 s"]


def test_order_section_lists_each_job(report: ModuleType) -> None:
    rows = [
        {"job": job, "count": 20, "seconds": seconds, "post": 0.5}
        | {"first_read": first, "later_reads": 0.05}
        | {"first_read_total": first * 20, "first_read_max": first * 4}
        for job, seconds, first in (
            ("interleaved", 20.0, 0.25),
            ("grouped", 25.0, 0.5),
            ("two workers", 21.0, 0.3),
        )
    ]
    lines = report.order_section({"order": {"realms_present": 2, "rows": rows}})

    assert "20 tenant realms with 2 realms present" in lines[0]
    table = [line for line in lines if line.startswith("| ") and "s |" in line]
    assert [line.split(" | ")[1] for line in table] == [
        "interleaved",
        "grouped",
        "two workers",
    ]
    assert "| 0.500 s / 10.0 s / 2.0 s |" in table[1]


def test_order_section_names_missing_reason(report: ModuleType) -> None:
    lines = report.order_section({"order": {"error": "HTTPError: 401"}})

    assert lines == ["Not measured: HTTPError: 401."]
