#!/usr/bin/python
"""Ansible module qa.platform.rds_parameter_group: a tagged DB parameter group."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rds_parameter_group
short_description: Create, set parameters on and delete an RDS DB parameter group
version_added: "0.1.0"
description:
  - Creates an RDS DB parameter group with tags, sets the given parameters and
    reports a change only when a value differs.
  - With O(state=absent), deletes the group, and when O(tags) is given only if
    the group carries every one of those tags.
  - Written for this project because C(amazon.aws.rds_instance_param_group)
    10.1 indexes the answer of C(DescribeDBParameterGroups) without checking
    it, and rejects a parameter that the group's listing lacks. This module
    treats an empty result as a missing group and lets RDS judge parameter
    names when it applies them. It uses amazon.aws's C(AnsibleAWSModule),
    which Ansible ships with any collection's module.
options:
  name:
    description: Name of the parameter group.
    type: str
    required: true
  family:
    description: Parameter group family of a new group, such as C(postgres15).
    type: str
  description:
    description: Description of a new group.
    type: str
    default: ""
  parameters:
    description: Parameter names and values; others keep their engine defaults.
    type: dict
    default: {}
  apply_method:
    description: When RDS applies changed parameters to instances.
    type: str
    choices: [immediate, pending-reboot]
    default: pending-reboot
  tags:
    description:
      - Tags of the group; missing or different ones are set.
      - With O(state=absent), the tags a group must carry to be deleted.
    type: dict
    default: {}
  state:
    description: Whether the group exists.
    type: str
    choices: [present, absent]
    default: present
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
- name: Ensure PostgreSQL clients must use TLS
  qa.platform.rds_parameter_group:
    name: qa-platform-db-postgres-15
    family: postgres15
    parameters:
      rds.force_ssl: "1"
"""

RETURN = r"""
parameters:
  description: The managed parameters and their values after the run.
  returned: always
  type: dict
deleted:
  description: Whether the group was (or in check mode would be) deleted.
  returned: with O(state=absent)
  type: bool
"""

from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing library.
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    is_boto3_error_code,
)
from ansible_collections.amazon.aws.plugins.module_utils.modules import (
    AnsibleAWSModule,
)
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

