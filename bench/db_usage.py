#!/usr/bin/env python3
"""Benchmark the usage rollups and the cost of row-level security.

Builds the schema with the project's migration runner in a throwaway
PostgreSQL 15 cluster, or in a database ``qa_bench`` on the server of ``--dsn``
(a superuser or RDS-like master). The throwaway cluster runs as the
``postgres`` OS user in a temporary folder on a free loopback port and is
stopped by PID at the end.
Then it loads 1,000 tenants and 10 million calls (``--quick``: 100 tenants,
200,000 calls; ``--tenants`` and ``--calls`` override either) and prints:

- usage of every tenant read by qa_operator from the rollups, against the
  plain GROUP BY over calls that it replaces (the anchor);
- the time added to call inserts by the rollup triggers, in batches of 1,000
  rows and single rows, each side a committed transaction;
- whether the rollups equal a recount after inserts, updates (calls moved to
  another month) and deletes;
- an indexed tenant query with row-level security against the same query with
  an explicit tenant filter as a role the policy does not apply to, both timed
  as BEGIN, set_config of role and tenant, query, COMMIT in one session.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import psycopg
import psycopg.conninfo
from psycopg import sql

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "collections"))

from ansible_collections.qa.platform.plugins.module_utils import (  # noqa: E402
    platform_db,
)

PG_BIN = Path("/usr/lib/postgresql/15/bin")
BENCH_DATABASE = "qa_bench"
BYPASS_ROLE = "qa_bench_bypass"
MONTHS = 12
LOAD_CHUNK = 500_000
# Tenant ids contain a five-digit number (tenant_name and the lpad in load).
MAX_TENANTS = 100_000


@dataclass(frozen=True)
class Size:
    """Data set size of one run."""

    tenants: int
    calls: int
    batches: int
    single_rows: int
    query_runs: int
    # Transactions per side of the RLS comparison. In a few runs on a loaded
    # 2-CPU VM with equal work on both sides, medians of 300 differed by up
    # to 17% and medians of 3,000 by up to 2%.
    rls_runs: int = 3_000


FULL = Size(
    tenants=1_000, calls=10_000_000, batches=40, single_rows=400, query_runs=300
)
QUICK = Size(tenants=100, calls=200_000, batches=20, single_rows=200, query_runs=200)


@dataclass
class Row:
    """One line of the results table."""

    name: str
    value: str
    note: str = ""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def throwaway_cluster() -> Iterator[dict[str, Any]]:
    """Run a PostgreSQL 15 cluster in a temporary folder; yield master params."""
    if not (PG_BIN / "initdb").exists():
        raise SystemExit(f"{PG_BIN / 'initdb'} not found: install postgresql-15")
    workdir = Path(tempfile.mkdtemp(prefix="qa-db-bench-"))
    shutil.chown(workdir, user="postgres", group="postgres")
    data_dir = workdir / "data"
    port = free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
        )

    as_postgres(
        str(PG_BIN / "initdb"), "-D", str(data_dir), "--auth=trust", "-E", "UTF8"
    )
    # Durability settings stay at their defaults so that commit costs count.
    options = (
        f"-c port={port} -c listen_addresses=127.0.0.1 "
        f"-c unix_socket_directories={workdir} -c shared_buffers=1GB "
        "-c max_wal_size=4GB -c work_mem=64MB -c maintenance_work_mem=512MB"
    )
    as_postgres(
        str(PG_BIN / "pg_ctl"), "-D", str(data_dir), "-l", str(workdir / "log"),
        "-o", options, "-w", "start",
    )  # fmt: skip
    pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
    try:
        yield {
            "host": "127.0.0.1",
            "port": port,
            "user": "postgres",
            "dbname": "postgres",
        }
    finally:
        os.kill(pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.2)
        shutil.rmtree(workdir, ignore_errors=True)


def connect(params: dict[str, Any], **overrides: Any) -> psycopg.Connection[Any]:
    merged = {**params, **overrides}
    return psycopg.connect(autocommit=True, **merged)


def log(message: str) -> None:
    print(f"bench: {message}", file=sys.stderr, flush=True)


def timed(action: Callable[[], object]) -> float:
    start = time.perf_counter()
    action()
    return (time.perf_counter() - start) * 1000


def median_ms(samples: list[float]) -> float:
    return statistics.median(samples)


def tenant_name(index: int) -> str:
    return f"bench-{index:05d}"


def load(owner: psycopg.Connection[Any], size: Size) -> None:
    """Create tenants, one organization and agent each, then the calls."""
    owner.execute(
        "INSERT INTO tenants (tenant_id, realm_name, display_name, max_users, "
        "max_calls_per_month) "
        "SELECT 'bench-' || lpad(g::text, 5, '0'), 'bench-' || lpad(g::text, 5, '0'), "
        "'Bench ' || g, 100, 100000 FROM generate_series(0, %s - 1) g",
        (size.tenants,),
    )

    owner.execute(
        "INSERT INTO organizations (tenant_id, name, is_default) "
        "SELECT tenant_id, 'Bench org', true FROM tenants "
        "WHERE tenant_id LIKE 'bench-%%'"
    )
    owner.execute(
        "INSERT INTO user_profiles (tenant_id, keycloak_user_id, organization_id, "
        "email, role) SELECT tenant_id, 'kc-' || tenant_id, id, "
        "'agent@' || tenant_id || '.test', 'agent' FROM organizations "
        "WHERE tenant_id LIKE 'bench-%%'"
    )
    owner.execute(
        "INSERT INTO agents (tenant_id, user_profile_id, agent_code) "
        "SELECT tenant_id, id, 'A1' FROM user_profiles WHERE tenant_id LIKE 'bench-%%'"
    )
    # 40 days of API counters per tenant, folded into usage_monthly by the
    # rebuild while calls is still empty.
    owner.execute(
        "INSERT INTO api_usage_daily (tenant_id, day, api_calls) "
        "SELECT tenant_id, (now() AT TIME ZONE 'UTC')::date - d, 100 + d "
        "FROM tenants, generate_series(0, 39) d WHERE tenant_id LIKE 'bench-%%'"
    )
    owner.execute("SELECT usage_rebuild()")

    # A lookup table from tenant number to its organization and agent keeps
    # the call generator a single join.
    owner.execute(
        "CREATE TEMP TABLE bench_refs AS "
        "SELECT row_number() OVER (ORDER BY a.tenant_id) - 1 AS n, a.tenant_id, "
        "o.id AS organization_id, a.id AS agent_id "
        "FROM agents a JOIN organizations o ON o.tenant_id = a.tenant_id "
        "WHERE a.tenant_id LIKE 'bench-%%'"
    )
    owner.execute("CREATE UNIQUE INDEX ON bench_refs (n)")

    loaded = 0
    start = time.perf_counter()
    while loaded < size.calls:
        chunk = min(LOAD_CHUNK, size.calls - loaded)
        # Calls spread evenly over the tenants and over the last 12 months
        # (UTC); two in three have a recording size.
        owner.execute(
            "INSERT INTO calls (tenant_id, organization_id, agent_id, direction, "
            "status, duration_seconds, started_at, recording_size_bytes) "
            "SELECT r.tenant_id, r.organization_id, r.agent_id, 'inbound', 'done', "
            "g %% 900, now() - ((g %% (%(months)s * 30 * 24)) * interval '1 hour'), "
            "CASE WHEN g %% 3 = 0 THEN NULL ELSE 100000 + g %% 5000 END "
            "FROM generate_series(%(first)s::bigint, %(last)s::bigint) g "
            "JOIN bench_refs r ON r.n = g %% %(tenants)s",
            {
                "months": MONTHS,
                "first": loaded,
                "last": loaded + chunk - 1,
                "tenants": size.tenants,
            },
        )
        loaded += chunk
        rate = loaded / (time.perf_counter() - start)
        log(f"loaded {loaded:,} of {size.calls:,} calls ({rate:,.0f} rows/s)")
    owner.execute("ANALYZE")


def bench_usage_read(
    params: dict[str, Any], owner: psycopg.Connection[Any], runs: int
) -> list[Row]:
    with connect(params, user="qa_operator", dbname=BENCH_DATABASE) as operator:
        operator.execute("SELECT * FROM tenant_usage()").fetchall()
        samples = [
            timed(lambda: operator.execute("SELECT * FROM tenant_usage()").fetchall())
            for _ in range(runs)
        ]
        count = len(operator.execute("SELECT * FROM tenant_usage()").fetchall())
    group_by = (
        "SELECT tenant_id, count(*) FROM calls "
        "WHERE started_at >= "
        "date_trunc('month', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' "
        "GROUP BY tenant_id"
    )
    anchor = [timed(lambda: owner.execute(group_by).fetchall()) for _ in range(3)]
    return [
        Row(
            f"usage of {count} tenants, rollup (qa_operator)",
            f"{median_ms(samples):.2f} ms",
            f"median of {runs}",
        ),
        Row(
            "anchor: GROUP BY over calls this month",
            f"{median_ms(anchor):.1f} ms",
            "median of 3",
        ),
    ]


def set_usage_triggers(owner: psycopg.Connection[Any], enabled: bool) -> None:
    action = "ENABLE" if enabled else "DISABLE"
    for trigger in ("usage_after_insert", "usage_after_delete"):
        owner.execute(
            sql.SQL("ALTER TABLE calls {} TRIGGER {}").format(
                sql.SQL(action), sql.Identifier(trigger)
            )
        )


def bench_inserts(
    params: dict[str, Any], owner: psycopg.Connection[Any], size: Size
) -> list[Row]:
    """Time committed inserts with and without the rollup triggers, interleaved."""
    refs = owner.execute(
        "SELECT tenant_id, organization_id, agent_id FROM bench_refs ORDER BY n"
    ).fetchall()
    insert = (
        "INSERT INTO calls (tenant_id, organization_id, agent_id, direction, status, "
        "duration_seconds, started_at, recording_size_bytes, call_sid) "
        "SELECT %s, %s, %s, 'inbound', 'done', g, now(), 120000, %s "
        "FROM generate_series(1, %s) g"
    )
    results: list[Row] = []
    with connect(params, user="qa_app", dbname=BENCH_DATABASE) as app:

        def one_transaction(rows: int, index: int, marker: str) -> float:
            tenant, organization, agent = refs[index % len(refs)]

            def work() -> None:
                with app.transaction():
                    app.execute(
                        "SELECT set_config('app.current_tenant', %s, true)", (tenant,)
                    )
                    app.execute(insert, (tenant, organization, agent, marker, rows))

            return timed(work)

        for label, rows, rounds in (
            ("batch of 1,000 rows", 1000, size.batches),
            ("single row", 1, size.single_rows),
        ):
            with_triggers: list[float] = []
            without: list[float] = []
            for index in range(rounds):
                with_triggers.append(one_transaction(rows, index, "bench-with"))
                set_usage_triggers(owner, enabled=False)
                try:
                    without.append(one_transaction(rows, index, "bench-without"))
                finally:
                    set_usage_triggers(owner, enabled=True)
            added = median_ms(with_triggers) / median_ms(without) - 1
            results.append(
                Row(
                    f"insert {label}: with rollup / without",
                    f"{median_ms(with_triggers):.3f} / {median_ms(without):.3f} ms",
                    f"+{added * 100:.1f}% (median of {rounds} each)",
                )
            )
    # Rows inserted while the trigger was off are not in the rollups, so they
    # leave with the delete trigger off too.
    set_usage_triggers(owner, enabled=False)
    try:
        owner.execute("DELETE FROM calls WHERE call_sid = 'bench-without'")
    finally:
        set_usage_triggers(owner, enabled=True)
    return results


def bench_exactness(owner: psycopg.Connection[Any], size: Size) -> list[Row]:
    """Move and delete calls, then compare the rollups with a recount."""
    moved = owner.execute(
        "UPDATE calls SET started_at = started_at - interval '1 month' "
        "WHERE id IN (SELECT id FROM calls TABLESAMPLE SYSTEM (1) LIMIT %s)",
        (max(size.calls // 100, 1000),),
    ).rowcount
    deleted = owner.execute(
        "DELETE FROM calls WHERE id IN "
        "(SELECT id FROM calls TABLESAMPLE SYSTEM (1) LIMIT %s)",
        (max(size.calls // 200, 500),),
    ).rowcount
    rows = []
    months = owner.execute(
        "SELECT current_usage_month(), "
        "(current_usage_month() - interval '1 month')::date"
    ).fetchone()
    assert months is not None
    for month in months:
        start = time.perf_counter()
        recount = {
            row[0]: (row[1], row[2], row[3] + row[4], row[5])
            for row in owner.execute("SELECT * FROM usage_recount(%s)", (month,))
        }
        recount_ms = (time.perf_counter() - start) * 1000
        usage = {
            row[0]: row[1:]
            for row in owner.execute(
                "SELECT tenant_id, user_count, calls_this_month, storage_bytes, "
                "api_calls_this_month FROM tenant_usage(%s)",
                (month,),
            )
        }
        mismatched = sum(1 for key in recount if usage.get(key) != recount[key])
        rows.append(
            Row(
                f"rollup against recount, month {month}",
                f"{mismatched} of {len(recount)} tenants differ",
                f"after {moved:,} calls moved a month back and {deleted:,} deleted; "
                f"recount took {recount_ms / 1000:.1f} s",
            )
        )
    return rows


# Sets the role and the tenant for the current transaction only, so the
# session returns to the master role at COMMIT.
SET_ROLE_AND_TENANT = (
    "SELECT set_config('role', %s, true), set_config('app.current_tenant', %s, true)"
)
# Tenants whose results are compared between the two sides before timing.
CHECKED_TENANTS = 5


def fetch_as(
    conn: psycopg.Connection[Any],
    role: str,
    tenant: str,
    query: str,
    params: tuple[Any, ...],
) -> list[tuple[Any, ...]]:
    """Run the query in its own transaction as role for tenant and return the rows."""
    with conn.transaction():
        conn.execute(SET_ROLE_AND_TENANT, (role, tenant))
        return conn.execute(query, params).fetchall()


def index_lines(
    conn: psycopg.Connection[Any],
    role: str,
    tenant: str,
    query: str,
    params: tuple[Any, ...],
) -> str:
    """Return the scan and index condition lines of the query's plan."""
    plan = fetch_as(conn, role, tenant, "EXPLAIN " + query, params)
    lines = [row[0].strip().removeprefix("-> ").strip() for row in plan]
    return "; ".join(line for line in lines if "Scan" in line or "Cond:" in line)


