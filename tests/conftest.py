"""Fixtures shared by every test folder: the project's paths and the lab."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

PROJECT_DIR = Path(__file__).resolve().parent.parent
LAB_STATE_DIR = Path(os.environ.get("QA_LAB_STATE_DIR", "/var/lib/qa-lab"))


@pytest.fixture(scope="session")
def project_dir() -> Path:
    """Return the project's root folder."""
    return PROJECT_DIR


@pytest.fixture(scope="session")
def lab() -> dict[str, Any]:
    """Return the summary that `make lab` writes: endpoints, logs and files.

    A missing summary fails the test instead of skipping it, because
    `make test` starts the lab before it runs pytest.
    """
    summary = LAB_STATE_DIR / "lab.json"
    if not summary.is_file():
        pytest.fail(f"lab summary {summary} not found; start the lab with `make lab`")
    data: dict[str, Any] = json.loads(summary.read_text())
    return data
