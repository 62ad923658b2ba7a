#!/usr/bin/python
"""Ansible module qa.platform.tenant_state."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_state
short_description: Suspend or resume a tenant
description:
  - C(state=suspended) disables the tenant's realm, ends all its sessions and marks the tenant suspended;
    its rows stay untouched. C(state=active) enables the realm again and marks the tenant active.
  - Takes the tenant's lock first, and fails at once when another run holds it.
options:
  tenant_id:
    description: The tenant.
    type: str
    required: true
  state:
    description: The state the tenant should be in.
    type: str
    choices: [active, suspended]
    required: true
extends_documentation_fragment:
  - qa.platform.tenant_connection
author: qa-platform-ops
"""

EXAMPLES = r"""
- name: Suspend acme
  qa.platform.tenant_state:
    tenant_id: acme
    state: suspended
    provisioner_db: "{{ tenant_provisioner_db }}"
    app_db: "{{ tenant_app_db }}"
    keycloak: "{{ tenant_keycloak }}"
    dns: "{{ tenant_dns }}"
"""

RETURN = r"""
result:
  description: What changed; never a secret.
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
    set_suspended,
)


def main() -> None:
    """Run the module."""
    spec = settings_argument_spec()
    spec["tenant_id"] = {"type": "str", "required": True}
    spec["state"] = {
        "type": "str",
        "required": True,
        "choices": ["active", "suspended"],
    }
    module = AnsibleModule(argument_spec=spec, supports_check_mode=False)
    platform = Platform(settings_from_params(module.params))
    try:
        outcome = set_suspended(
            platform, module.params["tenant_id"], module.params["state"] == "suspended"
        )
    finally:
        platform.close()
    if outcome.failed:
        module.fail_json(msg=outcome.message, result=outcome.as_dict())
    module.exit_json(changed=outcome.changed, result=outcome.as_dict())


if __name__ == "__main__":
    main()
