"""Render the suite's results as markdown between markers in docs/benchmarks.md.

Each suite size owns one block, ``<!-- bench:full:begin -->`` to
``<!-- bench:full:end -->`` (and ``quick``); text outside the blocks is kept.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

CHART_WIDTH = 50


@dataclass
class Target:
    """One target's row: what was measured, against what, and whether it is met."""

    name: str
    measured: str
    anchor: str
    ratio: str
    met: bool | None
    note: str = ""

    def row(self) -> str:
        verdict = {True: "met", False: "**missed**", None: "not measured"}[self.met]
        return (
            f"| {self.name} | {self.measured} | {self.anchor} | {self.ratio} "
            f"| {verdict} | {self.note} |"
        )


def seconds(value: float) -> str:
    return f"{value:.2f} s"


def onboarding_targets(results: dict[str, Any]) -> list[Target]:
    single = results.get("single") or {}
    if "medians" not in single:
        reason = single.get("error", "section not run")
        return [Target("onboarding one tenant", "-", "-", "-", None, reason)]
    m = single["medians"]
    steps = single["step_medians"]
    product, script, modules = m["product"], m["script"], m["modules"]
    floor, start_up = m["floor"], m["ansible_start_up"]
    budget = floor + start_up + 1.0
    realm_part = steps["realm"]
    return [
        Target(
            "one tenant end to end, at most 5 s",
            seconds(product),
            f"script {seconds(script)}",
            f"{product / 5.0:.2f} of budget",
            product <= 5.0,
        ),
        Target(
            "faster than the script anchor",
            seconds(product),
            f"script {seconds(script)}",
            f"{product / script:.2f}",
            product < script,
            "the design's stricter aim is 0.5",
        ),
        Target(
            "faster than the keycloak_* modules anchor",
            seconds(product),
            f"modules {seconds(modules)}",
            f"{product / modules:.2f}",
            product < modules,
        ),
        Target(
            "at most 1 s beyond Keycloak's floor plus Ansible start-up",
            seconds(product),
            f"floor {seconds(floor)} + start-up {seconds(start_up)} + 1 s"
            f" = {seconds(budget)}",
            f"{product - floor - start_up:+.2f} s over floor + start-up",
            product <= budget,
        ),
        Target(
            "Keycloak part at most 1.2 times the floor",
            f"realm step {seconds(realm_part)}",
            f"floor {seconds(floor)}",
            f"{realm_part / floor:.2f}",
            realm_part <= 1.2 * floor,
        ),
    ]


def batch_target(results: dict[str, Any]) -> list[Target]:
    batch = results.get("batch") or {}
    if "seconds" not in batch:
        reason = batch.get("error", "section not run")
        return [Target("batch", "-", "-", "-", None, reason)]
    count = batch["count"]
    projected = batch["per_tenant"] * 100
    note = "" if count == 100 else f"{count} tenants; 100 projected {projected:.0f} s"
    return [
        Target(
            f"batch of {count} tenants, 100 under 3 minutes",
            f"{batch['seconds']:.1f} s ({batch['per_tenant']:.2f} s a tenant)",
            "180 s for 100",
            f"{projected / 180:.2f} of budget",
            projected < 180,
            note,
        )
    ]


def database_targets(results: dict[str, Any]) -> list[Target]:
    database = results.get("database") or {}
    if "usage_ms" not in database:
        reason = database.get("error") or (
            "bench/db_usage.py missing" if database.get("missing") else "not run"
        )
        return [Target("database", "-", "-", "-", None, reason)]
    targets = [
        Target(
            "usage of every tenant under 10 ms",
            f"{database['usage_ms']:.2f} ms",
            f"GROUP BY {database['group_by_ms']:.1f} ms",
            f"{database['usage_ms'] / database['group_by_ms']:.3f}",
            database["usage_ms"] < 10,
        )
    ]
    for key, label in (
        ("batch_insert", "batch of 1,000"),
        ("single_insert", "one row"),
    ):
        if key in database:
            with_rollup, without = database[key]
            targets.append(
                Target(
                    f"call inserts ({label}) at most 1.2 times",
                    f"{with_rollup:.3f} ms",
                    f"without rollup {without:.3f} ms",
                    f"{with_rollup / without:.3f}",
                    with_rollup <= 1.2 * without,
                )
            )
    for key, label in (("rls_last_calls", "last 50 calls"), ("rls_week", "7 days")):
        if key in database:
            with_rls, filtered = database[key]
            targets.append(
                Target(
                    f"RLS at most 5% slower ({label})",
                    f"{with_rls:.3f} ms",
                    f"explicit filter {filtered:.3f} ms",
                    f"{with_rls / filtered:.3f}",
                    with_rls <= 1.05 * filtered,
                )
            )
    return targets


