#!/usr/bin/python
"""Ansible module qa.platform.rds_deletion_protection: switch an instance's protection."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: rds_deletion_protection
short_description: Turn deletion protection of an RDS DB instance on or off
version_added: "0.1.0"
description:
  - Sets C(DeletionProtection) of one DB instance with C(ModifyDBInstance),
    applied at once, and changes nothing else.
  - Written for this project because C(amazon.aws.rds_instance) 10.1 reads
    C(StorageThroughput) of every gp3 instance it modifies and fails with a
    KeyError when the response lacks it, as moto's does.
options:
  db_instance_identifier:
    description: Identifier of the DB instance.
    type: str
    required: true
  enabled:
    description: Whether deletion protection is on.
    type: bool
    required: true
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
- name: Ensure the instance can be deleted
  qa.platform.rds_deletion_protection:
    db_instance_identifier: qa-platform-db
    enabled: false
"""

RETURN = r"""
enabled:
  description: Whether deletion protection is on after the run.
  returned: always
  type: bool
"""

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing library.
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.modules import (
    AnsibleAWSModule,
)
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "db_instance_identifier": {"type": "str", "required": True},
            "enabled": {"type": "bool", "required": True},
        },
        supports_check_mode=True,
    )
    identifier = module.params["db_instance_identifier"]
    desired = module.params["enabled"]
    client = module.client("rds", retry_decorator=AWSRetry.jittered_backoff())
    try:
        instance = client.describe_db_instances(
            DBInstanceIdentifier=identifier, aws_retry=True
        )["DBInstances"][0]
        current = bool(instance.get("DeletionProtection", False))
        if current != desired and not module.check_mode:
            client.modify_db_instance(
                DBInstanceIdentifier=identifier,
                DeletionProtection=desired,
                ApplyImmediately=True,
                aws_retry=True,
            )
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as error:
        module.fail_json_aws(
            error, msg=f"Failed to set deletion protection of {identifier}"
        )
    module.exit_json(
        changed=current != desired,
        enabled=desired,
        diff={"before": {"enabled": current}, "after": {"enabled": desired}},
    )


if __name__ == "__main__":
    main()
