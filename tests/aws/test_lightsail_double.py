"""The Lightsail double accepts what botocore's model accepts and rejects the rest."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType
from typing import Any

import botocore.session
import pytest
from aws_helpers import PROJECT_DIR, REGION, AwsServers
from botocore.config import Config
from botocore.exceptions import ClientError, ParamValidationError
from botocore.validate import ParamValidator


def load_double() -> ModuleType:
    path = PROJECT_DIR / "scripts" / "lightsail_double.py"
    spec = importlib.util.spec_from_file_location("lightsail_double", path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def unvalidated_client(servers: AwsServers) -> Any:
    """Return a Lightsail client that sends requests botocore would reject."""
    return botocore.session.get_session().create_client(
        "lightsail",
        region_name=REGION,
        endpoint_url=servers.lightsail,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
        config=Config(parameter_validation=False, retries={"max_attempts": 1}),
    )


# Requests that botocore's own parameter validation rejects.
INVALID_REQUESTS: dict[str, tuple[str, dict[str, Any]]] = {
    "missing_required": ("get_instance", {}),
    "wrong_type": ("get_instance", {"instanceName": 5}),
    "list_expected": (
        "create_instances",
        {
            "instanceNames": "host-one",
            "availabilityZone": "us-east-1a",
            "blueprintId": "ubuntu_24_04",
            "bundleId": "nano_3_0",
        },
    ),
    "nested_wrong_type": (
        "put_instance_public_ports",
        {"instanceName": "host-one", "portInfos": [{"fromPort": "eighty"}]},
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID_REQUESTS))
def test_double_rejects_what_botocore_rejects(
    case: str, aws_servers: AwsServers
) -> None:
    method, params = INVALID_REQUESTS[case]
    model = botocore.session.get_session().get_service_model("lightsail")
    operation = model.operation_model(
        "".join(part.title() for part in method.split("_"))
    )
    report = ParamValidator().validate(params, operation.input_shape)
    assert report.has_errors(), "the case must be invalid for botocore"

    client = unvalidated_client(aws_servers)
    with pytest.raises(ClientError) as raised:
        getattr(client, method)(**params)
    assert raised.value.response["Error"]["Code"] == "InvalidInputException"
    assert raised.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_double_rejects_enum_and_pattern(aws_servers: AwsServers) -> None:
    client = unvalidated_client(aws_servers)
    with pytest.raises(ClientError) as raised:
        client.get_instance(instanceName="-not a name-")
    assert raised.value.response["Error"]["Code"] == "InvalidInputException"
    assert "pattern" in raised.value.response["Error"]["Message"]


def test_botocore_client_rejects_same_request(aws_servers: AwsServers) -> None:
    client = aws_servers.client("lightsail")
    with pytest.raises(ParamValidationError):
        client.get_instance(instanceName=5)


def test_double_serves_valid_requests(aws_servers: AwsServers) -> None:
    aws_servers.reset()
    client = aws_servers.client("lightsail")
    client.create_instances(
        instanceNames=["host-one"],
        availabilityZone="us-east-1a",
        blueprintId="ubuntu_24_04",
        bundleId="nano_3_0",
    )
    first = client.get_instance(instanceName="host-one")["instance"]
    assert first["state"]["name"] == "pending"
    assert "publicIpAddress" not in first
    second = client.get_instance(instanceName="host-one")["instance"]
    assert second["state"]["name"] == "running"
    assert second["publicIpAddress"]


def test_double_reports_missing_resource(aws_servers: AwsServers) -> None:
    aws_servers.reset()
    client = aws_servers.client("lightsail")
    with pytest.raises(ClientError) as raised:
        client.get_static_ip(staticIpName="absent-ip")
    assert raised.value.response["Error"]["Code"] == "NotFoundException"


def test_double_rejects_unsigned_request(aws_servers: AwsServers) -> None:
    import urllib.error
    import urllib.request

    request = urllib.request.Request(  # noqa: S310
        aws_servers.lightsail,
        data=b"{}",
        headers={"X-Amz-Target": "Lightsail_20161128.IsVpcPeered"},
        method="POST",
    )
    with pytest.raises(urllib.error.HTTPError) as raised:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert raised.value.code == 403


def test_double_rejects_unknown_member() -> None:
    # botocore cannot even serialize an unknown member, so this case is
    # checked on the double's validator directly.
    double = load_double()
    model = botocore.session.get_session().get_service_model("lightsail")
    shape = model.operation_model("GetStaticIp").input_shape
    errors = double.validate(
        {"staticIpName": "ip-one", "colour": "red"}, shape, "input"
    )
    assert any("colour" in error for error in errors)


def test_double_checks_its_responses() -> None:
    double = load_double()
    model = botocore.session.get_session().get_service_model("lightsail")
    output = model.operation_model("GetStaticIp").output_shape
    bad = {"staticIp": {"name": "ip-one", "isAttached": "yes"}}
    assert double.validate(bad, output, "output")
    good = {"staticIp": {"name": "ip-one", "isAttached": False}}
    assert double.validate(good, output, "output") == []


def test_double_response_error_is_server_error(tmp_path: Path) -> None:
    double = load_double()
    lightsail = double.LightsailDouble(pending_reads=0)
    state = double.LightsailState(REGION, 0)
    state.static_ips["ip-one"] = {"name": "ip-one", "isAttached": "yes"}
    lightsail.regions[REGION] = state
    with pytest.raises(double.ApiError) as raised:
        lightsail.call("GetStaticIp", REGION, {"staticIpName": "ip-one"})
    assert raised.value.status == 500
