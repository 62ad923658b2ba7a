"""The new admin's temporary password: shown once, never stored by the TUI.

The provisioning playbook writes ``<credentials_dir>/<tenant_id>.json``
(mode 0600). The TUI reads the password from there once and records in its
state file only that it was shown, with the time.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class CredentialsError(Exception):
    """The credentials file is missing, unreadable or incomplete."""


@dataclass(frozen=True)
class AdminCredentials:
    """The handover record of a new tenant (from the credentials file)."""

    tenant_id: str
    realm: str
    admin_username: str
    temporary_password: str

    def __repr__(self) -> str:
        # Keeps the password out of logs and tracebacks that print the object.
        return (
            f"AdminCredentials(tenant_id={self.tenant_id!r}, realm={self.realm!r}, "
            f"admin_username={self.admin_username!r}, temporary_password='***')"
        )


class ShownPasswords:
    """The record of shown temporary passwords, kept in a JSON file."""

    def __init__(self, state_file: Path) -> None:
        self.state_file = state_file

    def _load(self) -> dict[str, Any]:
        try:
            data = json.loads(self.state_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def was_shown(self, tenant_id: str) -> bool:
        return tenant_id in self._load().get("passwords_shown", {})

    def mark_shown(self, tenant_id: str) -> None:
        data = self._load()
        data.setdefault("passwords_shown", {})[tenant_id] = time.time()
        self.state_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
        tmp.replace(self.state_file)


def read_credentials(credentials_dir: Path, tenant_id: str) -> AdminCredentials:
    """Read a tenant's credentials file; raise CredentialsError naming the
    file when it cannot be used."""
    path = credentials_dir / f"{tenant_id}.json"
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError as error:
        raise CredentialsError(
            f"credentials file {path} not found; the onboarding run writes it"
        ) from error
    except (OSError, ValueError) as error:
        raise CredentialsError(
            f"credentials file {path} is unreadable: {type(error).__name__}"
        ) from error
    missing = [
        key
        for key in ("realm", "admin_username", "admin_temporary_password")
        if not data.get(key)
    ]
    if missing:
        raise CredentialsError(f"credentials file {path} lacks {', '.join(missing)}")
    return AdminCredentials(
        tenant_id=tenant_id,
        realm=str(data["realm"]),
        admin_username=str(data["admin_username"]),
        temporary_password=str(data["admin_temporary_password"]),
    )


def admin_username(credentials_dir: Path, tenant_id: str) -> str | None:
    """Return the admin user name from the credentials file, or None."""
    try:
        return read_credentials(credentials_dir, tenant_id).admin_username
    except CredentialsError:
        return None
