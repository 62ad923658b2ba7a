"""Every playbook parses, and site.yml imports the platform's parts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
PLAYBOOKS = [
    "site.yml",
    *sorted(
        str(path.relative_to(PROJECT_DIR))
        for path in (PROJECT_DIR / "playbooks").glob("*.yml")
    ),
]


@pytest.mark.parametrize("playbook", PLAYBOOKS)
def test_playbook_syntax(playbook: str) -> None:
    bin_dir = Path(sys.executable).parent
    result = subprocess.run(
        [str(bin_dir / "ansible-playbook"), "--syntax-check", playbook],
        cwd=PROJECT_DIR,
        env=dict(os.environ, ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg")),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_site_imports_existing_playbooks() -> None:
    plays = yaml.safe_load((PROJECT_DIR / "site.yml").read_text())
    imported = [play["ansible.builtin.import_playbook"] for play in plays]
    assert imported, "site.yml imports no playbook"
    for path in imported:
        assert (PROJECT_DIR / path).is_file(), f"site.yml imports missing {path}"
    assert "playbooks/auth_host.yml" in imported
    assert "playbooks/database.yml" in imported
    assert "playbooks/tenant_provision.yml" in imported
    assert "playbooks/lab.yml" not in imported
