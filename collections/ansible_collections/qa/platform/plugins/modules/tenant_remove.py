#!/usr/bin/python
"""Ansible module qa.platform.tenant_remove."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_remove
short_description: Remove a tenant's realm, DNS record, rows and credentials
description:
  - Keeps a dump of the tenant's rows first (gzipped COPY data per table in I(dumps_dir), mode 0600)
    unless I(keep_dump=false), then deletes the DNS record, the realm, the tenant row (its rows in every
    table go with it) and the credentials file.
  - Rejects the platform's default tenant, which C(site.yml) needs.
  - Each part already gone is skipped, so a re-run, or a run after a rollback that could not reach a
    service, finishes the job. Also works from the onboarding journal when the tenant row never existed.
options:
  tenant_id:
    description: The tenant to remove.
    type: str
    required: true
  keep_dump:
    description: Whether to dump the tenant's rows before deleting them.
    type: bool
    default: true
extends_documentation_fragment:
  - qa.platform.tenant_connection
author: qa-platform-ops
"""

EXAMPLES = r"""
- name: Remove acme, keeping a dump of its rows
  qa.platform.tenant_remove:
    tenant_id: acme
    provisioner_db: "{{ tenant_provisioner_db }}"
    app_db: "{{ tenant_app_db }}"
    keycloak: "{{ tenant_keycloak }}"
    dns: "{{ tenant_dns }}"
"""

RETURN = r"""
result:
  description: What was removed, and where the dump is; never a secret.
  returned: always
  type: dict
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qa.platform.plugins.module_utils.tenant_lifecycle import (
    Platform,
    settings_argument_spec,
    settings_from_params,
)
from ansible_collections.qa.platform.plugins.module_utils.tenant_operations import (
    remove_tenant,
)
from ansible_collections.qa.platform.plugins.module_utils.tenant_spec import (
    DEFAULT_TENANT_ID,
)


def main() -> None:
    """Run the module."""
    spec = settings_argument_spec()
    spec["tenant_id"] = {"type": "str", "required": True}
    spec["keep_dump"] = {"type": "bool", "default": True}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=False)
    if module.params["tenant_id"] == DEFAULT_TENANT_ID:
        # site.yml checks row isolation with the default tenant and fails
        # without it, so the platform would not converge any more.
        module.fail_json(
            msg=f"tenant_id: invalid value {DEFAULT_TENANT_ID!r} (rule reserved):"
            " the default tenant belongs to the platform and cannot be removed;"
            " nothing was changed"
        )
    platform = Platform(settings_from_params(module.params))
    try:
        outcome = remove_tenant(
            platform, module.params["tenant_id"], keep_dump=module.params["keep_dump"]
        )
    finally:
        platform.close()
    if outcome.failed:
        module.fail_json(msg=outcome.message, result=outcome.as_dict())
    module.exit_json(changed=outcome.changed, result=outcome.as_dict())


if __name__ == "__main__":
    main()
