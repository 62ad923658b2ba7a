#!/usr/bin/python
"""Ansible module qa.platform.net_validate: check CIDRs and domain names."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: net_validate
short_description: Check CIDR blocks and DNS domain names before any change
version_added: "0.1.0"
description:
  - Checks IPv4 and IPv6 CIDR blocks and DNS domain names with Python's
    C(ipaddress) module and the DNS label rules, and fails with every invalid
    value and the reason when one is wrong.
  - Runs on the controller and calls no service, so roles run it before their
    first AWS call. It changes nothing and always reports C(changed=false).
options:
  ipv4_cidrs:
    description:
      - IPv4 networks such as C(203.0.113.0/24). Host bits must be zero, as
        AWS requires.
    type: list
    elements: str
    default: []
  ipv6_cidrs:
    description: IPv6 networks such as C(2001:db8::/32). Host bits must be zero.
    type: list
    elements: str
    default: []
  domains:
    description:
      - Fully qualified domain names such as C(example.com), without a final
        dot. Labels are 1 to 63 letters, digits or hyphens, do not start or
        end with a hyphen, and the name has at least two labels and at most
        253 characters.
    type: list
    elements: str
    default: []
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
author:
  - qa-platform-ops maintainers
"""

EXAMPLES = r"""
- name: Check the SSH allow-list and the domain
  qa.platform.net_validate:
    ipv4_cidrs: "{{ aws_lightsail_ssh_cidrs }}"
    domains: ["{{ platform_domain }}"]
"""

RETURN = r"""
errors:
  description: One message per invalid value; empty when every value is valid.
  returned: always
  type: list
  elements: str
"""

import ipaddress
import re

from ansible.module_utils.basic import AnsibleModule

LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?", re.IGNORECASE)


def cidr_errors(values: list[str], version: int) -> list[str]:
    """Return a message for each value that is not an IPv<version> network."""
    errors = []
    for value in values:
        try:
            network = ipaddress.ip_network(value, strict=True)
        except ValueError as error:
            errors.append(f"{value!r} is not a valid IPv{version} CIDR block: {error}")
            continue
        if "/" not in value:
            errors.append(f"{value!r} is not a CIDR block: add the prefix length")
        elif network.version != version:
            errors.append(
                f"{value!r} is an IPv{network.version} block, not IPv{version}"
            )
    return errors


def domain_errors(values: list[str]) -> list[str]:
    """Return a message for each value that is not a fully qualified domain name."""
    errors = []
    for value in values:
        labels = value.split(".")
        if len(value) > 253:
            errors.append(f"{value!r} is longer than 253 characters")
        elif len(labels) < 2:
            errors.append(f"{value!r} is not a fully qualified domain name")
        elif not all(LABEL.fullmatch(label) for label in labels):
            errors.append(
                f"{value!r} is not a valid domain name: each label must be 1 to 63 "
                "letters, digits or hyphens, not starting or ending with a hyphen"
            )
    return errors


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "ipv4_cidrs": {"type": "list", "elements": "str", "default": []},
            "ipv6_cidrs": {"type": "list", "elements": "str", "default": []},
            "domains": {"type": "list", "elements": "str", "default": []},
        },
        supports_check_mode=True,
    )
    errors = (
        cidr_errors(module.params["ipv4_cidrs"], 4)
        + cidr_errors(module.params["ipv6_cidrs"], 6)
        + domain_errors(module.params["domains"])
    )
    if errors:
        module.fail_json(msg="Invalid input: " + "; ".join(errors), errors=errors)
    module.exit_json(changed=False, errors=[])


if __name__ == "__main__":
    main()
