"""Onboarding benchmarks: one tenant against its anchors, a batch, realm scaling.

Each whole command (the product's playbook, the two anchors, Ansible's no-op
start-up) is timed from start to exit. Keycloak's floor is one POST
/admin/realms with ``build_realm``'s representation, timed around the request
alone. The per-step split times the engine's ``Onboarding`` steps in process.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from ansible_collections.qa.platform.plugins.module_utils import tenant_realm
from ansible_collections.qa.platform.plugins.module_utils.tenant_operations import (
    Onboarding,
    remove_tenant,
)
from common import (
    FILL_PREFIX,
    KEYCLOAK_URL,
    AdminToken,
    Settings,
    admin_token,
    clean_up,
    delete_realm,
    log,
    median,
    platform,
    realm_names,
    require_ok,
    run_command,
    scratch_dir,
    tenant_spec,
    validated,
)

PLAYBOOK = "playbooks/tenant_provision.yml"
# Throwaway credentials of the floor's realm, which is deleted right after.
FLOOR_CLIENT_SECRET = "floor-" + "x" * 26
FLOOR_ADMIN_PASSWORD = "Bench-floor-1234"  # noqa: S105
# The lab's nginx in front of Keycloak, as production reaches the admin API.
NGINX_URL = "https://auth.platform.test"
STEPS = ("database", "realm", "admin_profile", "dns", "smoke", "credentials")


def write_tenant_file(folder: Path, document: dict[str, Any]) -> Path:
    """Write a tenant file as the playbook reads it with -e @file."""
    name = str(document.get("tenant_id", "batch"))
    path = folder / f"{name}.json"
    path.write_text(json.dumps(document))
    return path


def onboard_playbook(folder: Path, tenant_id: str) -> float:
    path = write_tenant_file(folder, tenant_spec(tenant_id))
    result = run_command(["ansible-playbook", PLAYBOOK, "-e", f"@{path}"])
    return float(require_ok(result, f"onboarding {tenant_id}").seconds)


def script_anchor(tenant_id: str) -> float:
    command = ["python", "bench/anchors/script_onboard.py", tenant_id]
    return float(require_ok(run_command(command), f"script anchor {tenant_id}").seconds)


def modules_anchor(tenant_id: str) -> float:
    command = [
        "ansible-playbook",
        "bench/anchors/keycloak_modules.yml",
        "-e",
        f"bench_tenant_id={tenant_id}",
    ]
    return float(
        require_ok(run_command(command), f"modules anchor {tenant_id}").seconds
    )


def ansible_start_up() -> float:
    command = ["ansible-playbook", "bench/anchors/noop.yml"]
    return float(require_ok(run_command(command), "no-op playbook").seconds)


def keycloak_floor(settings: Settings, tenant_id: str) -> float:
    """Time one POST /admin/realms with the product's full representation."""
    tenant = validated(tenant_spec(tenant_id))
    representation = tenant_realm.build_realm(
        tenant,
        domain=settings.dns.domain,
        client_secret=FLOOR_CLIENT_SECRET,
        admin_password=FLOOR_ADMIN_PASSWORD,
    )
    token = admin_token()
    start = time.perf_counter()
    response = requests.post(
        f"{KEYCLOAK_URL}/admin/realms",
        json=representation,
        headers={"Authorization": f"Bearer {token}"},
        timeout=300,
    )
    seconds = time.perf_counter() - start
    response.raise_for_status()
    # Only a token issued after the creation carries the new realm's roles.
    delete_realm(admin_token(), tenant_id)
    return seconds


class TimedOnboarding(Onboarding):
    """The engine's onboarding with each step's wall time recorded."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.times: dict[str, float] = {}

    def _timed(self, name: str, step: Callable[[], bool]) -> bool:
        start = time.perf_counter()
        try:
            return step()
        finally:
            self.times[name] = time.perf_counter() - start

    def check_registry(self) -> None:
        start = time.perf_counter()
        super().check_registry()
        self.times["registry"] = time.perf_counter() - start

    def step_database(self) -> bool:
        return self._timed("database", super().step_database)

    def step_realm(self) -> bool:
        keycloak = self.platform.keycloak
        create = keycloak.create_realm

        def timed_create(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return create(*args, **kwargs)
            finally:
                self.times["realm_create"] = time.perf_counter() - start

        keycloak.create_realm = timed_create
        return self._timed("realm", super().step_realm)

    def step_admin_profile(self) -> bool:
        return self._timed("admin_profile", super().step_admin_profile)

    def step_dns(self) -> bool:
        return self._timed("dns", super().step_dns)

    def step_smoke(self) -> bool:
        return self._timed("smoke", super().step_smoke)

    def step_credentials(self) -> bool:
        return self._timed("credentials", super().step_credentials)


def onboard_in_process(settings: Settings, tenant_id: str) -> dict[str, float]:
    """Onboard with the engine in this process; return each step's seconds."""
    tenant = validated(tenant_spec(tenant_id))
    start = time.perf_counter()
    with platform(settings) as instance:
        onboarding = TimedOnboarding(instance, tenant)
        outcome = onboarding.run()
    total = time.perf_counter() - start
    if outcome.failed:
        raise RuntimeError(f"in-process onboarding of {tenant_id} failed: {outcome}")
    times = dict(onboarding.times)
    times["total"] = total
    times["other"] = total - sum(times.get(step, 0.0) for step in (*STEPS, "registry"))
    return times


