"""Run qa.platform.tenant_validate for real through ansible-playbook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COLLECTIONS_DIR = ROOT / "collections"
EXAMPLE_FILE = ROOT / "inventories/local/tenants/example.yml"
# Ansible's default collection path, kept after the project's own.
DEFAULT_COLLECTIONS_PATH = "~/.ansible/collections:/usr/share/ansible/collections"

BETA = {
    "tenant_id": "beta",
    "realm_name": "beta",
    "subdomain": "beta",
    "display_name": "Beta Inc",
    "admin_email": "ops@beta.example",
}
EXISTING = [
    {"tenant_id": "acme", "realm_name": "acme", "subdomain": "acme"},
    {"tenant_id": "gamma", "realm_name": "gamma", "subdomain": "beta"},
]

# Each scenario becomes one task, whose result is saved to results/<name>.json.
SCENARIOS: dict[str, dict[str, Any]] = {
    "single": {"tenant": "{{ example }}"},
    "single_check": {"tenant": "{{ example }}", "_check_mode": True},
    "rerun": {"tenant": "{{ example }}", "existing": EXISTING[:1]},
    "batch": {"tenants": ["{{ example }}", BETA]},
    "bad_single": {"tenant": {**BETA, "tier": "gold", "max_users": "10"}},
    "bad_batch": {"tenants": ["{{ example }}", {**BETA, "realm_name": "master"}]},
    "duplicate_batch": {"tenants": ["{{ example }}", {**BETA, "tenant_id": "acme"}]},
    "conflict": {"tenant": BETA, "existing": EXISTING},
    "both_options": {"tenant": BETA, "tenants": [BETA]},
}


def build_playbook() -> list[dict[str, Any]]:
    """Build a play with one module task and one result file per scenario."""
    tasks: list[dict[str, Any]] = [
        {
            "name": "Create the results folder",
            "ansible.builtin.file": {"path": "results", "state": "directory"},
        }
    ]
    for name, scenario in SCENARIOS.items():
        args = {key: value for key, value in scenario.items() if key != "_check_mode"}
        task: dict[str, Any] = {
            "name": f"Validate {name}",
            "qa.platform.tenant_validate": args,
            "register": f"result_{name}",
            "ignore_errors": True,
        }
        if scenario.get("_check_mode"):
            task["check_mode"] = True
        tasks.append(task)
        tasks.append(
            {
                "name": f"Save {name}",
                "ansible.builtin.copy": {
                    "content": f"{{{{ result_{name} | to_json }}}}",
                    "dest": f"results/{name}.json",
                    "mode": "0600",
                },
            }
        )
    return [
        {
            "hosts": "localhost",
            "gather_facts": False,
            "vars_files": ["example.yml"],
            "tasks": tasks,
        }
    ]


def write_inputs(work: Path) -> None:
    """Write the playbook, its vars file and an empty ansible.cfg to work."""
    example = yaml.safe_load(EXAMPLE_FILE.read_text(encoding="utf-8"))
    # The example goes in under one variable, so the tasks can pass it whole.
    (work / "example.yml").write_text(
        yaml.safe_dump({"example": example}), encoding="utf-8"
    )
    playbook = yaml.safe_dump(build_playbook())
    (work / "play.yml").write_text(playbook, encoding="utf-8")
    # An empty config keeps a developer's own ansible.cfg out of the run.
    (work / "ansible.cfg").write_text("[defaults]\n", encoding="utf-8")


def run_playbook(work: Path) -> subprocess.CompletedProcess[str]:
    """Run play.yml in work against localhost with the venv's Python."""
    env = dict(os.environ)
    env["ANSIBLE_CONFIG"] = str(work / "ansible.cfg")
    env["ANSIBLE_COLLECTIONS_PATH"] = f"{COLLECTIONS_DIR}:{DEFAULT_COLLECTIONS_PATH}"
    env["ANSIBLE_NOCOLOR"] = "1"
    command = [
        str(Path(sys.executable).parent / "ansible-playbook"),
        "-i",
        "localhost,",
        "-c",
        "local",
        "-e",
        f"ansible_python_interpreter={sys.executable}",
        "play.yml",
    ]
    return subprocess.run(
        command, cwd=work, env=env, capture_output=True, text=True, timeout=300
    )


@pytest.fixture(scope="module")
def results(tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Run the playbook once and return each scenario's registered result."""
    work = tmp_path_factory.mktemp("tenant_validate")
    write_inputs(work)
    run = run_playbook(work)
    # Failed scenarios are ignored in the play, so the run itself must pass.
    assert run.returncode == 0, run.stdout + run.stderr

    loaded: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        path = work / "results" / f"{name}.json"
        loaded[name] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def test_module_single_normalized(results: dict[str, dict[str, Any]]) -> None:
    result = results["single"]
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    (tenant,) = result["tenants"]
    assert tenant["tenant_id"] == "acme"
    assert tenant["max_users"] == 100


def test_module_check_mode(results: dict[str, dict[str, Any]]) -> None:
    result = results["single_check"]
    assert result.get("failed") is not True, result.get("msg")
    assert result["changed"] is False
    assert result["tenants"][0]["tenant_id"] == "acme"


def test_module_rerun_no_conflict(results: dict[str, dict[str, Any]]) -> None:
    result = results["rerun"]
    assert result.get("failed") is not True, result.get("msg")


def test_module_batch_defaults(results: dict[str, dict[str, Any]]) -> None:
    result = results["batch"]
    assert result.get("failed") is not True, result.get("msg")
    beta = result["tenants"][1]
    assert beta["tier"] == "free"
    assert beta["max_calls_per_month"] == 1000
    assert beta["company_name"] == "Beta Inc"


def test_module_lists_every_problem(results: dict[str, dict[str, Any]]) -> None:
    result = results["bad_single"]
    assert result["failed"] is True
    assert "tier: invalid value 'gold' (rule allowed_values)" in result["msg"]
    assert "max_users: invalid value '10' (rule type)" in result["msg"]
    rules = [(p["field"], p["rule"]) for p in result["problems"]]
    assert rules == [("tier", "allowed_values"), ("max_users", "type")]


def test_module_bad_batch_entry(results: dict[str, dict[str, Any]]) -> None:
    result = results["bad_batch"]
    assert result["failed"] is True
    assert "tenants" not in result
    assert "tenants[1] (tenant_id 'beta'): realm_name:" in result["msg"]
    assert "rule reserved" in result["msg"]


def test_module_batch_duplicate(results: dict[str, dict[str, Any]]) -> None:
    result = results["duplicate_batch"]
    assert result["failed"] is True
    (problem,) = result["problems"]
    assert problem["field"] == "tenant_id"
    assert problem["rule"] == "duplicate"
    assert problem["index"] == 1


def test_module_conflict(results: dict[str, dict[str, Any]]) -> None:
    result = results["conflict"]
    assert result["failed"] is True
    (problem,) = result["problems"]
    assert problem["field"] == "subdomain"
    assert problem["rule"] == "conflict"
    assert "'gamma'" in problem["message"]


def test_module_both_options(results: dict[str, dict[str, Any]]) -> None:
    result = results["both_options"]
    assert result["failed"] is True
    assert "mutually exclusive" in result["msg"]
