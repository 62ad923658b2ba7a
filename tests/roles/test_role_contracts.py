"""Every role documents its input once: defaults and argument spec agree."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

ROLES_DIR = Path(__file__).resolve().parents[2] / "roles"
ROLES = sorted(path.name for path in ROLES_DIR.iterdir() if (path / "tasks").is_dir())


def load_yaml(path: Path) -> Any:
    """Load one YAML file, or None when it does not exist."""
    if not path.is_file():
        return None
    return yaml.safe_load(path.read_text())


def main_options(role: str) -> dict[str, Any]:
    """Return the options of a role's main entry point."""
    spec = load_yaml(ROLES_DIR / role / "meta" / "argument_specs.yml")
    assert spec is not None, f"role {role} has no meta/argument_specs.yml"
    options: dict[str, Any] = spec["argument_specs"]["main"].get("options", {})
    return options


@pytest.mark.parametrize("role", ROLES)
def test_role_has_molecule_scenario(role: str) -> None:
    if role == "lab":
        pytest.skip("the lab role is tested by tests/lab against the running lab")
    assert (ROLES_DIR / role / "molecule" / "default" / "molecule.yml").is_file()


@pytest.mark.parametrize("role", ROLES)
def test_defaults_match_argument_spec(role: str) -> None:
    defaults = load_yaml(ROLES_DIR / role / "defaults" / "main.yml") or {}
    options = main_options(role)
    assert set(defaults) <= set(options), (
        f"{role}: defaults without a spec entry: {sorted(set(defaults) - set(options))}"
    )
    for name, option in options.items():
        if "default" in option:
            assert name in defaults, f"{role}: spec default for {name} not in defaults"
            assert option["default"] == defaults[name], (
                f"{role}: {name} defaults to {defaults[name]!r} but the spec says "
                f"{option['default']!r}"
            )


@pytest.mark.parametrize("role", ROLES)
def test_options_have_descriptions(role: str) -> None:
    for name, option in main_options(role).items():
        assert option.get("description"), f"{role}: option {name} has no description"
        assert option.get("type"), f"{role}: option {name} has no type"


@pytest.mark.parametrize("role", ROLES)
def test_variables_carry_role_prefix(role: str) -> None:
    for name in main_options(role):
        assert name.startswith(f"{role}_"), f"{role}: option {name} lacks the prefix"