def tui_targets(results: dict[str, Any]) -> list[Target]:
    tui = results.get("tui") or {}
    if "list" not in tui:
        return [Target("TUI", "-", "-", "-", None, tui.get("error", "not run"))]
    lists = tui["list"]["medians"]
    keys = tui["key"]["medians"]
    busy = tui["busy"]
    bare_1k, app_1k = lists["bare-table-1000"], lists["app-table-1000"]
    bare_10k, app_10k = lists["bare-table-10000"], lists["app-table-10000"]
    started = keys["app-key-started"]
    first, bare_first = keys["app-key-first_event"], keys["bare-key-first_event"]
    busy_s, queue_s = busy["medians"]["app-busy"], busy["medians"]["queue-only"]
    idle_s = busy["medians"].get("app-idle")
    bare_busy_s = busy["medians"].get("bare-busy")
    lost = busy["lost"].get("app-busy", -1)
    notes = []
    if idle_s:
        notes.append(f"idle qa-tui {seconds(idle_s)} ({idle_s / queue_s:.2f})")
    if bare_busy_s:
        notes.append(
            f"bare app under the same timer {seconds(bare_busy_s)}"
            f" ({bare_busy_s / queue_s:.2f})"
        )
    targets = [
        Target(
            "1,000 tenants on screen, at most 1.25 times a bare DataTable",
            seconds(app_1k),
            f"bare {seconds(bare_1k)}",
            f"{app_1k / bare_1k:.2f}",
            app_1k <= 1.25 * bare_1k,
        ),
        Target(
            "10,000 tenant rows on screen within 1.5 s",
            seconds(app_10k),
            f"bare {seconds(bare_10k)}",
            f"{app_10k / bare_10k:.2f}",
            app_10k <= 1.5,
        ),
        Target(
            "key press to started within 0.1 s",
            f"{started:.3f} s",
            f"bare {keys['bare-key-started']:.3f} s",
            f"{started / 0.1:.2f} of budget",
            started <= 0.1,
        ),
        Target(
            "key press to first event, at most 1.1 times a bare app",
            f"{first:.3f} s",
            f"bare {bare_first:.3f} s",
            f"{first / bare_first:.2f}",
            first <= 1.1 * bare_first,
        ),
        Target(
            "100-task run on a busy screen: no event lost",
            f"{lost} lost",
            "events in the run's artifacts",
            "-",
            lost == 0,
        ),
        Target(
            "100-task run on a busy screen within 10% of a queue-only handler",
            seconds(busy_s),
            f"queue-only {seconds(queue_s)}",
            f"{busy_s / queue_s:.2f}",
            busy_s <= 1.1 * queue_s,
            "; ".join(notes),
        ),
    ]
    change = (tui.get("change") or {}).get("summary")
    if change:
        worst = max(change.values(), key=lambda entry: entry["median"])
        targets.append(
            Target(
                "changed tenant on screen within 0.15 s of its read",
                f"{worst['median']:.3f} s",
                "; ".join(
                    f"{int(rows):,} rows: median {entry['median']:.3f} s,"
                    f" max {entry['max']:.3f} s of {entry['count']}"
                    for rows, entry in change.items()
                ),
                f"{worst['median'] / 0.15:.2f} of budget",
                worst["median"] <= 0.15,
            )
        )
    return targets