def bench_rls(params: dict[str, Any], size: Size, bypass: str) -> list[Row]:
    """Time an indexed tenant query with the policy and with an explicit filter.

    One session runs both sides. Each transaction sets the role (qa_app or
    the bypass role) and the tenant, and the side that goes first alternates
    from tenant to tenant. Two sessions would mean two backend processes,
    which the kernel places on CPUs independently. On a 2-CPU VM at 1,000
    tenants and 3 million calls, a backend on the client's CPU took 0.28 ms
    per transaction and one on the other CPU 0.65 ms, and a placement could
    last a whole run. The side that runs second for a tenant finds the
    tenant's pages in the CPU caches and was 3 to 7% faster.

    Statements are not prepared (prepare_threshold=None, as for a client of
    PgBouncer 1.18 in transaction mode), so both sides pay for parsing and
    planning, the rewrite that adds the policy included. Prepared plans would
    not help here: PostgreSQL 15 plans a cached statement on a table with
    row-level security again whenever the current role changes.
    """
    tenants = [tenant_name(i) for i in range(size.tenants)]
    # Each entry: the query as qa_app (the policy adds the tenant filter) and
    # the same query with the filter written out.
    queries = {
        "last 50 calls": (
            "SELECT id, started_at, duration_seconds FROM calls "
            "ORDER BY started_at DESC LIMIT 50",
            "SELECT id, started_at, duration_seconds FROM calls WHERE tenant_id = %s "
            "ORDER BY started_at DESC LIMIT 50",
        ),
        "calls of the last 7 days": (
            "SELECT count(*), sum(duration_seconds) FROM calls "
            "WHERE started_at >= now() - interval '7 days'",
            "SELECT count(*), sum(duration_seconds) FROM calls "
            "WHERE started_at >= now() - interval '7 days' AND tenant_id = %s",
        ),
    }
    app_role = platform_db.APP_ROLE
    rows: list[Row] = []
    with connect(params, dbname=BENCH_DATABASE, prepare_threshold=None) as conn:
        for label, (with_policy, explicit) in queries.items():
            name = f"{label}: with RLS / explicit filter"
            # Equal rows show that the policy applies under the role set with
            # set_config and that both sides do the same work.
            differing = [
                tenant
                for tenant in tenants[:CHECKED_TENANTS]
                if fetch_as(conn, app_role, tenant, with_policy, ())
                != fetch_as(conn, bypass, tenant, explicit, (tenant,))
            ]
            if differing:
                rows.append(
                    Row(name, "not timed", f"rows differ for {', '.join(differing)}")
                )
                continue

            policy_samples: list[float] = []
            filter_samples: list[float] = []
            for index in range(size.rls_runs):
                tenant = tenants[index % len(tenants)]
                sides = [
                    (policy_samples, app_role, with_policy, ()),
                    (filter_samples, bypass, explicit, (tenant,)),
                ]
                if index % 2 == 1:
                    sides.reverse()
                for samples, role, query, query_params in sides:
                    samples.append(
                        timed(
                            partial(fetch_as, conn, role, tenant, query, query_params)
                        )
                    )
            policy_ms = median_ms(policy_samples)
            filter_ms = median_ms(filter_samples)
            rows.append(
                Row(
                    name,
                    f"{policy_ms:.3f} / {filter_ms:.3f} ms",
                    f"{(policy_ms / filter_ms - 1) * 100:+.1f}% "
                    f"(median of {size.rls_runs}, role {bypass}, one session)",
                )
            )
        with_policy, explicit = queries["last 50 calls"]
        rows.append(
            Row(
                "plan of last 50 calls with RLS",
                "",
                index_lines(conn, app_role, tenants[0], with_policy, ()),
            )
        )
        rows.append(
            Row(
                "plan of last 50 calls, explicit filter",
                "",
                index_lines(conn, bypass, tenants[0], explicit, (tenants[0],)),
            )
        )
    return rows


