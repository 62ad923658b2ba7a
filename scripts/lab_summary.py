#!/usr/bin/env python3
"""Print what the local lab runs, where it listens, and where its logs are.

`make up` calls this last. Each line shows whether the service responds now,
so a service that died after `make lab` is easy to spot.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

STATE_DIR = Path(os.environ.get("QA_LAB_STATE_DIR", "/var/lib/qa-lab"))


def port_open(address: str) -> bool:
    """Return whether a TCP connection to host:port succeeds within a second."""
    host, _, port = address.rpartition(":")
    try:
        with socket.create_connection((host, int(port)), timeout=1):
            return True
    except OSError:
        return False


def container_running(name: str) -> bool:
    """Return whether the named container exists and runs."""
    result = subprocess.run(
        ["docker", "inspect", "--format", "{{.State.Running}}", name],
        capture_output=True,
        text=True,
        check=False,
    )
    return result.stdout.strip() == "true"


def rows(lab: dict[str, Any]) -> list[tuple[str, bool, str, str]]:
    """Return (service, up, where, log) for each lab service."""
    postgresql = lab["postgresql"]
    pg_address = f"{postgresql['host']}:{postgresql['port']}"
    moto = lab["moto"]["endpoint"].removeprefix("http://")
    pebble = lab["pebble"]["directory"].removeprefix("https://").split("/")[0]
    dns = lab["challtestsrv"]["dns"]
    auth = lab["auth_container"]
    return [
        (
            "postgresql",
            port_open(pg_address),
            f"{pg_address} (master {postgresql['master_user']})",
            postgresql["log"],
        ),
        ("moto", port_open(moto), lab["moto"]["endpoint"], lab["moto"]["log"]),
        (
            "lightsail double",
            port_open(lab["lightsail"]["endpoint"].removeprefix("http://")),
            lab["lightsail"]["endpoint"],
            lab["lightsail"]["log"],
        ),
        ("pebble", port_open(pebble), lab["pebble"]["directory"], lab["pebble"]["log"]),
        (
            "pebble-challtestsrv",
            port_open(lab["challtestsrv"]["management"].removeprefix("http://")),
            f"DNS on {dns}",
            lab["challtestsrv"]["log"],
        ),
        (
            "auth host",
            container_running(auth),
            f"container {auth}, standing in for the Lightsail instance",
            f"docker logs {auth}",
        ),
    ]


def main() -> int:
    """Print the lab's services and return 1 when one of them is down."""
    summary = STATE_DIR / "lab.json"
    if not summary.is_file():
        print(f"lab summary {summary} not found; start the lab with `make lab`")
        return 1
    lab = json.loads(summary.read_text())
    table = rows(lab)
    print(f"Lab for {lab['domain']} (Keycloak image {lab['keycloak_image']}):")
    for service, up, where, log in table:
        state = "up" if up else "DOWN"
        print(f"  {service:<20} {state:<5} {where}")
        print(f"  {'':<20} {'':<5} log: {log}")
    print("Next: `make test` runs every check CI runs.")
    return 0 if all(up for _, up, _, _ in table) else 1


if __name__ == "__main__":
    sys.exit(main())