def remove(settings: Settings, tenant_id: str) -> None:
    with platform(settings) as instance:
        outcome = remove_tenant(instance, tenant_id, keep_dump=False)
    if outcome.failed:
        raise RuntimeError(f"removal of {tenant_id} failed: {outcome.message}")


def bench_single(settings: Settings, repetitions: int) -> dict[str, Any]:
    """Onboard one tenant per method, ``repetitions`` times, in rotating order."""
    samples: dict[str, list[float]] = {
        name: []
        for name in ("product", "script", "modules", "ansible_start_up", "floor")
    }
    steps: dict[str, list[float]] = {}
    folder = scratch_dir("qa-bench-onboard-")
    stamp = time.strftime("%H%M%S")
    for rep in range(repetitions):
        names = {
            "product": f"bench-p{stamp}-{rep}",
            "script": f"bench-s{stamp}-{rep}",
            "modules": f"bench-m{stamp}-{rep}",
            "floor": f"bench-f{stamp}-{rep}",
            "engine": f"bench-e{stamp}-{rep}",
        }
        actions = method_actions(settings, folder, names, samples, steps)
        # Rotate the order so that no method always runs first after a removal.
        shift = rep % len(actions)
        for name, action in actions[shift:] + actions[:shift]:
            action()
            if name in ("product", "script", "modules", "engine"):
                remove(settings, names[name])
        log(
            f"single onboarding {rep + 1}/{repetitions}: "
            + ", ".join(f"{k} {v[-1]:.2f} s" for k, v in samples.items())
        )
    return {
        "samples": samples,
        "steps": steps,
        "medians": {name: median(values) for name, values in samples.items()},
        "step_medians": {name: median(values) for name, values in steps.items()},
    }


def method_actions(
    settings: Settings,
    folder: Path,
    names: dict[str, str],
    samples: dict[str, list[float]],
    steps: dict[str, list[float]],
) -> list[tuple[str, Callable[[], None]]]:
    """Return one action per onboarding method, each adding its sample."""

    def product() -> None:
        samples["product"].append(onboard_playbook(folder, names["product"]))

    def script() -> None:
        samples["script"].append(script_anchor(names["script"]))

    def modules() -> None:
        samples["modules"].append(modules_anchor(names["modules"]))

    def start_up() -> None:
        samples["ansible_start_up"].append(ansible_start_up())

    def floor() -> None:
        samples["floor"].append(keycloak_floor(settings, names["floor"]))

    def engine() -> None:
        _collect(steps, settings, names["engine"])

    return [
        ("product", product),
        ("script", script),
        ("modules", modules),
        ("ansible_start_up", start_up),
        ("floor", floor),
        ("engine", engine),
    ]


def _collect(steps: dict[str, list[float]], settings: Settings, tenant_id: str) -> None:
    for name, seconds in onboard_in_process(settings, tenant_id).items():
        steps.setdefault(name, []).append(seconds)


def bench_batch(settings: Settings, count: int) -> dict[str, Any]:
    """Onboard ``count`` tenants from one batch file through the playbook."""
    folder = scratch_dir("qa-bench-batch-")
    stamp = time.strftime("%H%M%S")
    tenants = [tenant_spec(f"bench-b{stamp}-{index:03d}") for index in range(count)]
    path = folder / "batch.json"
    path.write_text(json.dumps({"tenants": tenants}))
    log(f"batch of {count} tenants: onboarding")
    result = require_ok(
        run_command(["ansible-playbook", PLAYBOOK, "-e", f"@{path}"]),
        f"batch of {count}",
    )
    log(f"batch of {count} tenants: {result.seconds:.1f} s; removing them")
    removal_start = time.perf_counter()
    clean_up(settings)
    return {
        "count": count,
        "seconds": result.seconds,
        "per_tenant": result.seconds / count,
        "removal_seconds": time.perf_counter() - removal_start,
    }


