"""The lifecycle operations as playbook runs, and the onboarding form's file.

Each operation is the same playbook an operator runs with
``ansible-playbook``: only tenant ids and a tenant file reach the run, never
a secret.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ansible_collections.qa.platform.plugins.module_utils import tenant_spec

from tui.core.paths import PROJECT_DIR
from tui.core.runs import RunRequest

PLAYBOOKS_DIR = PROJECT_DIR / "playbooks"
LIFECYCLE_PLAYBOOKS = {
    "provision": "tenant_provision.yml",
    "suspend": "tenant_suspend.yml",
    "resume": "tenant_resume.yml",
    "remove": "tenant_remove.yml",
}


# Task keywords whose number of tasks only Ansible can tell.
_DYNAMIC_TASK_KEYS = frozenset(
    {
        "block",
        *(
            f"{prefix}{action}"
            for prefix in ("", "ansible.builtin.")
            for action in (
                "include_tasks",
                "import_tasks",
                "include_role",
                "import_role",
            )
        ),
    }
)


class PlaybookMissing(Exception):
    """A lifecycle playbook is not in this checkout."""


def playbook_path(operation: str, playbooks_dir: Path = PLAYBOOKS_DIR) -> Path:
    """Return the playbook of ``operation``; raise PlaybookMissing if absent."""
    path = playbooks_dir / LIFECYCLE_PLAYBOOKS[operation]
    if not path.is_file():
        raise PlaybookMissing(
            f"playbook {path.name} not found in {playbooks_dir}; update the "
            "checkout to a version that has the tenant lifecycle playbooks"
        )
    return path


def write_tenant_file(tenant: Mapping[str, Any], folder: Path) -> Path:
    """Validate ``tenant`` with the playbook's rules and write it as JSON.

    Raises tenant_spec.TenantSpecError listing every problem. The file contains
    no secret: the tenant file fields are names, limits and features.
    """
    normalized = tenant_spec.validate_tenant(dict(tenant))
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{normalized['tenant_id']}.json"
    fields = {key: value for key, value in normalized.items() if value is not None}
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump(fields, handle, indent=2, sort_keys=True)
    tmp.replace(path)
    return path


def provision_request(
    tenant_file: Path,
    tenant_id: str,
    inventory: Path,
    check: bool,
    vault_password_file: Path | None = None,
) -> RunRequest:
    """Onboard the tenant in ``tenant_file`` (``-e @tenant_file``)."""
    mode = "preview" if check else "onboard"
    return RunRequest(
        playbook=playbook_path("provision"),
        inventory=inventory,
        title=f"{mode} {tenant_id}",
        tenant_id=tenant_id,
        extravar_files=(tenant_file,),
        check=check,
        vault_password_file=vault_password_file,
    )


def lifecycle_request(
    operation: str,
    tenant_id: str,
    inventory: Path,
    vault_password_file: Path | None = None,
    keep_dump: bool = True,
) -> RunRequest:
    """Suspend, resume or remove ``tenant_id``; removal passes confirm."""
    extravars: dict[str, Any] = {"tenant_id": tenant_id}
    if operation == "remove":
        extravars["confirm"] = tenant_id
        if not keep_dump:
            extravars["keep_dump"] = False
    return RunRequest(
        playbook=playbook_path(operation),
        inventory=inventory,
        title=f"{operation} {tenant_id}",
        tenant_id=tenant_id,
        extravars=extravars,
        vault_password_file=vault_password_file,
    )


def estimate_task_count(playbook: Path) -> int | None:
    """Count the tasks of a playbook whose plays list tasks directly.

    Returns None when a play uses roles, imports or blocks, whose task
    count only Ansible can compute; the progress bar is then indeterminate.
    """
    import yaml

    # This runs on the event loop before the run view shows. libyaml's safe
    # loader parses a 100-task playbook in about 2 ms and PyYAML's own in
    # about 45 ms. Both build plain data only.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        plays = yaml.load(playbook.read_text(), Loader=loader)  # noqa: S506
    except (OSError, yaml.YAMLError):
        return None
    if not isinstance(plays, list):
        return None
    total = 0
    for play in plays:
        if not isinstance(play, dict) or "hosts" not in play or play.get("roles"):
            return None
        for section in ("pre_tasks", "tasks", "post_tasks"):
            for task in play.get(section) or []:
                if not isinstance(task, dict):
                    return None
                if any(key in task for key in _DYNAMIC_TASK_KEYS):
                    return None
                total += 1
    return total or None
