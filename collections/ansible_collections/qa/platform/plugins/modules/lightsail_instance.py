#!/usr/bin/python
"""Ansible module qa.platform.lightsail_instance: a tagged Lightsail instance."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lightsail_instance
short_description: Create, tag, open ports on and delete a Lightsail instance
version_added: "0.1.0"
description:
  - Creates an Amazon Lightsail instance with tags, sets its public ports (the
    instance firewall) to exactly the given list, and waits until the
    instance runs and has a public IPv4 address.
  - Lightsail can report an instance as running before it assigns the
    address, so the wait checks both.
  - With O(state=absent), deletes the instance. When O(tags) is given, only an
    instance that carries every one of those tags is deleted, so a teardown
    cannot remove an instance that something else created under the same name.
  - Written for this project because C(community.aws.lightsail) has no check
    mode, no tags and no wait for the public address. It uses amazon.aws's
    C(AnsibleAWSModule), which Ansible ships with any collection's module, so
    it takes the usual AWS options (region, endpoint, credentials).
options:
  name:
    description: Name of the instance.
    type: str
    required: true
  state:
    description: Whether the instance exists.
    type: str
    choices: [present, absent]
    default: present
  zone:
    description:
      - Availability zone for a new instance, such as C(us-east-1a).
      - Required with O(state=present).
    type: str
  blueprint_id:
    description:
      - Image of a new instance, such as C(ubuntu_24_04).
      - An existing instance keeps its image; a different value only warns.
    type: str
  bundle_id:
    description:
      - Size of a new instance, such as C(medium_3_0).
      - An existing instance keeps its size; a different value only warns.
    type: str
  key_pair_name:
    description: Lightsail key pair for SSH; the region's default key pair when unset.
    type: str
  user_data:
    description: Launch script for a new instance.
    type: str
  tags:
    description:
      - Tags the instance carries. Missing or different tags are set; other
        tags stay.
      - With O(state=absent), the tags an instance must carry to be deleted.
    type: dict
    default: {}
  public_ports:
    description:
      - The instance's complete list of open ports. Ports not listed are closed.
      - Leave unset to keep the ports as they are.
    type: list
    elements: dict
    suboptions:
      from_port:
        description: First port of the range.
        type: int
        required: true
      to_port:
        description: Last port of the range.
        type: int
        required: true
      protocol:
        description: IP protocol.
        type: str
        choices: [tcp, udp, all, icmp, icmpv6]
        default: tcp
      cidrs:
        description: IPv4 ranges the port is open to.
        type: list
        elements: str
        default: []
      ipv6_cidrs:
        description: IPv6 ranges the port is open to.
        type: list
        elements: str
        default: []
  wait:
    description: Wait until the instance runs with a public IPv4 address.
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
- name: Ensure the auth host exists with only 80 and 443 open to all
  qa.platform.lightsail_instance:
    name: qa-platform-auth
    zone: us-east-1a
    blueprint_id: ubuntu_24_04
    bundle_id: medium_3_0
    tags:
      qa-platform: example.com
    public_ports:
      - {from_port: 80, to_port: 80, cidrs: [0.0.0.0/0], ipv6_cidrs: ["::/0"]}
      - {from_port: 443, to_port: 443, cidrs: [0.0.0.0/0], ipv6_cidrs: ["::/0"]}
"""

RETURN = r"""
instance:
  description:
    - The instance as Lightsail describes it, keys in snake case; empty when
      it does not exist (or would be created in check mode).
  returned: always
  type: dict
deleted:
  description: Whether the instance was (or in check mode would be) deleted.
  returned: with O(state=absent)
  type: bool
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
    is_running_with_public_ip,
    wait_for_instance,
)

PortKey = tuple[int, int, str, tuple[str, ...], tuple[str, ...]]


def port_key(port: dict[str, Any]) -> PortKey:
    """Return a comparable form of a Lightsail port entry (camel case keys)."""
    return (
        int(port["fromPort"]),
        int(port["toPort"]),
        port["protocol"],
        tuple(sorted(port.get("cidrs") or [])),
        tuple(sorted(port.get("ipv6Cidrs") or [])),
    )


def desired_ports(params: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Convert the module's port options into Lightsail portInfos."""
    return [
        {
            "fromPort": port["from_port"],
            "toPort": port["to_port"],
            "protocol": port["protocol"],
            "cidrs": port["cidrs"],
            "ipv6Cidrs": port["ipv6_cidrs"],
        }
        for port in params
    ]


def tag_dict(instance: dict[str, Any]) -> dict[str, str]:
    return {tag["key"]: tag.get("value", "") for tag in instance.get("tags", [])}