API_ERRORS = (
    (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
    if botocore
    else ()
)


def describe_group(module: Any, client: Any, name: str) -> dict[str, Any] | None:
    try:
        groups = client.describe_db_parameter_groups(
            DBParameterGroupName=name, aws_retry=True
        )["DBParameterGroups"]
    except is_boto3_error_code("DBParameterGroupNotFound"):
        return None
    except API_ERRORS as error:  # pylint: disable=duplicate-except
        module.fail_json_aws(error, msg=f"Failed to read parameter group {name}")
    return dict(groups[0]) if groups else None


def read_tags(module: Any, client: Any, arn: str) -> dict[str, str]:
    try:
        tag_list = client.list_tags_for_resource(ResourceName=arn, aws_retry=True)[
            "TagList"
        ]
    except API_ERRORS as error:
        module.fail_json_aws(error, msg=f"Failed to read the tags of {arn}")
    return {tag["Key"]: tag["Value"] for tag in tag_list}


def read_values(module: Any, client: Any, name: str) -> dict[str, str]:
    values: dict[str, str] = {}
    try:
        paginator = client.get_paginator("describe_db_parameters")
        for page in paginator.paginate(DBParameterGroupName=name):
            for parameter in page["Parameters"]:
                if "ParameterValue" in parameter:
                    values[parameter["ParameterName"]] = parameter["ParameterValue"]
    except API_ERRORS as error:
        module.fail_json_aws(error, msg=f"Failed to read the parameters of {name}")
    return values


def ensure_present(module: Any, client: Any) -> None:
    params = module.params
    name = params["name"]
    desired = {key: str(value) for key, value in params["parameters"].items()}
    desired_tags = {key: str(value) for key, value in params["tags"].items()}
    group = describe_group(module, client, name)
    if group is None:
        if not params["family"]:
            module.fail_json(
                msg=f"Parameter group {name} not found and no family given"
            )
        diff = {"before": {"state": "absent"}, "after": {"parameters": desired}}
        if module.check_mode:
            module.exit_json(changed=True, parameters=desired, diff=diff)
        try:
            client.create_db_parameter_group(
                DBParameterGroupName=name,
                DBParameterGroupFamily=params["family"],
                Description=params["description"] or name,
                Tags=[{"Key": k, "Value": v} for k, v in sorted(desired_tags.items())],
                aws_retry=True,
            )
        except API_ERRORS as error:
            module.fail_json_aws(error, msg=f"Failed to create parameter group {name}")
        group = describe_group(module, client, name)
        if group is None:
            module.fail_json(msg=f"Parameter group {name} not found after creation")
        current: dict[str, str] = {}
        changed = True
    else:
        current = read_values(module, client, name)
        changed = False
        tags = read_tags(module, client, group["DBParameterGroupArn"])
        missing = {k: v for k, v in desired_tags.items() if tags.get(k) != v}
        if missing:
            changed = True
            if not module.check_mode:
                try:
                    client.add_tags_to_resource(
                        ResourceName=group["DBParameterGroupArn"],
                        Tags=[{"Key": k, "Value": v} for k, v in missing.items()],
                        aws_retry=True,
                    )
                except API_ERRORS as error:
                    module.fail_json_aws(error, msg=f"Failed to tag {name}")

    differing = {k: v for k, v in desired.items() if current.get(k) != v}
    if differing:
        changed = True
        if not module.check_mode:
            items = [
                {
                    "ParameterName": key,
                    "ParameterValue": value,
                    "ApplyMethod": params["apply_method"],
                }
                for key, value in sorted(differing.items())
            ]
            # ModifyDBParameterGroup takes at most 20 parameters per call.
            for start in range(0, len(items), 20):
                try:
                    client.modify_db_parameter_group(
                        DBParameterGroupName=name,
                        Parameters=items[start : start + 20],
                        aws_retry=True,
                    )
                except API_ERRORS as error:
                    module.fail_json_aws(
                        error, msg=f"Failed to set parameters of {name}"
                    )
    before = {key: current.get(key) for key in desired}
    module.exit_json(
        changed=changed,
        parameters=desired,
        diff={"before": {"parameters": before}, "after": {"parameters": desired}},
    )


def ensure_absent(module: Any, client: Any) -> None:
    name = module.params["name"]
    group = describe_group(module, client, name)
    if group is None:
        module.exit_json(changed=False, deleted=False, parameters={})
        return
    required = {key: str(value) for key, value in module.params["tags"].items()}
    tags = read_tags(module, client, group["DBParameterGroupArn"])
    if any(tags.get(key) != value for key, value in required.items()):
        module.warn(f"Parameter group {name} lacks the tags {required}; left in place.")
        module.exit_json(changed=False, deleted=False, parameters={})
    if not module.check_mode:
        try:
            client.delete_db_parameter_group(DBParameterGroupName=name, aws_retry=True)
        except API_ERRORS as error:
            module.fail_json_aws(error, msg=f"Failed to delete parameter group {name}")
    module.exit_json(
        changed=True,
        deleted=True,
        parameters={},
        diff={"before": {"state": "present"}, "after": {"state": "absent"}},
    )


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "name": {"type": "str", "required": True},
            "family": {"type": "str"},
            "description": {"type": "str", "default": ""},
            "parameters": {"type": "dict", "default": {}},
            "apply_method": {
                "type": "str",
                "choices": ["immediate", "pending-reboot"],
                "default": "pending-reboot",
            },
            "tags": {"type": "dict", "default": {}},
            "state": {
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
        },
        supports_check_mode=True,
    )
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    if module.params["state"] == "present":
        ensure_present(module, client)
    else:
        ensure_absent(module, client)


if __name__ == "__main__":
    main()
