#!/usr/bin/python
"""Ansible module qa.platform.lightsail_vpc_peering: peer Lightsail with the default VPC."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: lightsail_vpc_peering
short_description: Peer Lightsail's VPC with the region's default VPC
version_added: "0.1.0"
description:
  - Enables or disables the peering between the account's Lightsail VPC and
    the default VPC of the region (Lightsail's C(PeerVpc) and C(UnpeerVpc)).
    Lightsail instances reach private resources of the default VPC, such as an
    RDS instance that is not publicly accessible, only through this peering.
  - No collection module covers these calls. This one uses amazon.aws's
    C(AnsibleAWSModule), which Ansible ships with any collection's module, so
    it takes the usual AWS options.
options:
  state:
    description: Whether the peering exists.
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
- name: Ensure Lightsail is peered with the default VPC
  qa.platform.lightsail_vpc_peering:
    state: present
"""

RETURN = r"""
peered:
  description: Whether the peering exists after the run (in check mode, would exist).
  returned: always
  type: bool
"""

from typing import Any

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
            "state": {
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
        },
        supports_check_mode=True,
    )
    client: Any = module.client(
        "lightsail", retry_decorator=AWSRetry.jittered_backoff()
    )
    desired = module.params["state"] == "present"
    try:
        peered = bool(client.is_vpc_peered(aws_retry=True)["isPeered"])
        changed = peered != desired
        if changed and not module.check_mode:
            if desired:
                client.peer_vpc(aws_retry=True)
            else:
                client.unpeer_vpc(aws_retry=True)
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as error:
        module.fail_json_aws(
            error, msg="Failed to read or change the Lightsail VPC peering"
        )
    module.exit_json(
        changed=changed,
        peered=desired,
        diff={"before": {"peered": peered}, "after": {"peered": desired}},
    )


if __name__ == "__main__":
    main()
