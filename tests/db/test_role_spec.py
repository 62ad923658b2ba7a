"""The platform_db role's defaults and argument spec describe the same variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROLE = Path(__file__).resolve().parents[2] / "roles" / "platform_db"


def load(relative: str) -> Any:
    return yaml.safe_load((ROLE / relative).read_text())


def test_spec_covers_every_default() -> None:
    defaults = load("defaults/main.yml")
    options = load("meta/argument_specs.yml")["argument_specs"]["main"]["options"]
    assert sorted(defaults) == sorted(options)
    for name, value in defaults.items():
        assert options[name]["default"] == value, name


def test_variables_use_role_prefix() -> None:
    defaults = load("defaults/main.yml")
    assert [name for name in defaults if not name.startswith("platform_db_")] == []