def site_target(results: dict[str, Any]) -> list[Target]:
    site = results.get("site") or {}
    if "seconds" not in site:
        return [Target("site.yml", "-", "-", "-", None, site.get("error", "not run"))]
    return [
        Target(
            "site.yml on the converged lab: under 60 s, 0 changed",
            f"{site['seconds']:.1f} s, {site['changed']} changed, rc {site['rc']}",
            "60 s",
            f"{site['seconds'] / 60:.2f} of budget",
            site["seconds"] < 60 and site["changed"] == 0 and site["rc"] == 0,
        )
    ]


def step_table(results: dict[str, Any]) -> list[str]:
    single = results.get("single") or {}
    steps = single.get("step_medians")
    if not steps:
        return []
    order = (
        ("registry", "lock and name check"),
        ("database", "database rows"),
        ("realm_create", "realm: POST /admin/realms"),
        ("realm", "realm step in all (create, new token, read back)"),
        ("admin_profile", "admin profile row"),
        ("dns", "DNS record"),
        ("smoke", "smoke test (token, row isolation)"),
        ("credentials", "credentials file"),
        ("other", "journal, activation, connections"),
        ("total", "engine total, in process"),
    )
    lines = [
        "| step | median |",
        "|---|---|",
    ]
    lines += [
        f"| {label} | {steps[key]:.3f} s |" for key, label in order if key in steps
    ]
    return lines


