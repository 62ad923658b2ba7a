"""infra.yml rejects bad input before it sends any AWS request."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from aws_helpers import DOMAIN, AwsServers, run_playbook, write_inventory

CASES: dict[str, tuple[dict[str, Any], str]] = {
    "domain": ({"platform_domain": "bad_domain..test"}, "is not a valid domain name"),
    "ssh_cidr": ({"aws_lightsail_ssh_cidrs": ["203.0.113.0/33"]}, "not a valid IPv4"),
    "ssh_not_cidr": ({"aws_lightsail_ssh_cidrs": ["office"]}, "not a valid IPv4"),
    "instance_class": (
        {"aws_rds_instance_class": "db.x9.huge"},
        "aws_rds_instance_class",
    ),
    "engine_version": ({"aws_rds_engine_version": "12"}, "aws_rds_engine_version"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_rejected_before_calls(
    case: str, aws_servers: AwsServers, tmp_path: Path
) -> None:
    overrides, message = CASES[case]
    inventory = write_inventory(tmp_path, aws_servers, **overrides)
    aws_servers.reset()
    aws_servers.start_recording()
    result = run_playbook(inventory, "playbooks/infra.yml")
    aws_servers.stop_recording()

    assert result.returncode != 0, result.output[-3000:]
    assert message in result.output, result.output[-3000:]
    assert aws_servers.moto_requests() == []
    assert aws_servers.lightsail_calls() == []


def test_good_input_reaches_aws(aws_servers: AwsServers, tmp_path: Path) -> None:
    """The control case: with valid input the same run does call AWS."""
    inventory = write_inventory(tmp_path, aws_servers)
    aws_servers.reset()
    aws_servers.client("route53").create_hosted_zone(
        Name=DOMAIN, CallerReference="bad-input-control"
    )
    aws_servers.start_recording()
    result = run_playbook(inventory, "playbooks/infra.yml", "--check")
    aws_servers.stop_recording()

    assert result.returncode == 0, result.output[-3000:]
    assert aws_servers.moto_requests() != []
    assert aws_servers.lightsail_calls() != []