def create_fillers(target_total: int, deadline: float) -> list[float]:
    """Add minimal realms until Keycloak has ``target_total``; time each POST."""
    token = AdminToken()
    present = realm_names()
    existing = sum(1 for name in present if name.startswith(FILL_PREFIX))
    times: list[float] = []
    index = existing
    while len(present) + len(times) < target_total:
        if time.monotonic() > deadline:
            raise TimeoutError(
                f"filler realms: {len(present) + len(times)} of {target_total}"
                " present when the time limit ran out"
            )
        start = time.perf_counter()
        response = requests.post(
            f"{KEYCLOAK_URL}/admin/realms",
            json={"realm": f"{FILL_PREFIX}{index:04d}", "enabled": True},
            headers={"Authorization": f"Bearer {token.get()}"},
            timeout=300,
        )
        times.append(time.perf_counter() - start)
        if response.status_code >= 400:
            raise RuntimeError(
                f"filler realm {FILL_PREFIX}{index:04d} not created: HTTP"
                f" {response.status_code} {response.text[:200]!r} with"
                f" {len(present) + len(times) - 1} realms present and an admin"
                f" token of {len(token.get())} bytes"
            )
        index += 1
    return times


def probe_token(token: str) -> dict[str, int]:
    """Send the automation client's token to the admin API directly and via nginx.

    Returns each HTTP status, or 0 when the connection failed. The nginx probe
    goes to the lab's auth host on loopback and only reads the status, so it
    skips certificate checks.
    """
    import urllib3

    urllib3.disable_warnings(urllib3.exceptions.InsecureRequestWarning)
    statuses: dict[str, int] = {}
    targets = {"direct": KEYCLOAK_URL, "nginx": NGINX_URL}
    for name, base in targets.items():
        try:
            response = requests.get(
                f"{base}/admin/realms/master",
                headers={"Authorization": f"Bearer {token}"},
                timeout=60,
                verify=name != "nginx",
            )
            statuses[name] = response.status_code
        except requests.RequestException:
            statuses[name] = 0
    return statuses


def bench_realm_scaling(
    settings: Settings, levels: list[int], repetitions: int, time_limit_s: float
) -> dict[str, Any]:
    """Onboard at each number of realms already present; remove fillers after.

    A level whose filler realms or onboarding fail ends the section with that
    level's error in its row, because every higher level would fail the same way.
    """
    folder = scratch_dir("qa-bench-realms-")
    stamp = time.strftime("%H%M%S")
    deadline = time.monotonic() + time_limit_s
    rows: list[dict[str, Any]] = []
    try:
        for level in levels:
            row: dict[str, Any] = {"level": level}
            rows.append(row)
            try:
                measure_level(settings, folder, f"bench-r{stamp}-{level}", row,
                              level, repetitions, deadline)  # fmt: skip
            except (RuntimeError, TimeoutError, requests.RequestException) as error:
                row["error"] = f"{type(error).__name__}: {error}"[:600]
                log(f"realm level {level} failed: {row['error']}")
                break
    finally:
        removal_start = time.perf_counter()
        counts = clean_up(settings)
        log(f"realm scaling clean-up: {counts}")
    return {"rows": rows, "removal_seconds": time.perf_counter() - removal_start}


def measure_level(
    settings: Settings,
    folder: Path,
    prefix: str,
    row: dict[str, Any],
    level: int,
    repetitions: int,
    deadline: float,
) -> None:
    """Fill Keycloak up to ``level`` realms, then time onboarding and the floor."""
    token = admin_token()
    row["token_bytes"] = len(token)
    row["token_status"] = probe_token(token)
    filler_times = create_fillers(level, deadline)
    row["filler_post"] = median(filler_times) if filler_times else None
    token = admin_token()
    row["realms"] = len(realm_names())
    row["token_bytes"] = len(token)
    row["token_status"] = probe_token(token)
    product: list[float] = []
    floor: list[float] = []
    for rep in range(repetitions):
        tenant_id = f"{prefix}-{rep}"
        product.append(onboard_playbook(folder, tenant_id))
        remove(settings, tenant_id)
        floor.append(keycloak_floor(settings, f"{tenant_id}f"))
    row.update(product=median(product), floor=median(floor), samples=product)
    log(
        f"{row['realms']} realms: onboarding {row['product']:.2f} s, floor "
        f"{row['floor']:.2f} s, admin token {row['token_bytes']} bytes "
        f"{row['token_status']}"
    )
