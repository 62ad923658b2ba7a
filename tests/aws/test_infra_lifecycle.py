"""infra.yml and teardown.yml against moto and the Lightsail double.

One module-scoped scenario runs the whole lifecycle once, because each run
takes tens of seconds: check mode on an empty account, infra.yml twice,
resources created beside the platform's, then teardown.yml. The tests
assert on what each step left behind.
"""

from __future__ import annotations

import base64
import json
import re
import urllib.parse
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import botocore.session
import pytest
from aws_helpers import (
    APP_ENDPOINT,
    DOMAIN,
    PROJECT_DIR,
    AwsServers,
    PlaybookRun,
    run_playbook,
    write_inventory,
)

OWNER_TAG = "qa-platform"
# Actions that IAM checks beside an API call without the call being made:
# DeleteDBInstance with a final snapshot also needs rds:CreateDBSnapshot.
IMPLIED_ACTIONS = {"rds:CreateDBSnapshot"}
# Actions the roles call only to correct drift (a rule, tag or subnet changed
# outside the playbooks), which this scenario does not cause.
DRIFT_ACTIONS = {
    "ec2:CreateTags",
    "ec2:RevokeSecurityGroupIngress",
    "lightsail:TagResource",
    "rds:AddTagsToResource",
    "rds:ModifyDBSubnetGroup",
}


def snapshot_account(servers: AwsServers) -> dict[str, Any]:
    """Describe every resource kind the playbooks touch."""
    rds = servers.client("rds")
    ec2 = servers.client("ec2")
    route53 = servers.client("route53")
    lightsail = servers.client("lightsail")
    zone_id = route53.list_hosted_zones()["HostedZones"][0]["Id"]
    return {
        "db_instances": {
            db["DBInstanceIdentifier"]: db
            for db in rds.describe_db_instances()["DBInstances"]
        },
        "parameter_groups": {
            group["DBParameterGroupName"]
            for group in rds.describe_db_parameter_groups()["DBParameterGroups"]
        },
        "subnet_groups": {
            group["DBSubnetGroupName"]
            for group in rds.describe_db_subnet_groups()["DBSubnetGroups"]
        },
        "snapshots": {
            snap["DBSnapshotIdentifier"]
            for snap in rds.describe_db_snapshots()["DBSnapshots"]
        },
        "security_groups": {
            group["GroupName"]: group
            for group in ec2.describe_security_groups()["SecurityGroups"]
        },
        "records": {
            (record["Name"].replace("\\052", "*"), record["Type"]): record
            for record in route53.list_resource_record_sets(HostedZoneId=zone_id)[
                "ResourceRecordSets"
            ]
        },
        "instances": {
            instance["name"]: instance
            for instance in lightsail.get_instances()["instances"]
        },
        "static_ips": {
            ip["name"]: ip for ip in lightsail.get_static_ips()["staticIps"]
        },
        "peered": lightsail.is_vpc_peered()["isPeered"],
    }


def create_beside(servers: AwsServers) -> None:
    """Create resources without the ownership tag next to the platform's."""
    rds = servers.client("rds")
    rds.create_db_instance(
        DBInstanceIdentifier="other-db",
        DBInstanceClass="db.t3.micro",
        Engine="postgres",
        MasterUsername="other",
        MasterUserPassword="other-password",
        AllocatedStorage=20,
    )
    ec2 = servers.client("ec2")
    ec2.create_security_group(GroupName="other-sg", Description="not the platform's")
    lightsail = servers.client("lightsail")
    lightsail.create_instances(
        instanceNames=["other-host"],
        availabilityZone="us-east-1a",
        blueprintId="ubuntu_24_04",
        bundleId="nano_3_0",
    )
    lightsail.allocate_static_ip(staticIpName="other-ip")
    route53 = servers.client("route53")
    zone_id = route53.list_hosted_zones()["HostedZones"][0]["Id"]
    route53.change_resource_record_sets(
        HostedZoneId=zone_id,
        ChangeBatch={
            "Changes": [
                {
                    "Action": "CREATE",
                    "ResourceRecordSet": {
                        "Name": f"other.{DOMAIN}",
                        "Type": "A",
                        "TTL": 60,
                        "ResourceRecords": [{"Value": "192.0.2.1"}],
                    },
                }
            ]
        },
    )


