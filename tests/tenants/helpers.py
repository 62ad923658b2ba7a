"""Helpers for the tenant lifecycle tests: playbook runs, lab secrets, tenant files."""

from __future__ import annotations

import json
import os
import subprocess
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
SECRETS_DIR = Path(os.environ.get("QA_LAB_STATE_DIR", "/var/lib/qa-lab")) / "secrets"
CREDENTIALS_DIR = Path("/var/lib/qa-platform/credentials")


@dataclass
class PlaybookRun:
    """The result of one ansible-playbook run."""

    returncode: int
    output: str

    @property
    def text(self) -> str:
        """Return the output with whitespace collapsed, as Ansible folds long lines."""
        return " ".join(self.output.split())


class Runner:
    """Run the project's playbooks and keep every output for secret scans."""

    def __init__(self) -> None:
        self.outputs: list[str] = []

    def run(self, playbook: str, *args: str, timeout: int = 600) -> PlaybookRun:
        """Run one playbook from the project folder and return rc and output."""
        env = dict(
            os.environ,
            ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"),
            ANSIBLE_FORCE_COLOR="false",
        )
        result = subprocess.run(
            ["ansible-playbook", f"playbooks/{playbook}", *args],
            cwd=PROJECT_DIR,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        output = result.stdout + result.stderr
        self.outputs.append(output)
        return PlaybookRun(result.returncode, output)


def lab_secret(name: str) -> str:
    """Return one of the lab's generated secrets."""
    return (SECRETS_DIR / name).read_text().strip()


def new_tenant_id() -> str:
    """Return a tenant id no other test uses."""
    return f"t{uuid.uuid4().hex[:10]}"


def write_tenant(directory: Path, tenant_id: str, **fields: Any) -> Path:
    """Write a tenant file and return its path."""
    tenant = {
        "tenant_id": tenant_id,
        "realm_name": f"{tenant_id}-realm",
        "subdomain": tenant_id,
        "display_name": f"Tenant {tenant_id}",
        "tier": "starter",
        "admin_email": f"admin@{tenant_id}.example.com",
        "admin_first_name": "Ada",
        "admin_last_name": "Admin",
        "features": ["api_access"],
        **fields,
    }
    path = directory / f"{tenant_id}.yml"
    path.write_text(yaml.safe_dump(tenant))
    return path


def credentials(tenant_id: str) -> dict[str, Any]:
    """Return a tenant's credentials file."""
    data: dict[str, Any] = json.loads(
        (CREDENTIALS_DIR / f"{tenant_id}.json").read_text()
    )
    return data


def lab_connection(role: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection to the lab's qa_platform as one role."""
    return psycopg.connect(
        host="127.0.0.1",
        port=5433,
        dbname="qa_platform",
        user=role,
        password=lab_secret(role),
        autocommit=True,
    )
