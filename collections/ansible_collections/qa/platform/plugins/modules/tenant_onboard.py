#!/usr/bin/python
"""Ansible module qa.platform.tenant_onboard."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tenant_onboard
short_description: Onboard tenants with a journal and complete rollback
description:
  - Validates every tenant first, with the rules of M(qa.platform.tenant_validate); one bad entry fails
    the whole batch before any change, with every problem named by field, value and rule.
  - Then, for each tenant, takes the tenant's lock,
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
  tenant:
    description:
      - One tenant, with the fields of the tenant file.
      - Exactly one of O(tenant) and O(tenants) is required.
    type: dict
  tenants:
    description:
      - A batch of tenants, the list under the top-level C(tenants) key of a batch file, or the
        output of M(qa.platform.tenant_validate).
    type: list
    elements: dict
extends_documentation_fragment:
  - qa.platform.tenant_connection
author: qa-platform-ops
"""

EXAMPLES = r"""
- name: Onboard the tenants of a batch file
  qa.platform.tenant_onboard:
    tenants: "{{ (lookup('ansible.builtin.file', 'batch.yml') | from_yaml).tenants }}"
    provisioner_db: {host: 127.0.0.1, port: 5433, user: qa_provisioner, password: "{{ pw }}"}
    app_db: {host: 127.0.0.1, port: 5433, user: qa_app, password: "{{ app_pw }}"}
    keycloak: {url: "https://auth.platform.test", client_id: qa-automation, client_secret: "{{ s }}"}
    dns: {domain: platform.test, endpoint_url: "http://127.0.0.1:5000"}
"""

RETURN = r"""
problems:
  description:
    - Every rule the input breaks, each with field, value, rule, message, and for a batch entry its
      index and tenant_id. The module changed nothing.
  returned: when validation fails
  type: list
  elements: dict
results:
  description: One outcome per tenant; never a secret.
  returned: when every tenant passed validation
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

from collections.abc import Mapping, Sequence
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qa.platform.plugins.module_utils.tenant_lifecycle import (
    LifecycleError,
    Platform,
    settings_argument_spec,
    settings_from_params,
)
from ansible_collections.qa.platform.plugins.module_utils.tenant_operations import (
    Onboarding,
)
from ansible_collections.qa.platform.plugins.module_utils.tenant_spec import (
    TenantSpecError,
    validate_batch,
    validate_tenant,
)


def registry_conflicts(
    platform: Platform, tenants: Sequence[Mapping[str, Any]]
) -> list[str]:
    """Check every tenant of a batch against the tenant registry before any
    change, so that one conflicting entry stops the whole batch.

    Each onboarding checks its tenant again under the tenant's lock, because
    another run may take a name in between.
    """
    if len(tenants) < 2:
        return []
    conflicts = []
    for tenant in tenants:
        try:
            Onboarding(platform, tenant).check_registry()
        except LifecycleError as error:
            conflicts.append(f"{tenant['tenant_id']}: {error.reason}")
    return conflicts


def main() -> None:
    """Run the module."""
    spec = settings_argument_spec()
    spec["tenant"] = {"type": "dict"}
    spec["tenants"] = {"type": "list", "elements": "dict"}
    module = AnsibleModule(
        argument_spec=spec,
        mutually_exclusive=[("tenant", "tenants")],
        required_one_of=[("tenant", "tenants")],
        supports_check_mode=True,
    )
    try:
        if module.params["tenant"] is not None:
            tenants = [validate_tenant(module.params["tenant"])]
        else:
            tenants = validate_batch({"tenants": module.params["tenants"]})
    except TenantSpecError as error:
        module.fail_json(
            msg=str(error), problems=[problem.as_dict() for problem in error.problems]
        )
    platform = Platform(settings_from_params(module.params))
    results = []
    try:
        conflicts = registry_conflicts(platform, tenants)
        if conflicts:
            module.fail_json(
                msg=f"{len(conflicts)} of {len(tenants)} tenants conflict with"
                " tenants that exist; nothing was changed: " + "; ".join(conflicts)
            )
        for tenant in tenants:
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