def route53_operation(method: str, path: str) -> str:
    """Return the Route 53 operation whose request URI matches method and path."""
    model = botocore.session.get_session().get_service_model("route53")
    for name in model.operation_names:
        http = model.operation_model(name).http
        uri = http["requestUri"].split("?")[0]
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(uri))
        query = http["requestUri"].partition("?")[2]
        matched = http["method"] == method and re.fullmatch(pattern, path)
        if matched and (not query or query in path):
            return str(name)
    raise AssertionError(f"no Route 53 operation for {method} {path}")


def moto_actions(requests: list[dict[str, Any]]) -> set[str]:
    """Turn moto's request recording into IAM action names."""
    actions = set()
    for request in requests:
        headers = {key.lower(): value for key, value in request["headers"].items()}
        scope = re.search(
            r"Credential=[^/]+/\d+/[^/]+/([^/]+)/", headers["authorization"]
        )
        assert scope, f"unsigned request {request['url']}"
        service = scope[1]
        body = request["body"] or ""
        if request["body_encoded"]:
            body = base64.b64decode(body).decode()
        query = urllib.parse.parse_qs(body)
        if "x-amz-target" in headers:
            action = headers["x-amz-target"].rpartition(".")[2]
        elif "Action" in query:
            action = query["Action"][0]
        else:
            path = urllib.parse.urlsplit(request["url"]).path
            action = route53_operation(request["method"], path)
        actions.add(f"{service}:{action}")
    return actions


@dataclass
class Lifecycle:
    """What each step of the scenario returned and left behind."""

    check: PlaybookRun
    after_check: dict[str, Any]
    first: PlaybookRun
    second: PlaybookRun
    after_infra: dict[str, Any]
    unconfirmed: PlaybookRun
    lightsail_calls_before_unconfirmed: int
    lightsail_calls_after_unconfirmed: int
    teardown: PlaybookRun
    after_teardown: dict[str, Any]
    actions: set[str] = field(default_factory=set)


class RecordedRuns:
    """Runs playbooks and collects the AWS actions that only the runs sent."""

    def __init__(self, servers: AwsServers, inventory: Path) -> None:
        self.servers = servers
        self.inventory = inventory
        self.actions: set[str] = set()

    def run(self, playbook: str, *extra: str) -> PlaybookRun:
        calls_before = len(self.servers.lightsail_calls())
        self.servers.start_recording()
        result = run_playbook(self.inventory, playbook, *extra)
        self.servers.stop_recording()
        self.actions |= moto_actions(self.servers.moto_requests())
        calls = self.servers.lightsail_calls()[calls_before:]
        self.actions |= {f"lightsail:{call}" for call in calls}
        return result


@pytest.fixture(scope="module")
def lifecycle(
    aws_servers: AwsServers, tmp_path_factory: pytest.TempPathFactory
) -> Lifecycle:
    inventory = write_inventory(tmp_path_factory.mktemp("inventory"), aws_servers)
    aws_servers.reset()
    aws_servers.client("route53").create_hosted_zone(
        Name=DOMAIN, CallerReference="lifecycle-test"
    )
    runs = RecordedRuns(aws_servers, inventory)

    check = runs.run("playbooks/infra.yml", "--check", "--diff")
    after_check = snapshot_account(aws_servers)
    first = runs.run("playbooks/infra.yml")
    second = runs.run("playbooks/infra.yml")
    after_infra = snapshot_account(aws_servers)

    create_beside(aws_servers)
    before = len(aws_servers.lightsail_calls())
    unconfirmed = runs.run("playbooks/teardown.yml")
    after = len(aws_servers.lightsail_calls())
    teardown = runs.run("playbooks/teardown.yml", "-e", f"confirm={DOMAIN}")
    after_teardown = snapshot_account(aws_servers)

    return Lifecycle(
        check,
        after_check,
        first,
        second,
        after_infra,
        unconfirmed,
        before,
        after,
        teardown,
        after_teardown,
        runs.actions,
    )


