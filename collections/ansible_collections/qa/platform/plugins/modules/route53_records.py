#!/usr/bin/python
"""Ansible module qa.platform.route53_records: several records, one change batch."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: route53_records
short_description: Upsert or delete Route 53 records in one change batch
version_added: "0.1.0"
description:
  - Compares each record with what the hosted zone holds and sends every
    needed change in one C(ChangeResourceRecordSets) batch, then waits once
    for that batch to be in sync on Route 53's name servers.
  - Route 53 returns C(*) in names as C(\052); names are compared after
    unescaping and without the trailing dot, so a wildcard record is not
    rewritten on every run.
  - Written for this project because C(amazon.aws.route53) changes and waits
    for one record at a time. It uses amazon.aws's C(AnsibleAWSModule), which
    Ansible ships with any collection's module, so it takes the usual AWS
    options.
options:
  zone:
    description: Name of the public hosted zone, such as C(example.com).
    type: str
    required: true
  records:
    description: The records to manage.
    type: list
    elements: dict
    required: true
    suboptions:
      name:
        description: Full record name, such as C(*.qa.example.com).
        type: str
        required: true
      type:
        description: Record type.
        type: str
        choices: [A, AAAA, CNAME, TXT]
        required: true
      ttl:
        description: Time to live in seconds.
        type: int
        default: 300
      values:
        description:
          - The record's values. Required with O(state=present).
          - Every value must be non-empty; an empty value fails the module.
        type: list
        elements: str
        default: []
  state:
    description:
      - V(present) creates or updates the records; V(absent) deletes those that
        exist, whatever their values.
    type: str
    choices: [present, absent]
    default: present
  wait:
    description: Wait until the change batch is in sync.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the change batch.
    type: int
    default: 300
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
- name: Ensure the platform's names exist
  qa.platform.route53_records:
    zone: example.com
    records:
      - {name: auth.example.com, type: A, values: [198.51.100.7]}
      - {name: qa.example.com, type: CNAME, values: [app-lb.example.net]}
      - {name: "*.qa.example.com", type: CNAME, values: [qa.example.com]}
"""

