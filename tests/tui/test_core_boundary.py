"""The core that runs playbooks and reads status imports no Textual."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

CORE_DIR = Path(__file__).resolve().parents[2] / "tui" / "core"
CORE_MODULES = sorted(
    f"tui.core.{path.stem}" for path in CORE_DIR.glob("*.py") if path.stem != "__init__"
)


def test_core_modules_found() -> None:
    assert "tui.core.runs" in CORE_MODULES
    assert "tui.core.status" in CORE_MODULES


@pytest.mark.parametrize("module", CORE_MODULES)
def test_core_module_imports_no_textual(module: str) -> None:
    code = (
        "import importlib, sys\n"
        f"importlib.import_module({module!r})\n"
        "loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'textual')\n"
        "print(','.join(loaded))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "", f"{module} loads {result.stdout.strip()}"