def test_check_mode_succeeds(lifecycle: Lifecycle) -> None:
    assert lifecycle.check.returncode == 0, lifecycle.check.output[-3000:]
    assert lifecycle.check.recap["changed"] > 0


def test_check_mode_creates_nothing(lifecycle: Lifecycle) -> None:
    state = lifecycle.after_check
    assert state["db_instances"] == {}
    assert state["instances"] == {}
    assert state["static_ips"] == {}
    assert "qa-platform-db" not in state["security_groups"]
    assert "qa-platform-db" not in state["subnet_groups"]
    assert not state["peered"]
    assert {kind for _, kind in state["records"]} == {"NS", "SOA"}


def test_infra_first_run_changes(lifecycle: Lifecycle) -> None:
    assert lifecycle.first.returncode == 0, lifecycle.first.output[-3000:]
    assert lifecycle.first.recap["changed"] > 0


def test_infra_second_run_changes_nothing(lifecycle: Lifecycle) -> None:
    assert lifecycle.second.returncode == 0, lifecycle.second.output[-3000:]
    assert lifecycle.second.recap["changed"] == 0, lifecycle.second.output[-3000:]


def test_rds_instance_settings(lifecycle: Lifecycle) -> None:
    db = lifecycle.after_infra["db_instances"]["qa-platform-db"]
    assert db["Engine"] == "postgres"
    assert db["EngineVersion"].split(".")[0] == "15"
    assert db["StorageEncrypted"] is True
    assert db["StorageType"] == "gp3"
    assert db["AllocatedStorage"] == 200
    assert "Iops" not in db or db["Iops"] in (None, 0, 3000)
    assert db["BackupRetentionPeriod"] == 7
    assert db["MultiAZ"] is True
    assert db["PubliclyAccessible"] is False
    assert db["DeletionProtection"] is True
    assert db["DBSubnetGroup"]["DBSubnetGroupName"] == "qa-platform-db"
    tags = {tag["Key"]: tag["Value"] for tag in db["TagList"]}
    assert tags[OWNER_TAG] == DOMAIN


def test_rds_parameter_group_forces_tls(
    aws_servers: AwsServers, lifecycle: Lifecycle
) -> None:
    db = lifecycle.after_infra["db_instances"]["qa-platform-db"]
    names = [group["DBParameterGroupName"] for group in db["DBParameterGroups"]]
    assert names == ["qa-platform-db-postgres-15"]
    assert "qa-platform-db-postgres-15" in lifecycle.after_infra["parameter_groups"]


def test_rds_security_group_rules(lifecycle: Lifecycle) -> None:
    group = lifecycle.after_infra["security_groups"]["qa-platform-db"]
    rules = group["IpPermissions"]
    assert len(rules) == 1
    assert rules[0]["FromPort"] == 5432
    assert rules[0]["ToPort"] == 5432
    assert [r["CidrIp"] for r in rules[0]["IpRanges"]] == ["172.26.0.0/16"]


def test_lightsail_instance_and_firewall(lifecycle: Lifecycle) -> None:
    instance = lifecycle.after_infra["instances"]["qa-platform-auth"]
    assert instance["blueprintId"] == "ubuntu_24_04"
    tags = {tag["key"]: tag.get("value") for tag in instance["tags"]}
    assert tags[OWNER_TAG] == DOMAIN
    ports = {p["fromPort"]: p for p in instance["networking"]["ports"]}
    assert set(ports) == {22, 80, 443}
    assert ports[80]["cidrs"] == ["0.0.0.0/0"]
    assert ports[443]["ipv6Cidrs"] == ["::/0"]
    assert ports[22]["cidrs"] == ["203.0.113.0/24"]
    assert ports[22].get("ipv6Cidrs", []) == []