def prepare_bypass_role(owner_params: dict[str, Any]) -> str:
    """Return a role the policy does not apply to, for the RLS comparison.

    A superuser master can create a BYPASSRLS role. An RDS-like master cannot,
    so qa_owner is used instead, whose policy is USING (true). The master
    switches to the role with set_config('role', ...), so the role needs no
    login. The build makes an RDS-like master a member of qa_owner and qa_app.
    """
    with connect(owner_params) as master:
        row = master.execute(
            "SELECT rolsuper FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
        if row is None or not row[0]:
            return platform_db.OWNER_ROLE
        exists = master.execute(
            "SELECT 1 FROM pg_roles WHERE rolname = %s", (BYPASS_ROLE,)
        ).fetchone()
        if exists is None:
            master.execute(
                sql.SQL("CREATE ROLE {} NOLOGIN BYPASSRLS").format(
                    sql.Identifier(BYPASS_ROLE)
                )
            )
    with connect(owner_params, dbname=BENCH_DATABASE) as conn:
        conn.execute(
            sql.SQL("GRANT SELECT ON calls TO {}").format(sql.Identifier(BYPASS_ROLE))
        )
    return BYPASS_ROLE


def print_table(rows: list[Row], title: str) -> None:
    width = max(len(row.name) for row in rows)
    value_width = max(len(row.value) for row in rows)
    print(f"\n{title}")
    print("-" * (width + value_width + 40))
    for row in rows:
        print(f"{row.name:<{width}}  {row.value:>{value_width}}  {row.note}")


def run(params: dict[str, Any], size: Size) -> None:
    with connect(params) as master:
        master.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
                sql.Identifier(BENCH_DATABASE)
            )
        )
    platform_db.build(params, PROJECT_ROOT / "sql", {}, app_database=BENCH_DATABASE)
    with connect(params, dbname=BENCH_DATABASE) as owner:
        owner.execute("SET ROLE qa_owner")
        start = time.perf_counter()
        load(owner, size)
        load_s = time.perf_counter() - start
        bypass = prepare_bypass_role(params)
        rows = [
            Row("load", f"{load_s:.0f} s", f"{size.calls:,} calls with rollup triggers")
        ]
        rows += bench_usage_read(params, owner, size.query_runs)
        rows += bench_inserts(params, owner, size)
        rows += bench_exactness(owner, size)
        owner.execute("ANALYZE calls")
        rows += bench_rls(params, size, bypass)
    server = (
        "throwaway PostgreSQL 15" if params.get("user") == "postgres" else "given DSN"
    )
    print_table(
        rows,
        f"{size.tenants:,} tenants, {size.calls:,} calls, "
        f"{os.cpu_count()} CPUs, {server}",
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick",
        action="store_true",
        help="100 tenants and 200,000 calls instead of 1,000 and 10 million",
    )
    parser.add_argument(
        "--dsn",
        help="master connection string (no password; use PGPASSWORD) of a server to "
        "run on; the default starts a throwaway cluster",
    )
    parser.add_argument(
        "--tenants",
        type=int,
        help=f"number of tenants (1 to {MAX_TENANTS:,}) in place of the size's",
    )
    parser.add_argument(
        "--calls", type=int, help="number of calls (1 or more) in place of the size's"
    )
    args = parser.parse_args()
    size = QUICK if args.quick else FULL
    if args.tenants is not None:
        if not 1 <= args.tenants <= MAX_TENANTS:
            parser.error(f"--tenants must be 1 to {MAX_TENANTS:,}, not {args.tenants}")
        size = dataclasses.replace(size, tenants=args.tenants)
    if args.calls is not None:
        if args.calls < 1:
            parser.error(f"--calls must be 1 or more, not {args.calls}")
        size = dataclasses.replace(size, calls=args.calls)
    if args.dsn:
        params = dict(psycopg.conninfo.conninfo_to_dict(args.dsn))
        run(params, size)
        return 0
    with throwaway_cluster() as params:
        run(params, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
