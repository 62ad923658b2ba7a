"""Helpers that the qa.platform Lightsail modules share.

The modules build on amazon.aws's AnsibleAWSModule, so they take the usual
credential, region and endpoint options and share its retry handling.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

try:
    import botocore
except ImportError:  # AnsibleAWSModule reports the missing library.
    botocore = None

from ansible_collections.amazon.aws.plugins.module_utils.botocore import (
    is_boto3_error_code,
)

# Seconds between two reads while waiting for Lightsail.
POLL_INTERVAL = 5

JsonDict = dict[str, Any]


def get_instance(module: Any, client: Any, name: str) -> JsonDict | None:
    """Return the Lightsail instance called name, or None when it does not exist."""
    try:
        instance: JsonDict = client.get_instance(instanceName=name, aws_retry=True)[
            "instance"
        ]
    except is_boto3_error_code("NotFoundException"):
        return None
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as error:  # pylint: disable=duplicate-except
        module.fail_json_aws(error, msg=f"Failed to read Lightsail instance {name}")
    return instance


def get_static_ip(module: Any, client: Any, name: str) -> JsonDict | None:
    """Return the Lightsail static IP called name, or None when it does not exist."""
    try:
        static_ip: JsonDict = client.get_static_ip(staticIpName=name, aws_retry=True)[
            "staticIp"
        ]
    except is_boto3_error_code("NotFoundException"):
        return None
    except (
        botocore.exceptions.ClientError,
        botocore.exceptions.BotoCoreError,
    ) as error:  # pylint: disable=duplicate-except
        module.fail_json_aws(error, msg=f"Failed to read Lightsail static IP {name}")
    return static_ip


def wait_for_instance(
    module: Any,
    client: Any,
    name: str,
    ready: Callable[[JsonDict], bool],
    what: str,
    timeout: int,
) -> JsonDict:
    """Read the instance until ready(instance) holds; fail after timeout seconds."""
    deadline = time.monotonic() + timeout
    while True:
        instance = get_instance(module, client, name)
        if instance is not None and ready(instance):
            return instance
        if time.monotonic() >= deadline:
            state = instance["state"]["name"] if instance else "not found"
            module.fail_json(
                msg=(
                    f"Timed out after {timeout} s waiting for Lightsail instance "
                    f"{name} to be {what}; its state is {state}. Raise the wait "
                    "timeout or check the instance in the Lightsail console."
                ),
                instance=instance,
            )
        time.sleep(POLL_INTERVAL)


def is_running_with_public_ip(instance: JsonDict) -> bool:
    """Return whether the instance runs and has a public IPv4 address.

    Lightsail can report "running" before it assigns an address, so both are
    needed before anything may use the address.
    """
    return bool(
        instance["state"]["name"] == "running" and instance.get("publicIpAddress")
    )
