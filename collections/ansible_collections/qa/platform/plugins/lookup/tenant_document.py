"""Lookup plugin qa.platform.tenant_document."""

from __future__ import annotations

DOCUMENTATION = r"""
name: tenant_document
short_description: Return the tenant file given to ansible-playbook with -e @file
description:
  - C(ansible-playbook playbooks/tenant_provision.yml -e @tenant.yml) merges the file's keys into the
    play's variables, where an unknown key can no longer be told from any other variable. This lookup
    reads the files named by C(-e @path) themselves and returns each one whose top level has
    C(tenant_id) or C(tenants), so that validation sees exactly what the operator wrote.
  - Written for this project because no Ansible plugin exposes the extra-vars files of a run.
author: qa-platform-ops
"""

EXAMPLES = r"""
- name: Read the tenant file
  ansible.builtin.set_fact:
    tenant_documents: "{{ lookup('qa.platform.tenant_document', wantlist=True) }}"
"""

RETURN = r"""
_raw:
  description: The tenant documents, in the order of the -e options.
  type: list
  elements: dict
"""

from typing import Any

from ansible import context
from ansible.errors import AnsibleError
from ansible.plugins.lookup import LookupBase

TENANT_KEYS = {"tenant_id", "tenants"}


class LookupModule(LookupBase):  # type: ignore[misc]
    """Return the tenant documents named by -e @file."""

    def run(
        self, terms: list[Any], variables: dict[str, Any] | None = None, **kwargs: Any
    ) -> list[Any]:
        """Load each -e @file and keep those that describe tenants."""
        documents: list[Any] = []
        for option in context.CLIARGS.get("extra_vars", ()):
            if not str(option).startswith("@"):
                continue
            path = str(option)[1:]
            try:
                data = self._loader.load_from_file(path, unsafe=True)
            except AnsibleError as error:
                raise AnsibleError(
                    f"cannot read the tenant file {path}: {error}"
                ) from error
            if isinstance(data, dict) and TENANT_KEYS & set(data):
                documents.append(_plain(data))
        return documents


def _plain(value: Any) -> Any:
    """Return a copy of loaded YAML made of plain dicts, lists and scalars."""
    if isinstance(value, dict):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value