RETURN = r"""
zone_id:
  description: Id of the hosted zone.
  returned: always
  type: str
changes:
  description: The changes sent (or, in check mode, that would be sent).
  returned: always
  type: list
  elements: dict
change_id:
  description: Id of the change batch; empty when nothing changed.
  returned: always
  type: str
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

API_ERRORS = (
    (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError)
    if botocore
    else ()
)


def normalize_name(name: str) -> str:
    """Return a record name as Route 53 compares it: unescaped, lowercase, no final dot."""
    return name.replace("\\052", "*").rstrip(".").lower()


def normalize_value(value: str, record_type: str) -> str:
    """Return a value in comparable form; host names lose case and the final dot."""
    if record_type == "CNAME":
        return value.rstrip(".").lower()
    return value


def find_zone(module: Any, client: Any, zone: str) -> str:
    """Return the id of the public hosted zone called zone."""
    desired = normalize_name(zone)
    try:
        paginator = client.get_paginator("list_hosted_zones")
        for page in paginator.paginate():
            for hosted_zone in page["HostedZones"]:
                private = hosted_zone.get("Config", {}).get("PrivateZone", False)
                if normalize_name(hosted_zone["Name"]) == desired and not private:
                    return str(hosted_zone["Id"]).split("/")[-1]
    except API_ERRORS as error:
        module.fail_json_aws(error, msg="Failed to list the hosted zones")
    module.fail_json(
        msg=f"Public hosted zone {zone} not found; create it in Route 53 first."
    )
    raise AssertionError("unreachable")


def current_record(
    module: Any, client: Any, zone_id: str, name: str, record_type: str
) -> dict[str, Any] | None:
    """Return the simple record set with this name and type, or None."""
    try:
        answer = client.list_resource_record_sets(
            HostedZoneId=zone_id,
            StartRecordName=name,
            StartRecordType=record_type,
            MaxItems="1",
            aws_retry=True,
        )
    except API_ERRORS as error:
        module.fail_json_aws(error, msg=f"Failed to read record {name}")
    for record in answer["ResourceRecordSets"]:
        if (
            normalize_name(record["Name"]) == normalize_name(name)
            and record["Type"] == record_type
        ):
            return dict(record)
    return None


def desired_record(record: dict[str, Any]) -> dict[str, Any]:
    return {
        "Name": record["name"],
        "Type": record["type"],
        "TTL": record["ttl"],
        "ResourceRecords": [{"Value": value} for value in record["values"]],
    }


def same_record(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    record_type = desired["Type"]
    values = sorted(
        normalize_value(item["Value"], record_type)
        for item in current.get("ResourceRecords", [])
    )
    desired_values = sorted(
        normalize_value(item["Value"], record_type)
        for item in desired["ResourceRecords"]
    )
    return bool(current.get("TTL") == desired["TTL"] and values == desired_values)


def summary(record: dict[str, Any] | None) -> str:
    if record is None:
        return "absent"
    values = ",".join(item["Value"] for item in record.get("ResourceRecords", []))
    return f"{record['Type']} {record.get('TTL')} {values}"


def main() -> None:
    module = AnsibleAWSModule(
        argument_spec={
            "zone": {"type": "str", "required": True},
            "records": {
                "type": "list",
                "elements": "dict",
                "required": True,
                "options": {
                    "name": {"type": "str", "required": True},
                    "type": {
                        "type": "str",
                        "choices": ["A", "AAAA", "CNAME", "TXT"],
                        "required": True,
                    },
                    "ttl": {"type": "int", "default": 300},
                    "values": {"type": "list", "elements": "str", "default": []},
                },
            },
            "state": {
                "type": "str",
                "choices": ["present", "absent"],
                "default": "present",
            },
            "wait": {"type": "bool", "default": True},
            "wait_timeout": {"type": "int", "default": 300},
        },
        supports_check_mode=True,
    )
    params = module.params
    present = params["state"] == "present"
    if present:
        for record in params["records"]:
            if not record["values"] or not all(v.strip() for v in record["values"]):
                module.fail_json(
                    msg=f"Record {record['name']} has no value or an empty value "
                    f"({record['values']}); refusing to write it."
                )

    client = module.client("route53", retry_decorator=AWSRetry.jittered_backoff())
    zone_id = find_zone(module, client, params["zone"])
    changes: list[dict[str, Any]] = []
    before: dict[str, str] = {}
    after: dict[str, str] = {}
    for record in params["records"]:
        current = current_record(
            module, client, zone_id, record["name"], record["type"]
        )
        key = f"{record['name']} {record['type']}"
        before[key] = summary(current)
        if present:
            desired = desired_record(record)
            after[key] = summary(desired)
            if current is None or not same_record(current, desired):
                changes.append({"Action": "UPSERT", "ResourceRecordSet": desired})
        else:
            after[key] = "absent"
            if current is not None:
                changes.append({"Action": "DELETE", "ResourceRecordSet": current})

    change_id = ""
    if changes and not module.check_mode:
        try:
            answer = client.change_resource_record_sets(
                HostedZoneId=zone_id,
                ChangeBatch={"Comment": "qa-platform-ops", "Changes": changes},
                aws_retry=True,
            )
            change_id = answer["ChangeInfo"]["Id"]
            if params["wait"]:
                delay = 5
                waiter = client.get_waiter("resource_record_sets_changed")
                waiter.wait(
                    Id=change_id,
                    WaiterConfig={
                        "Delay": delay,
                        "MaxAttempts": max(1, params["wait_timeout"] // delay),
                    },
                )
        except botocore.exceptions.WaiterError as error:
            module.fail_json_aws(
                error,
                msg=f"Timed out after {params['wait_timeout']} s waiting for "
                f"change {change_id} in zone {params['zone']} to be in sync",
            )
        except API_ERRORS as error:
            module.fail_json_aws(
                error, msg=f"Failed to change records in zone {params['zone']}"
            )
    module.exit_json(
        changed=bool(changes),
        zone_id=zone_id,
        changes=changes,
        change_id=change_id,
        diff={"before": before, "after": after},
    )


if __name__ == "__main__":
    main()