def realm_section(results: dict[str, Any]) -> list[str]:
    realms = results.get("realms") or {}
    rows = realms.get("rows")
    if not rows:
        return [f"Not measured: {realms.get('error', 'section not run')}."]
    lines = [
        "| realms present | onboarding (playbook) | Keycloak floor"
        " | onboarding / floor | one filler POST | automation client's token"
        " | admin API with it: direct / via nginx |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(realm_row(row))
    lines += [
        f"{row.get('realms', row.get('level'))} realms: {row['error']}"
        for row in rows
        if "error" in row
    ]
    measured = [row for row in rows if "product" in row]
    if measured:
        size = results.get("meta", {}).get("size", "full")
        lines += [
            "",
            f"![Onboarding seconds by realms present]({plot_name(size)})",
            "",
            *realm_chart(measured),
        ]
    lines.append(
        f"\nRemoving the filler realms and tenants took "
        f"{realms.get('removal_seconds', 0):.0f} s."
    )
    return lines


def order_section(results: dict[str, Any]) -> list[str]:
    order = results.get("order") or {}
    rows = order.get("rows")
    if not rows:
        return [f"Not measured: {order.get('error', 'section not run')}."]
    lines = [
        f"Each job created {rows[0]['count']} tenant realms with"
        f" {order['realms_present']} realms present, read each back with"
        " onboarding's admin reads, and deleted them again. Per realm:"
        " medians; the first reads also as their sum and their slowest.",
        "",
        "| round | job | whole job | realm POST | first admin read (roles):"
        " median / sum / slowest | later reads (clients, admin user) |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        first = f"{row['first_read']:.3f} s"
        if "first_read_total" in row:
            first += (
                f" / {row['first_read_total']:.1f} s / {row['first_read_max']:.1f} s"
            )
        lines.append(
            f"| {row.get('round', 1)} | {row['job']} | {row['seconds']:.1f} s"
            f" | {row['post']:.3f} s"
            f" | {first} | {row['later_reads']:.3f} s |"
        )
    return lines


def realm_row(row: dict[str, Any]) -> str:
    def cell(key: str, unit: str = " s") -> str:
        value = row.get(key)
        return f"{value:.2f}{unit}" if isinstance(value, float) else "-"

    status = row.get("token_status") or {}
    probe = f"{status.get('direct', '-')} / {status.get('nginx', '-')}"
    realms = row.get("realms", f"{row.get('level')} (target)")
    product = cell("product") if "error" not in row else "failed"
    ratio = "-"
    if "error" not in row and row.get("product") and row.get("floor"):
        ratio = f"{row['product'] / row['floor']:.1f}"
    token = f"{row['token_bytes']:,} bytes" if "token_bytes" in row else "-"
    return (
        f"| {realms} | {product} | {cell('floor')} | {ratio} "
        f"| {cell('filler_post')} | {token} | {probe} |"
    )


def realm_chart(rows: list[dict[str, Any]]) -> list[str]:
    top = max(row["product"] for row in rows) or 1.0
    lines = [
        "ASCII chart, onboarding seconds by realms present (`#` = playbook,"
        " `=` = Keycloak floor):",
        "",
        "```",
    ]
    for row in rows:
        bar = "#" * max(1, round(row["product"] / top * CHART_WIDTH))
        floor = "=" * max(1, round(row["floor"] / top * CHART_WIDTH))
        lines.append(f"{row['realms']:>5} | {bar} {row['product']:.2f} s")
        lines.append(f"{'':>5} | {floor} {row['floor']:.2f} s")
    lines.append("```")
    return lines


def plot_name(size: str) -> str:
    """Return the file name of the realm plot of one suite size."""
    return f"benchmarks-realms-{size}.svg"


def realm_plot(rows: list[dict[str, Any]]) -> str:
    """Return an SVG line plot of onboarding and floor seconds by realm count."""
    width, height, left, bottom, top_pad, right = 560, 300, 56, 40, 20, 150
    max_realms = max(row["realms"] for row in rows) or 1
    max_seconds = max(max(row["product"], row["floor"]) for row in rows) * 1.1 or 1.0
    plot_w, plot_h = width - left - right, height - bottom - top_pad

    def x(realms: float) -> float:
        return left + realms / max_realms * plot_w

    def y(value: float) -> float:
        return top_pad + plot_h - value / max_seconds * plot_h

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}"'
        ' font-family="sans-serif" font-size="12">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{left + plot_w}" y2="{y(0)}"'
        ' stroke="black"/>',
        f'<line x1="{left}" y1="{y(0)}" x2="{left}" y2="{top_pad}" stroke="black"/>',
        f'<text x="{left + plot_w / 2}" y="{height - 6}" text-anchor="middle">'
        "realms present</text>",
        f'<text x="14" y="{top_pad + plot_h / 2}" text-anchor="middle"'
        f' transform="rotate(-90 14 {top_pad + plot_h / 2})">seconds</text>',
    ]
    for step in range(5):
        value = max_seconds * step / 4
        parts.append(
            f'<text x="{left - 6}" y="{y(value) + 4:.1f}" text-anchor="end">'
            f"{value:.1f}</text>"
        )
    for row in rows:
        parts.append(
            f'<text x="{x(row["realms"]):.1f}" y="{y(0) + 16}" text-anchor="middle">'
            f"{row['realms']}</text>"
        )
    series = (
        ("product", "#1f5fa8", "onboarding (playbook)"),
        ("floor", "#c0392b", "Keycloak floor"),
    )
    for index, (key, colour, label) in enumerate(series):
        points = " ".join(f"{x(row['realms']):.1f},{y(row[key]):.1f}" for row in rows)
        parts.append(
            f'<polyline points="{points}" fill="none" stroke="{colour}"'
            ' stroke-width="2"/>'
        )
        for row in rows:
            parts.append(
                f'<circle cx="{x(row["realms"]):.1f}" cy="{y(row[key]):.1f}" r="3"'
                f' fill="{colour}"/>'
            )
        legend_y = top_pad + 10 + index * 18
        parts.append(
            f'<line x1="{left + plot_w + 12}" y1="{legend_y}" x2="{left + plot_w + 30}"'
            f' y2="{legend_y}" stroke="{colour}" stroke-width="2"/>'
        )
        parts.append(
            f'<text x="{left + plot_w + 34}" y="{legend_y + 4}">{label}</text>'
        )
    parts.append("</svg>")
    return "\n".join(parts) + "\n"


