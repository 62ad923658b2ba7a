"""Folders and files of the TUI: run artifacts, state and log."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parents[2]
SYSTEM_DATA_DIR = Path("/var/lib/qa-platform/tui")
DATA_DIR_ENV = "QA_TUI_DATA_DIR"


def default_data_dir() -> Path:
    """Return the data folder: $QA_TUI_DATA_DIR, the system folder as root,
    or ~/.local/state/qa-platform/tui for other users."""
    configured = os.environ.get(DATA_DIR_ENV)
    if configured:
        return Path(configured)
    if os.geteuid() == 0:
        return SYSTEM_DATA_DIR
    return Path.home() / ".local" / "state" / "qa-platform" / "tui"


@dataclass(frozen=True)
class TuiPaths:
    """The folders and files below one data folder."""

    data_dir: Path

    @property
    def artifacts_dir(self) -> Path:
        """ansible-runner's artifacts, one folder per run: the run history."""
        return self.data_dir / "artifacts"

    @property
    def runner_dir(self) -> Path:
        """ansible-runner's private data folder (env/, inventory/)."""
        return self.data_dir / "runner"

    @property
    def tenant_files_dir(self) -> Path:
        """Tenant files written by the onboarding form."""
        return self.data_dir / "tenants"

    @property
    def state_file(self) -> Path:
        """Which temporary passwords were shown; never the passwords."""
        return self.data_dir / "state.json"

    @property
    def log_file(self) -> Path:
        return self.data_dir / "tui.log"

    @property
    def ca_bundle(self) -> Path:
        """CA bundle fetched for the lab's ACME certificates."""
        return self.data_dir / "lab-ca-bundle.pem"

    def create(self) -> None:
        """Create the folders with mode 0700: artifacts hold task results."""
        for folder in (
            self.data_dir,
            self.artifacts_dir,
            self.runner_dir,
            self.tenant_files_dir,
        ):
            folder.mkdir(mode=0o700, parents=True, exist_ok=True)