def test_lightsail_static_ip_attached(lifecycle: Lifecycle) -> None:
    static_ip = lifecycle.after_infra["static_ips"]["qa-platform-auth-ip"]
    instance = lifecycle.after_infra["instances"]["qa-platform-auth"]
    assert static_ip["isAttached"] is True
    assert static_ip["attachedTo"] == "qa-platform-auth"
    assert instance["publicIpAddress"] == static_ip["ipAddress"]
    assert lifecycle.after_infra["peered"] is True


def test_dns_records(lifecycle: Lifecycle) -> None:
    records = lifecycle.after_infra["records"]
    static_ip = lifecycle.after_infra["static_ips"]["qa-platform-auth-ip"]["ipAddress"]
    auth = records[(f"auth.{DOMAIN}.", "A")]
    assert [r["Value"] for r in auth["ResourceRecords"]] == [static_ip]
    qa = records[(f"qa.{DOMAIN}.", "CNAME")]
    assert [r["Value"] for r in qa["ResourceRecords"]] == [APP_ENDPOINT]
    wildcard = records[(f"*.qa.{DOMAIN}.", "CNAME")]
    assert [r["Value"] for r in wildcard["ResourceRecords"]] == [f"qa.{DOMAIN}"]


def test_outputs_published_to_inventory(lifecycle: Lifecycle) -> None:
    static_ip = lifecycle.after_infra["static_ips"]["qa-platform-auth-ip"]["ipAddress"]
    assert "Add the outputs to every host of the inventory" in lifecycle.second.output
    assert static_ip in lifecycle.second.output


def test_teardown_needs_confirmation(lifecycle: Lifecycle) -> None:
    assert lifecycle.unconfirmed.returncode != 0
    assert f"-e confirm={DOMAIN}" in lifecycle.unconfirmed.output
    after = lifecycle.lightsail_calls_after_unconfirmed
    assert after == lifecycle.lightsail_calls_before_unconfirmed


def test_teardown_removes_platform_resources(lifecycle: Lifecycle) -> None:
    assert lifecycle.teardown.returncode == 0, lifecycle.teardown.output[-3000:]
    state = lifecycle.after_teardown
    assert "qa-platform-db" not in state["db_instances"]
    assert "qa-platform-db-postgres-15" not in state["parameter_groups"]
    assert "qa-platform-db" not in state["subnet_groups"]
    assert "qa-platform-db" not in state["security_groups"]
    assert "qa-platform-auth" not in state["instances"]
    assert "qa-platform-auth-ip" not in state["static_ips"]
    for name in (f"auth.{DOMAIN}.", f"qa.{DOMAIN}.", f"*.qa.{DOMAIN}."):
        assert not any(key[0] == name for key in state["records"]), name


def test_teardown_keeps_other_resources(lifecycle: Lifecycle) -> None:
    state = lifecycle.after_teardown
    assert "other-db" in state["db_instances"]
    assert "other-sg" in state["security_groups"]
    assert "other-host" in state["instances"]
    assert "other-ip" in state["static_ips"]
    assert (f"other.{DOMAIN}.", "A") in state["records"]


def test_teardown_takes_final_snapshot(lifecycle: Lifecycle) -> None:
    snapshots = lifecycle.after_teardown["snapshots"]
    assert any(name.startswith("qa-platform-db-final-") for name in snapshots)


def test_iam_policy_matches_calls(lifecycle: Lifecycle) -> None:
    policy = json.loads((PROJECT_DIR / "docs" / "iam-policy.json").read_text())
    allowed = {
        action
        for statement in policy["Statement"]
        if statement["Effect"] == "Allow"
        for action in statement["Action"]
    }
    called = lifecycle.actions
    missing = called - allowed
    assert not missing, f"calls the policy does not allow: {sorted(missing)}"
    unused = allowed - called - IMPLIED_ACTIONS - DRIFT_ACTIONS
    assert not unused, f"actions the playbooks never called: {sorted(unused)}"


def test_policy_file_is_valid_json(project_dir: Path) -> None:
    policy = json.loads((project_dir / "docs" / "iam-policy.json").read_text())
    assert policy["Version"] == "2012-10-17"
    for statement in policy["Statement"]:
        assert statement["Effect"] == "Allow"
        assert statement["Action"] == sorted(statement["Action"])