def anchors_table(results: dict[str, Any]) -> list[str]:
    single = results.get("single") or {}
    if "samples" not in single:
        return []
    labels = {
        "product": "`ansible-playbook playbooks/tenant_provision.yml -e @tenant.json`",
        "script": "script anchor `bench/anchors/script_onboard.py`",
        "modules": "modules anchor `bench/anchors/keycloak_modules.yml`",
        "ansible_start_up": "Ansible start-up `bench/anchors/noop.yml`",
        "floor": "Keycloak floor: one POST /admin/realms",
    }
    lines = ["| command | median | runs |", "|---|---|---|"]
    for key, label in labels.items():
        values = single["samples"][key]
        runs = ", ".join(f"{value:.2f}" for value in values)
        lines.append(f"| {label} | {seconds(single['medians'][key])} | {runs} |")
    return lines


def render(results: dict[str, Any]) -> str:
    meta = results["meta"]
    host = meta["machine"]
    versions = meta["versions"]
    parameters = meta["parameters"]
    targets = (
        onboarding_targets(results)
        + batch_target(results)
        + database_targets(results)
        + tui_targets(results)
        + site_target(results)
    )
    lines = [
        f"Run {meta['date']} with `{meta['command']}`: {parameters['repetitions']}"
        f" repetitions of each onboarding measurement and"
        f" {parameters['tui_repetitions']} of each TUI start-up measurement,"
        " medians shown.",
        "",
        f"Machine: {host['nproc']} CPUs ({host['cpu']}), {host['memory_gib']} GiB,"
        f" Linux {host['kernel']}, Python {host['python']}. Versions: Keycloak"
        f" {versions.get('keycloak')}, PostgreSQL {versions.get('postgresql')},"
        f" ansible-core {versions.get('ansible-core')}, ansible-runner"
        f" {versions.get('ansible-runner')}, textual {versions.get('textual')},"
        f" python-keycloak {versions.get('python-keycloak')}.",
        "",
        "#### Targets",
        "",
        "| target | measured | anchor (same run) | ratio | verdict | note |",
        "|---|---|---|---|---|---|",
        *(target.row() for target in targets),
        "",
        "#### Onboarding one tenant: whole commands",
        "",
        *anchors_table(results),
        "",
        "#### Onboarding one tenant: the engine's steps",
        "",
        *step_table(results),
        "",
        "#### Onboarding with realms already present",
        "",
        *realm_section(results),
        "",
        "#### Reading new realms back: when and how many at once",
        "",
        *order_section(results),
    ]
    database = results.get("database") or {}
    if database.get("table"):
        lines += [
            "",
            "#### Database: output of `bench/db_usage.py`",
            "",
            "```",
            database["table"],
            "```",
        ]
    tui = results.get("tui") or {}
    if "busy" in tui:
        lines += ["", "#### TUI: 100-task runs", ""]
        lines += [
            "| run | seconds | events emitted | events shown |",
            "|---|---|---|---|",
        ]
        # A fixed order, because saved results come back with sorted keys.
        order = ["queue-only", "bare-busy", "app-idle", "app-busy"]
        busy_runs = tui["busy"]["runs"]
        for mode in order + sorted(busy_runs.keys() - set(order)):
            for run in busy_runs.get(mode, []):
                lines.append(
                    f"| {mode} | {run['seconds']:.2f} | {run.get('emitted', '-')} "
                    f"| {run.get('shown', run.get('received', '-'))} |"
                )
    return "\n".join(lines) + "\n"


def rewrite(document: Path, size: str, results: dict[str, Any]) -> None:
    """Replace the block of ``size`` in ``document`` with freshly rendered results."""
    begin, end = f"<!-- bench:{size}:begin -->", f"<!-- bench:{size}:end -->"
    text = document.read_text() if document.is_file() else ""
    block = f"{begin}\n{render(results)}{end}"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        _, tail = rest.split(end, 1)
        text = head + block + tail
    else:
        text = text.rstrip() + f"\n\n## Results ({size})\n\n{block}\n"
    document.write_text(text)
    rows = [
        row for row in (results.get("realms") or {}).get("rows", []) if "product" in row
    ]
    if rows:
        (document.parent / plot_name(size)).write_text(realm_plot(rows))
