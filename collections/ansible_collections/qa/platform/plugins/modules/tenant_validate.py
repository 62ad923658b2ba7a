#!/usr/bin/python
"""Ansible module qa.platform.tenant_validate, which checks tenant files."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: tenant_validate
short_description: Validate tenant files before any change is made
version_added: "0.1.0"
description:
  - Checks one tenant or a batch of tenants against the tenant file rules
    (field names, required fields, DNS labels, reserved names, allowed values,
    integer limits, text lengths, email, features and settings).
  - In a batch, every entry is checked and one bad entry fails the whole batch.
    A C(tenant_id), C(realm_name) or C(subdomain) used twice in the batch is an
    error too.
  - With O(existing), also checks that no other tenant already holds the
    candidate's names. A row with the candidate's own C(tenant_id) is the same
    tenant, so running the same file again passes.
  - Returns the tenants with defaults filled in. The module never changes
    anything, so it always reports C(changed=false).
  - On failure the message lists every problem found, each naming the field,
    the value and the rule.
options:
  tenant:
    description:
      - One tenant, with the fields of the tenant file.
      - Exactly one of O(tenant) and O(tenants) is required.
    type: dict
  tenants:
    description:
      - A batch of tenants, the list under the top-level C(tenants) key of a
        batch file.
    type: list
    elements: dict
  existing:
    description:
      - Rows of the tenant registry to check uniqueness against, each with
        C(tenant_id), C(realm_name) and C(subdomain). Other keys are ignored.
    type: list
    elements: dict
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
notes:
  - The same rules run in the admin TUI's onboarding form, from
    C(qa.platform) module_utils C(tenant_spec).
author:
  - qa-platform-ops maintainers
"""

EXAMPLES = r"""
- name: Validate the tenant file passed with -e @file
  qa.platform.tenant_validate:
    tenant: "{{ lookup('ansible.builtin.file', tenant_file) | from_yaml }}"
  register: validated

- name: Validate a batch against the tenants already registered
  qa.platform.tenant_validate:
    tenants: "{{ tenants }}"
    existing: "{{ registry_rows }}"
  register: validated

- name: Use the normalized tenant
  ansible.builtin.debug:
    msg: "{{ validated.tenants[0].tier }}"
"""

RETURN = r"""
tenants:
  description:
    - The tenants with defaults filled in, in input order. A single O(tenant)
      comes back as a list of one.
    - Every field of the tenant file is present. C(tier) defaults to C(free),
      C(max_users) to 10, C(max_calls_per_month) to 1000,
      C(allow_registration) to false, C(company_name) to C(display_name),
      C(features) to an empty list and C(settings) to an empty mapping. Other
      optional fields are null when absent.
  returned: success
  type: list
  elements: dict
  sample:
    - tenant_id: acme
      realm_name: acme
      subdomain: acme
      display_name: ACME Corporation
      company_name: ACME Corporation
      industry: null
      company_size: null
      tier: free
      max_users: 10
      max_calls_per_month: 1000
      allow_registration: false
      admin_email: admin@acme.example
      admin_first_name: null
      admin_last_name: null
      features: []
      settings: {}
problems:
  description:
    - Every problem found. Values longer than 40 characters are cut.
    - C(index) and C(tenant_id) are set for entries of a batch.
  returned: failure
  type: list
  elements: dict
  sample:
    - field: tier
      value: gold
      rule: allowed_values
      message: >-
        tier: invalid value 'gold' (rule allowed_values): must be one of:
        free, starter, professional, enterprise
      index: null
      tenant_id: null
"""

# Imports follow the documentation blocks, as ansible-test's module checks
# (import-before-documentation) expect.
from typing import Any

from ansible.module_utils.basic import AnsibleModule
from ansible_collections.qa.platform.plugins.module_utils.tenant_spec import (
    TenantSpecError,
    check_unique,
    check_unique_batch,
    validate_batch,
    validate_tenant,
)


def run_module() -> None:
    """Validate the tenants given and exit with the result or the problems."""
    module = AnsibleModule(
        argument_spec={
            "tenant": {"type": "dict"},
            "tenants": {"type": "list", "elements": "dict"},
            "existing": {"type": "list", "elements": "dict", "default": []},
        },
        mutually_exclusive=[("tenant", "tenants")],
        required_one_of=[("tenant", "tenants")],
        supports_check_mode=True,
    )
    params: dict[str, Any] = module.params
    existing = params["existing"]
    try:
        if params["tenant"] is not None:
            tenants = [validate_tenant(params["tenant"])]
            conflicts = check_unique(tenants[0], existing)
        else:
            tenants = validate_batch({"tenants": params["tenants"]})
            conflicts = check_unique_batch(tenants, existing)
        if conflicts:
            raise TenantSpecError(conflicts)
    except TenantSpecError as error:
        module.fail_json(
            msg=str(error),
            problems=[problem.as_dict() for problem in error.problems],
        )
    else:
        module.exit_json(changed=False, tenants=tenants)


def main() -> None:
    """Run the module."""
    run_module()


if __name__ == "__main__":
    main()
