#!/usr/bin/python
"""Ansible module qa.platform.lightsail_static_ip: allocate and attach a static IP."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lightsail_static_ip
short_description: Allocate a Lightsail static IP and attach it to an instance
version_added: "0.1.0"
description:
  - Allocates an Amazon Lightsail static IP, attaches it to an instance and
    waits until the instance runs and reports that address as its
    public IP. Only then does it return the address, so a caller never sees an
    empty or ephemeral one.
  - With O(state=absent), detaches and releases the static IP.
  - Written for this project because C(community.aws.lightsail_static_ip) can
    allocate and release a static IP but not attach one, and has no check
    mode. It uses amazon.aws's C(AnsibleAWSModule), which Ansible ships with
    any collection's module, so it takes the usual AWS options.
options:
  name:
    description: Name of the static IP.
    type: str
    required: true
  instance_name:
    description:
      - Instance to attach the static IP to. A static IP attached to another
        instance is moved.
      - Leave unset to allocate the static IP without attaching it.
    type: str
  state:
    description: Whether the static IP exists.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the instance runs with the static IP as its public address.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait.
    type: int
    default: 600
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
author:
  - qa-platform-ops maintainers
"""

EXAMPLES = r"""
- name: Ensure the auth host has its static IP
  qa.platform.lightsail_static_ip:
    name: qa-platform-auth-ip
    instance_name: qa-platform-auth
  register: auth_ip

- name: Use the address
  ansible.builtin.debug:
    msg: "{{ auth_ip.ip_address }}"
"""

RETURN = r"""
ip_address:
  description:
    - The static IP address; empty in check mode before it is allocated, and
      after O(state=absent).
  returned: always
  type: str
static_ip:
  description: The static IP as Lightsail describes it, keys in snake case.
  returned: when it exists
  type: dict
"""

from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing library.
    botocore = None

from ansible.module_utils.common.dict_transformations import camel_dict_to_snake_dict
from ansible_collections.amazon.aws.plugins.module_utils.modules import (
    AnsibleAWSModule,
)
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.qa.platform.plugins.module_utils.lightsail import (
    get_instance,
    get_static_ip,
    wait_for_instance,
)

API_ERRORS = (
    (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
    if botocore
    else ()
)


def call(module: Any, what: str, method: Any, **kwargs: Any) -> None:
    """Call one Lightsail API method, failing the module with what on error."""
    try:
        method(aws_retry=True, **kwargs)
    except API_ERRORS as error:
        module.fail_json_aws(error, msg=f"Failed to {what}")


def describe(static_ip: dict[str, Any] | None) -> dict[str, Any]:
    if static_ip is None:
        return {"state": "absent"}
    return {
        "state": "present",
        "ip_address": static_ip["ipAddress"],
        "attached_to": static_ip.get("attachedTo") if static_ip["isAttached"] else None,
    }


def ensure_present(module: Any, client: Any) -> None:
    name = module.params["name"]
    instance_name = module.params["instance_name"]
    static_ip = get_static_ip(module, client, name)
    before = describe(static_ip)
    changed = False

    if static_ip is None:
        changed = True
        if not module.check_mode:
            call(
                module,
                f"allocate static IP {name}",
                client.allocate_static_ip,
                staticIpName=name,
            )
            static_ip = get_static_ip(module, client, name)

    attached_to = (
        static_ip.get("attachedTo") if static_ip and static_ip["isAttached"] else None
    )
    if instance_name and attached_to != instance_name:
        changed = True
        if not module.check_mode:
            if get_instance(module, client, instance_name) is None:
                module.fail_json(
                    msg=f"Instance {instance_name} not found; create it before "
                    f"attaching static IP {name}."
                )
            if attached_to:
                call(
                    module,
                    f"detach static IP {name}",
                    client.detach_static_ip,
                    staticIpName=name,
                )
            call(
                module,
                f"attach static IP {name} to {instance_name}",
                client.attach_static_ip,
                staticIpName=name,
                instanceName=instance_name,
            )
            static_ip = get_static_ip(module, client, name)

    after = (
        {
            "state": "present",
            "ip_address": "(allocated on apply)",
            "attached_to": instance_name,
        }
        if static_ip is None
        else describe(static_ip)
    )
    if static_ip is not None and instance_name and module.check_mode:
        after["attached_to"] = instance_name

    address = static_ip["ipAddress"] if static_ip else ""
    if instance_name and module.params["wait"] and not module.check_mode:
        wait_for_instance(
            module,
            client,
            instance_name,
            lambda instance: (
                instance["state"]["name"] == "running"
                and instance.get("publicIpAddress") == address
            ),
            f"running with static IP {address}",
            module.params["wait_timeout"],
        )
    module.exit_json(
        changed=changed,
        ip_address=address,
        static_ip=camel_dict_to_snake_dict(static_ip) if static_ip else {},
        diff={"before": before, "after": after},
    )


def ensure_absent(module: Any, client: Any) -> None:
    name = module.params["name"]
    static_ip = get_static_ip(module, client, name)
    if static_ip is None:
        module.exit_json(changed=False, ip_address="", static_ip={})
        return
    if not module.check_mode:
        if static_ip["isAttached"]:
            call(
                module,
                f"detach static IP {name}",
                client.detach_static_ip,
                staticIpName=name,
            )
        call(
            module,
            f"release static IP {name}",
            client.release_static_ip,
            staticIpName=name,
        )
    module.exit_json(
        changed=True,
        ip_address="",
        static_ip=camel_dict_to_snake_dict(static_ip),
        diff={"before": describe(static_ip), "after": {"state": "absent"}},
    )


def main() -> None:
    argument_spec = {
        "name": {"type": "str", "required": True},
        "instance_name": {"type": "str"},
        "state": {
            "type": "str",
            "choices": ["present", "absent"],
            "default": "present",
        },
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 600},
    }
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    client = module.client("lightsail", retry_decorator=AWSRetry.jittered_backoff())
    if module.params["state"] == "present":
        ensure_present(module, client)
    else:
        ensure_absent(module, client)


if __name__ == "__main__":
    main()
