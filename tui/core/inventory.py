"""Resolve the platform settings the TUI needs from an Ansible inventory.

Variables resolve as they do for a playbook on the controller: Ansible's
InventoryManager and VariableManager for ``localhost``, templated, with vault
secrets from a password file. This imports Ansible (about a second), so
callers run it in a thread after the first paint.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

LAB_SUMMARY = Path("/var/lib/qa-lab/lab.json")
DEFAULT_CREDENTIALS_DIR = Path("/var/lib/qa-platform/credentials")


class InventoryError(Exception):
    """The inventory could not be read or lacks a needed variable."""


@dataclass(frozen=True)
class PlatformSettings:
    """Connection settings of one platform, resolved from its inventory.

    ``None`` means the inventory does not set the value; the matching status
    provider then reports "unknown".
    """

    inventory: Path
    environment: str
    domain: str
    db_host: str
    db_port: int
    db_name: str
    db_user: str
    db_password: str | None
    keycloak_url: str
    keycloak_client_id: str
    keycloak_client_secret: str | None
    keycloak_ca_file: str | None
    route53_endpoint: str | None
    credentials_dir: Path
    vault_password_file: Path | None

    @property
    def dns_zone(self) -> str:
        return self.domain

    def tenant_record(self, subdomain: str) -> str:
        """Return a tenant's DNS name: ``<subdomain>.qa.<domain>``."""
        return f"{subdomain}.qa.{self.domain}"


def _lab_summary() -> dict[str, Any]:
    try:
        data = json.loads(LAB_SUMMARY.read_text())
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def resolve_settings(
    inventory: Path, vault_password_file: Path | None = None
) -> PlatformSettings:
    """Read the settings for ``inventory``; raise InventoryError when a
    required variable is missing or cannot be templated."""
    # Ansible probes the terminal with curses at import unless colour is
    # off, and that fails (ValueError) when stdout is not a terminal.
    os.environ.setdefault("ANSIBLE_NOCOLOR", "1")
    from ansible.errors import AnsibleError
    from ansible.inventory.manager import InventoryManager
    from ansible.parsing.dataloader import DataLoader
    from ansible.parsing.vault import get_file_vault_secret
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar
    from ansible.vars.manager import VariableManager

    if not inventory.exists():
        raise InventoryError(
            f"inventory {inventory} not found; pass --inventory with an "
            "inventory folder or file"
        )
    # Lookups such as ansible.builtin.password load through the collection
    # loader, which the ansible CLIs set up and this API does not.
    init_plugin_loader()
    loader = DataLoader()
    if vault_password_file is not None:
        secret = get_file_vault_secret(filename=str(vault_password_file), loader=loader)
        secret.load()
        loader.set_vault_secrets([("default", secret)])
    try:
        manager = InventoryManager(loader=loader, sources=[str(inventory)])
        variables = VariableManager(loader=loader, inventory=manager)
        host = manager.get_host("localhost")
        if host is None:
            host = manager.localhost
        host_vars = variables.get_vars(host=host, include_hostvars=False)
    except AnsibleError as error:
        raise InventoryError(
            f"inventory {inventory} could not be read: {error}"
        ) from error
    templar = Templar(loader=loader, variables=host_vars)

    def value(name: str, default: Any = None) -> Any:
        if name not in host_vars:
            return default
        try:
            result = templar.template(host_vars[name])
        except AnsibleError as error:
            raise InventoryError(
                f"inventory variable {name} could not be resolved: {error}"
            ) from error
        return result.strip() if isinstance(result, str) else result

    domain = value("platform_domain")
    if not domain:
        raise InventoryError(
            f"inventory {inventory} does not set platform_domain; set it in "
            "group_vars/all"
        )
    environment = str(value("platform_environment", "production"))
    lab = _lab_summary() if environment == "lab" else {}
    route53 = value("aws_dns_endpoint_url")
    if route53 is None and lab:
        route53 = (lab.get("moto") or {}).get("endpoint")
    ca_file = value("platform_ca_file")
    password = value("platform_db_operator_password")
    secret = value("platform_keycloak_automation_client_secret")
    return PlatformSettings(
        inventory=inventory,
        environment=environment,
        domain=str(domain),
        db_host=str(value("platform_db_host", "127.0.0.1")),
        db_port=int(value("platform_db_port", 5432)),
        db_name=str(value("platform_db_name", "qa_platform")),
        db_user=str(value("platform_db_operator_user", "qa_operator")),
        db_password=str(password) if password else None,
        keycloak_url=str(value("keycloak_hostname", f"https://auth.{domain}")),
        keycloak_client_id=str(value("keycloak_automation_client_id", "qa-automation")),
        keycloak_client_secret=str(secret) if secret else None,
        keycloak_ca_file=str(ca_file) if ca_file else None,
        route53_endpoint=str(route53) if route53 else None,
        credentials_dir=Path(value("qa_credentials_dir", DEFAULT_CREDENTIALS_DIR)),
        vault_password_file=vault_password_file,
    )
