#!/usr/bin/python
"""Ansible module qa.platform.tenant_onboard."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_onboard
short_description: Onboard tenants with a journal and complete rollback
description:
  - Takes validated tenants (see M(qa.platform.tenant_validate)) and, for each, takes the tenant's lock,
    inserts its row and organization, creates its Keycloak realm from one representation (client, roles,
    first admin with a temporary password), inserts the admin's user profile, upserts its DNS record,
    runs a smoke check, and writes the admin's credentials to a file only root can read.
  - Each completed step is journalled before the next starts. When a step fails, the steps already done
    are undone; what cannot be undone is reported with the command that finishes the cleanup.
  - Runs every tenant in one process, so one admin token and one connection serve the whole batch. A
    failure of one tenant does not stop the others; the module fails if any tenant failed.
  - In check mode, reports for each tenant which steps would change, and changes nothing.
  - Written for this project because the onboarding must be journalled and undone as one unit, which a
    chain of keycloak_* and postgresql_* tasks cannot do.
options:
  tenants:
    description: Validated tenants, as returned by M(qa.platform.tenant_validate).
    type: list
    elements: dict
    required: true
extends_documentation_fragment:
  - qa.platform.tenant_connection
author: qa-platform-ops
"""

EXAMPLES = r"""
- name: Onboard the validated tenants
  qa.platform.tenant_onboard:
    tenants: "{{ validated.tenants }}"
    provisioner_db: {host: 127.0.0.1, port: 5433, user: qa_provisioner, password: "{{ pw }}"}
    app_db: {host: 127.0.0.1, port: 5433, user: qa_app, password: "{{ app_pw }}"}
    keycloak: {url: "https://auth.platform.test", client_id: qa-automation, client_secret: "{{ s }}"}
    dns: {domain: platform.test, endpoint_url: "http://127.0.0.1:5000"}
"""

RETURN = r"""
results:
  description: One outcome per tenant; never a secret.
  returned: always
  type: list
  elements: dict
  contains:
    tenant_id: {description: The tenant., type: str}
    changed: {description: Whether this run changed the tenant., type: bool}
    failed: {description: Whether onboarding failed., type: bool}
    failed_step: {description: The step that failed., type: str}
    message: {description: What failed and what was rolled back., type: str}
    steps: {description: Each step with changed or ok., type: dict}
    credentials_file: {description: Path of the credentials file., type: str}
    cleanup_command: {description: Command that finishes an incomplete rollback., type: str}
    left_behind: {description: What the rollback could not remove., type: list}
"""

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qa.platform.plugins.module_utils.tenant_lifecycle import (
    Platform,
    settings_argument_spec,
    settings_from_params,
)
from ansible_collections.qa.platform.plugins.module_utils.tenant_operations import (
    Onboarding,
)


def main() -> None:
    """Run the module."""
    spec = settings_argument_spec()
    spec["tenants"] = {"type": "list", "elements": "dict", "required": True}
    module = AnsibleModule(argument_spec=spec, supports_check_mode=True)
    platform = Platform(settings_from_params(module.params))
    results = []
    try:
        for tenant in module.params["tenants"]:
            onboarding = Onboarding(platform, tenant)
            outcome = onboarding.preview() if module.check_mode else onboarding.run()
            results.append(outcome.as_dict())
    finally:
        platform.close()
    failed = [result for result in results if result["failed"]]
    changed = any(result["changed"] for result in results)
    if failed:
        summary = "; ".join(f"{r['tenant_id']}: {r['message']}" for r in failed)
        module.fail_json(
            msg=f"{len(failed)} of {len(results)} tenants failed: {summary}",
            results=results,
            changed=changed,
        )
    module.exit_json(changed=changed, results=results)


if __name__ == "__main__":
    main()