def ensure_present(module: Any, client: Any) -> None:
    params = module.params
    name = params["name"]
    changed = False
    diff: dict[str, dict[str, Any]] = {"before": {}, "after": {}}
    instance = get_instance(module, client, name)
    desired_tags = {key: str(value) for key, value in params["tags"].items()}

    if instance is None:
        changed = True
        diff["before"] = {"state": "absent"}
        diff["after"] = {
            "state": "present",
            "blueprint_id": params["blueprint_id"],
            "bundle_id": params["bundle_id"],
            "tags": desired_tags,
        }
        if module.check_mode:
            module.exit_json(changed=True, instance={}, diff=diff)
        create: dict[str, Any] = {
            "instanceNames": [name],
            "availabilityZone": params["zone"],
            "blueprintId": params["blueprint_id"],
            "bundleId": params["bundle_id"],
            "tags": [{"key": k, "value": v} for k, v in sorted(desired_tags.items())],
        }
        if params["key_pair_name"]:
            create["keyPairName"] = params["key_pair_name"]
        if params["user_data"]:
            create["userData"] = params["user_data"]
        try:
            client.create_instances(aws_retry=True, **create)
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as error:
            module.fail_json_aws(error, msg=f"Failed to create instance {name}")
        instance = get_instance(module, client, name)
        if instance is None:
            module.fail_json(msg=f"Instance {name} not found right after creation")
    else:
        for option, key in (("blueprint_id", "blueprintId"), ("bundle_id", "bundleId")):
            if params[option] and params[option] != instance.get(key):
                module.warn(
                    f"Instance {name} has {option} {instance.get(key)}, not "
                    f"{params[option]}; Lightsail cannot change it in place."
                )
        current_tags = tag_dict(instance)
        missing = {k: v for k, v in desired_tags.items() if current_tags.get(k) != v}
        if missing:
            changed = True
            diff["before"]["tags"] = current_tags
            diff["after"]["tags"] = {**current_tags, **missing}
            if not module.check_mode:
                try:
                    client.tag_resource(
                        resourceName=name,
                        tags=[{"key": k, "value": v} for k, v in missing.items()],
                        aws_retry=True,
                    )
                except (
                    botocore.exceptions.ClientError,
                    botocore.exceptions.BotoCoreError,
                ) as error:
                    module.fail_json_aws(error, msg=f"Failed to tag instance {name}")

    if instance is None:
        # fail_json exits above, which the type checker cannot see.
        return
    if params["public_ports"] is not None:
        ports = desired_ports(params["public_ports"])
        current = sorted(port_key(p) for p in instance["networking"]["ports"])
        if sorted(port_key(p) for p in ports) != current:
            changed = True
            diff["before"]["public_ports"] = [list(p) for p in current]
            diff["after"]["public_ports"] = [list(port_key(p)) for p in ports]
            if not module.check_mode:
                try:
                    client.put_instance_public_ports(
                        instanceName=name, portInfos=ports, aws_retry=True
                    )
                except (
                    botocore.exceptions.ClientError,
                    botocore.exceptions.BotoCoreError,
                ) as error:
                    module.fail_json_aws(
                        error, msg=f"Failed to set the public ports of {name}"
                    )

    if params["wait"] and not module.check_mode:
        instance = wait_for_instance(
            module,
            client,
            name,
            is_running_with_public_ip,
            "running with a public IP address",
            params["wait_timeout"],
        )
    else:
        instance = get_instance(module, client, name) or instance
    module.exit_json(
        changed=changed,
        instance=camel_dict_to_snake_dict(instance, ignore_list=["tags"]),
        diff=diff,
    )


def ensure_absent(module: Any, client: Any) -> None:
    name = module.params["name"]
    instance = get_instance(module, client, name)
    if instance is None:
        module.exit_json(changed=False, deleted=False, instance={})
        return
    required = {key: str(value) for key, value in module.params["tags"].items()}
    current = tag_dict(instance)
    if any(current.get(key) != value for key, value in required.items()):
        module.warn(
            f"Instance {name} does not carry the tags {required}; left in place."
        )
        module.exit_json(
            changed=False,
            deleted=False,
            instance=camel_dict_to_snake_dict(instance, ignore_list=["tags"]),
        )
    diff = {"before": {"state": "present"}, "after": {"state": "absent"}}
    if not module.check_mode:
        try:
            client.delete_instance(instanceName=name, aws_retry=True)
        except (
            botocore.exceptions.ClientError,
            botocore.exceptions.BotoCoreError,
        ) as error:
            module.fail_json_aws(error, msg=f"Failed to delete instance {name}")
    module.exit_json(
        changed=True,
        deleted=True,
        instance=camel_dict_to_snake_dict(instance, ignore_list=["tags"]),
        diff=diff,
    )


def main() -> None:
    argument_spec = {
        "name": {"type": "str", "required": True},
        "state": {
            "type": "str",
            "choices": ["present", "absent"],
            "default": "present",
        },
        "zone": {"type": "str"},
        "blueprint_id": {"type": "str"},
        "bundle_id": {"type": "str"},
        "key_pair_name": {"type": "str"},
        "user_data": {"type": "str"},
        "tags": {"type": "dict", "default": {}},
        "public_ports": {
            "type": "list",
            "elements": "dict",
            "options": {
                "from_port": {"type": "int", "required": True},
                "to_port": {"type": "int", "required": True},
                "protocol": {
                    "type": "str",
                    "choices": ["tcp", "udp", "all", "icmp", "icmpv6"],
                    "default": "tcp",
                },
                "cidrs": {"type": "list", "elements": "str", "default": []},
                "ipv6_cidrs": {"type": "list", "elements": "str", "default": []},
            },
        },
        "wait": {"type": "bool", "default": True},
        "wait_timeout": {"type": "int", "default": 600},
    }
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        required_if=[("state", "present", ("zone", "blueprint_id", "bundle_id"))],
        supports_check_mode=True,
    )
    client = module.client("lightsail", retry_decorator=AWSRetry.jittered_backoff())
    if module.params["state"] == "present":
        ensure_present(module, client)
    else:
        ensure_absent(module, client)


if __name__ == "__main__":
    main()
