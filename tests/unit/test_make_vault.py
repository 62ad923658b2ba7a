"""scripts/make_vault.py: a new vault with every secret the inventory maps."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

PROJECT_DIR = Path(__file__).resolve().parents[2]
SCRIPT = PROJECT_DIR / "scripts" / "make_vault.py"
BIN_DIR = Path(sys.executable).parent


def make_vault(
    inventory: Path, password_file: Path
) -> subprocess.CompletedProcess[str]:
    """Run the script with the venv's tools on PATH."""
    env = dict(os.environ, PATH=f"{BIN_DIR}:{os.environ['PATH']}")
    return subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--inventory",
            str(inventory),
            "--vault-password-file",
            str(password_file),
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "vault-pass"
    path.write_text("correct horse battery staple\n")
    path.chmod(0o600)
    return path


def test_vault_holds_every_mapped_secret(tmp_path: Path, password_file: Path) -> None:
    inventory = tmp_path / "inventory"
    result = make_vault(inventory, password_file)
    assert result.returncode == 0, result.stderr
    vault = inventory / "group_vars" / "all" / "vault.yml"
    assert vault.stat().st_mode & 0o777 == 0o600
    assert vault.read_text().startswith("$ANSIBLE_VAULT;")

    plain = subprocess.run(
        [
            str(BIN_DIR / "ansible-vault"),
            "view",
            "--vault-password-file",
            str(password_file),
            str(vault),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    values = dict(re.findall(r'^(vault_\w+): "([A-Za-z0-9]+)"$', plain, re.MULTILINE))
    mapped = (
        PROJECT_DIR
        / "inventories"
        / "production"
        / "group_vars"
        / "all"
        / "secrets.yml"
    ).read_text()
    expected = set(re.findall(r"\b(vault_\w+)\b", mapped))
    assert set(values) == expected
    assert all(len(value) == 40 for value in values.values())
    assert len(set(values.values())) == len(values)
    assert result.stdout.count(next(iter(values.values()))) == 0


def test_vault_never_overwritten(tmp_path: Path, password_file: Path) -> None:
    inventory = tmp_path / "inventory"
    assert make_vault(inventory, password_file).returncode == 0
    vault = inventory / "group_vars" / "all" / "vault.yml"
    before = vault.read_text()
    again = make_vault(inventory, password_file)
    assert again.returncode == 1
    assert "already exists" in again.stderr
    assert vault.read_text() == before


def test_vault_rejects_readable_password_file(
    tmp_path: Path, password_file: Path
) -> None:
    password_file.chmod(0o644)
    result = make_vault(tmp_path / "inventory", password_file)
    assert result.returncode == 1
    assert "chmod 600" in result.stderr
    assert not (tmp_path / "inventory" / "group_vars").exists()
