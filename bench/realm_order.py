"""Benchmark of reading new realms back: in which order, and with how many threads.

Onboarding reads every new realm back through the admin API (roles, clients,
the admin user). The first admin read of a realm is much slower than the
later ones. This section runs the same job three ways on the same Keycloak:
each creates ``count`` realms from the engine's representation and reads each
one back with onboarding's reads.

- ``interleaved``: read each realm right after creating it, as onboarding does;
- ``grouped``: create every realm first, then read them all;
- ``two workers``: the interleaved job split over two threads.

Every run starts from the same realm count, because its realms are deleted
before the next run starts. Keycloak's times for the same job vary a lot from
run to run, so each job runs more than once.
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from ansible_collections.qa.platform.plugins.module_utils import tenant_realm
from common import (
    KEYCLOAK_URL,
    TENANT_PREFIX,
    AdminToken,
    delete_realm,
    log,
    median,
    realm_names,
    tenant_spec,
    validated,
)

ORDER_PREFIX = f"{TENANT_PREFIX}order-"
# Onboarding's reads of a new realm: its roles first, then its clients and
# its admin user (``tenant_spec`` names the admin admin@<realm>.example).
FIRST_READ = "roles"
LATER_READS = ("clients", "users?exact=true&username=admin@{realm}.example")
JOBS = ("interleaved", "grouped", "two workers")


class OrderRun:
    """A job that creates realms and reads them back, timing each request."""

    def __init__(self, job: str, count: int, token: AdminToken) -> None:
        self.job = job
        self.count = count
        self.token = token
        self.created: list[str] = []
        self.posts: list[float] = []
        self.first_reads: list[float] = []
        self.later_reads: list[float] = []
        self.lock = threading.Lock()

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token.get()}"}

    def create(self, session: requests.Session, index: int) -> str:
        tenant = validated(tenant_spec(f"{ORDER_PREFIX}{index:03d}"))
        representation = tenant_realm.build_realm(
            tenant,
            domain="platform.test",
            client_secret=f"order-{index:03d}-client-secret-0000000000",
            admin_password=f"Order-{index:03d}-Temporary!",
        )
        start = time.perf_counter()
        response = session.post(
            f"{KEYCLOAK_URL}/admin/realms",
            json=representation,
            headers=self.headers(),
            timeout=300,
        )
        elapsed = time.perf_counter() - start
        response.raise_for_status()
        name = str(tenant["realm_name"])
        with self.lock:
            self.created.append(name)
            self.posts.append(elapsed)
        return name

    def timed_get(self, session: requests.Session, path: str) -> float:
        start = time.perf_counter()
        response = session.get(
            f"{KEYCLOAK_URL}/admin/realms/{path}", headers=self.headers(), timeout=300
        )
        elapsed = time.perf_counter() - start
        response.raise_for_status()
        return elapsed

    def read_back(self, session: requests.Session, name: str) -> None:
        first = self.timed_get(session, f"{name}/{FIRST_READ}")
        later = sum(
            self.timed_get(session, f"{name}/{path.format(realm=name)}")
            for path in LATER_READS
        )
        with self.lock:
            self.first_reads.append(first)
            self.later_reads.append(later)

    def interleave(self, indexes: range) -> None:
        with requests.Session() as session:
            for index in indexes:
                self.read_back(session, self.create(session, index))

    def run(self) -> dict[str, Any]:
        start = time.perf_counter()
        if self.job == "interleaved":
            self.interleave(range(self.count))
        elif self.job == "grouped":
            with requests.Session() as session:
                names = [self.create(session, index) for index in range(self.count)]
                for name in names:
                    self.read_back(session, name)
        else:
            workers = [
                threading.Thread(
                    target=self.interleave, args=(range(first, self.count, 2),)
                )
                for first in range(2)
            ]
            for worker in workers:
                worker.start()
            for worker in workers:
                worker.join()
            if len(self.first_reads) != self.count:
                raise RuntimeError(
                    f"two workers read back {len(self.first_reads)} of"
                    f" {self.count} realms. The failed thread's error is printed above."
                )
        seconds = time.perf_counter() - start
        return {
            "job": self.job,
            "count": self.count,
            "seconds": seconds,
            "post": median(self.posts),
            "first_read": median(self.first_reads),
            "first_read_total": sum(self.first_reads),
            "first_read_max": max(self.first_reads),
            "later_reads": median(self.later_reads),
        }

    def remove(self) -> None:
        for name in self.created:
            delete_realm(self.token.get(), name)


def bench_realm_order(count: int, rounds: int) -> dict[str, Any]:
    """Run each job ``rounds`` times with ``count`` realms, one row per run.

    Every other round runs the jobs in reverse order, so that a slow spell of
    Keycloak does not always fall on the same job.
    """
    token = AdminToken()
    present = len(realm_names())
    rows = []
    for number in range(1, rounds + 1):
        jobs = JOBS if number % 2 else tuple(reversed(JOBS))
        for job in jobs:
            run = OrderRun(job, count, token)
            try:
                row = run.run()
            finally:
                run.remove()
            log(
                f"realm order, round {number}, {job}: {row['seconds']:.1f} s for"
                f" {count} realms; first read {row['first_read']:.3f} s"
            )
            rows.append(row | {"round": number})
    return {"realms_present": present, "rows": rows}
