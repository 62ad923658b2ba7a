#!/usr/bin/env python3
"""A test double of Amazon Lightsail's API for the lab and the tests.

moto does not implement Lightsail, so this small HTTP server serves the
Lightsail operations that the aws_lightsail role calls, over Lightsail's own
protocol (JSON 1.1, the operation in the X-Amz-Target header), with state kept
in memory per region.

Every request body is checked against the operation's input shape in
botocore's Lightsail service model before it is acted on: what botocore's
parameter validation rejects, and strings outside a modelled enum or pattern,
come back as HTTP 400 with an InvalidInputException, as Lightsail does. Every
response is checked against the operation's output shape before it is sent; a
response that does not fit is a bug in the double and returns HTTP 500.

Like Lightsail, a new instance stays "pending" without a public IP address for
a few reads before it runs, so callers must wait for the address.

Besides the API, the server serves three paths of its own:
GET /lightsail-double/health, GET /lightsail-double/calls (the operation names
received so far, in order) and POST /lightsail-double/reset (forget all state).
"""

from __future__ import annotations

import argparse
import datetime as dt
import ipaddress
import json
import logging
import re
import threading
import uuid
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel, Shape, StructureShape
from botocore.validate import ParamValidator

LOG = logging.getLogger("lightsail_double")
TARGET_PREFIX = "Lightsail_20161128."
CONTROL_PREFIX = "/lightsail-double/"
# Lightsail instances live in this private range, which Lightsail's VPC uses.
PRIVATE_NETWORK = ipaddress.IPv4Network("172.26.0.0/16")
# Documentation addresses (RFC 5737), so that nothing real is ever named.
PUBLIC_NETWORK = ipaddress.IPv4Network("203.0.113.0/24")
STATIC_NETWORK = ipaddress.IPv4Network("198.51.100.0/24")

JsonDict = dict[str, Any]


class ApiError(Exception):
    """An error that Lightsail returns as a modelled exception."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def check_constraints(value: Any, shape: Shape, path: str, errors: list[str]) -> None:
    """Collect enum and pattern violations, which botocore does not check."""
    if shape.type_name == "string" and isinstance(value, str):
        enum = shape.enum
        if enum and value not in enum:
            errors.append(f"{path}: {value!r} is not one of {', '.join(enum)}")
        pattern = shape.metadata.get("pattern")
        if pattern and not re.fullmatch(pattern, value):
            errors.append(f"{path}: {value!r} does not match pattern {pattern}")
    elif shape.type_name == "structure" and isinstance(value, dict):
        assert isinstance(shape, StructureShape)
        for name, member in shape.members.items():
            if name in value:
                check_constraints(value[name], member, f"{path}.{name}", errors)
    elif shape.type_name == "list" and isinstance(value, list):
        member_shape = shape.member
        for index, item in enumerate(value):
            check_constraints(item, member_shape, f"{path}[{index}]", errors)


def validate(value: JsonDict, shape: Shape | None, path: str) -> list[str]:
    """Return every way in which value does not fit shape."""
    if shape is None:
        return [] if not value else [f"{path}: the operation takes no members"]
    report = ParamValidator().validate(value, shape)
    errors = [line for line in report.generate_report().splitlines() if line]
    check_constraints(value, shape, path, errors)
    return errors


def to_wire(value: Any) -> Any:
    """Serialize timestamps as JSON 1.1 does: seconds since the epoch."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, dict):
        return {key: to_wire(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_wire(item) for item in value]
    return value


class LightsailState:
    """In-memory Lightsail resources of one region, and their handlers."""

    def __init__(self, region: str, pending_reads: int) -> None:
        self.region = region
        self.pending_reads = pending_reads
        self.instances: dict[str, JsonDict] = {}
        self.static_ips: dict[str, JsonDict] = {}
        self.vpc_peered = False
        self._next_host = 10

    def _location(self, zone: str | None = None) -> JsonDict:
        location: JsonDict = {"regionName": self.region}
        if zone:
            location["availabilityZone"] = zone
        return location

    def _arn(self, kind: str, name: str) -> str:
        return f"arn:aws:lightsail:{self.region}:000000000000:{kind}/{name}"

    def _operation(
        self, name: str, resource_type: str, operation_type: str | None = None
    ) -> JsonDict:
        """Return a finished operation record, as every mutating call returns."""
        now = _now()
        operation = {
            "id": str(uuid.uuid4()),
            "resourceName": name,
            "resourceType": resource_type,
            "createdAt": now,
            "location": self._location(),
            "isTerminal": True,
            "status": "Succeeded",
            "statusChangedAt": now,
        }
        # Tagging and VPC peering have no value in the OperationType enum.
        if operation_type:
            operation["operationType"] = operation_type
        return operation

    def _host_address(self, network: ipaddress.IPv4Network) -> str:
        self._next_host += 1
        return str(network.network_address + self._next_host)

    def _instance(self, name: str) -> JsonDict:
        instance = self.instances.get(name)
        if instance is None:
            raise ApiError("NotFoundException", f"The Instance does not exist: {name}")
        return instance

    def _static_ip(self, name: str) -> JsonDict:
        static_ip = self.static_ips.get(name)
        if static_ip is None:
            raise ApiError("NotFoundException", f"The StaticIp does not exist: {name}")
        return static_ip

    def _read_instance(self, instance: JsonDict) -> JsonDict:
        """Advance a pending instance on each read, as Lightsail's boot does."""
        if instance["state"]["name"] == "pending":
            instance["_reads"] += 1
            if instance["_reads"] > self.pending_reads:
                instance["state"] = {"code": 16, "name": "running"}
                if not instance["isStaticIp"]:
                    instance["publicIpAddress"] = self._host_address(PUBLIC_NETWORK)
        return {key: value for key, value in instance.items() if key[0] != "_"}

    def get_instance(self, body: JsonDict) -> JsonDict:
        return {"instance": self._read_instance(self._instance(body["instanceName"]))}

    def get_instances(self, body: JsonDict) -> JsonDict:
        return {"instances": [self._read_instance(i) for i in self.instances.values()]}

    def create_instances(self, body: JsonDict) -> JsonDict:
        zone = body["availabilityZone"]
        if not zone.startswith(self.region):
            raise ApiError(
                "InvalidInputException",
                f"The availability zone {zone} is not in region {self.region}",
            )
        operations = []
        for name in body["instanceNames"]:
            if name in self.instances:
                raise ApiError(
                    "InvalidInputException", f"The instance {name} already exists"
                )
        for name in body["instanceNames"]:
            self.instances[name] = {
                "name": name,
                "arn": self._arn("Instance", name),
                "supportCode": f"000000000000/{name}",
                "createdAt": _now(),
                "location": self._location(zone),
                "resourceType": "Instance",
                "tags": list(body.get("tags", [])),
                "blueprintId": body["blueprintId"],
                "bundleId": body["bundleId"],
                "isStaticIp": False,
                "privateIpAddress": self._host_address(PRIVATE_NETWORK),
                "ipAddressType": body.get("ipAddressType", "dualstack"),
                "networking": {
                    "ports": [
                        {
                            "fromPort": 22,
                            "toPort": 22,
                            "protocol": "tcp",
                            "accessFrom": "Anywhere (0.0.0.0/0 and ::/0)",
                            "accessType": "Public",
                            "accessDirection": "inbound",
                            "cidrs": ["0.0.0.0/0"],
                            "ipv6Cidrs": ["::/0"],
                        }
                    ]
                },
                "state": {"code": 0, "name": "pending"},
                "username": "ubuntu",
                "sshKeyName": body.get("keyPairName", "LightsailDefaultKeyPair"),
                "_reads": 0,
            }
            operations.append(self._operation(name, "Instance", "CreateInstance"))
        return {"operations": operations}

    def delete_instance(self, body: JsonDict) -> JsonDict:
        name = body["instanceName"]
        self._instance(name)
        for static_ip in self.static_ips.values():
            if static_ip.get("attachedTo") == name:
                static_ip["isAttached"] = False
                static_ip.pop("attachedTo", None)
        del self.instances[name]
        return {"operations": [self._operation(name, "Instance", "DeleteInstance")]}

    def put_instance_public_ports(self, body: JsonDict) -> JsonDict:
        instance = self._instance(body["instanceName"])
        ports = []
        for info in body["portInfos"]:
            port = {
                key: info[key]
                for key in ("fromPort", "toPort", "protocol", "cidrs", "ipv6Cidrs")
                if key in info
            }
            port.update(accessType="Public", accessDirection="inbound")
            ports.append(port)
        instance["networking"]["ports"] = ports
        operation = self._operation(
            instance["name"], "Instance", "PutInstancePublicPorts"
        )
        return {"operation": operation}

    def get_instance_port_states(self, body: JsonDict) -> JsonDict:
        instance = self._instance(body["instanceName"])
        states = []
        for port in instance["networking"]["ports"]:
            state = {
                key: port[key]
                for key in ("fromPort", "toPort", "protocol", "cidrs", "ipv6Cidrs")
                if key in port
            }
            state["state"] = "open"
            states.append(state)
        return {"portStates": states}

    def tag_resource(self, body: JsonDict) -> JsonDict:
        instance = self._instance(body["resourceName"])
        tags = {tag["key"]: tag for tag in instance["tags"]}
        tags.update({tag["key"]: tag for tag in body["tags"]})
        instance["tags"] = list(tags.values())
        return {"operations": [self._operation(instance["name"], "Instance")]}

    def untag_resource(self, body: JsonDict) -> JsonDict:
        instance = self._instance(body["resourceName"])
        instance["tags"] = [
            tag for tag in instance["tags"] if tag["key"] not in body["tagKeys"]
        ]
        return {"operations": [self._operation(instance["name"], "Instance")]}

    def allocate_static_ip(self, body: JsonDict) -> JsonDict:
        name = body["staticIpName"]
        if name in self.static_ips:
            raise ApiError(
                "InvalidInputException", f"The static IP {name} already exists"
            )
        self.static_ips[name] = {
            "name": name,
            "arn": self._arn("StaticIp", name),
            "supportCode": f"000000000000/{name}",
            "createdAt": _now(),
            "location": self._location(f"{self.region}a"),
            "resourceType": "StaticIp",
            "ipAddress": self._host_address(STATIC_NETWORK),
            "isAttached": False,
        }
        return {"operations": [self._operation(name, "StaticIp", "AllocateStaticIp")]}

    def get_static_ip(self, body: JsonDict) -> JsonDict:
        return {"staticIp": dict(self._static_ip(body["staticIpName"]))}

    def get_static_ips(self, body: JsonDict) -> JsonDict:
        return {"staticIps": [dict(ip) for ip in self.static_ips.values()]}

    def release_static_ip(self, body: JsonDict) -> JsonDict:
        name = body["staticIpName"]
        static_ip = self._static_ip(name)
        if static_ip["isAttached"]:
            self.detach_static_ip(body)
        del self.static_ips[name]
        return {"operations": [self._operation(name, "StaticIp", "ReleaseStaticIp")]}

    def attach_static_ip(self, body: JsonDict) -> JsonDict:
        static_ip = self._static_ip(body["staticIpName"])
        instance = self._instance(body["instanceName"])
        if static_ip["isAttached"] and static_ip["attachedTo"] != instance["name"]:
            raise ApiError(
                "InvalidInputException",
                f"The static IP {static_ip['name']} is attached to "
                f"{static_ip['attachedTo']}",
            )
        static_ip.update(isAttached=True, attachedTo=instance["name"])
        instance.update(isStaticIp=True, publicIpAddress=static_ip["ipAddress"])
        return {
            "operations": [
                self._operation(static_ip["name"], "StaticIp", "AttachStaticIp"),
                self._operation(instance["name"], "Instance", "AttachStaticIp"),
            ]
        }

    def detach_static_ip(self, body: JsonDict) -> JsonDict:
        static_ip = self._static_ip(body["staticIpName"])
        if not static_ip["isAttached"]:
            raise ApiError(
                "InvalidInputException",
                f"The static IP {static_ip['name']} is not attached",
            )
        instance = self.instances.get(static_ip["attachedTo"])
        if instance is not None:
            instance["isStaticIp"] = False
            instance["publicIpAddress"] = self._host_address(PUBLIC_NETWORK)
        static_ip["isAttached"] = False
        static_ip.pop("attachedTo", None)
        return {
            "operations": [
                self._operation(static_ip["name"], "StaticIp", "DetachStaticIp")
            ]
        }

    def peer_vpc(self, body: JsonDict) -> JsonDict:
        self.vpc_peered = True
        return {"operation": self._operation("vpc", "PeeredVpc")}

    def unpeer_vpc(self, body: JsonDict) -> JsonDict:
        self.vpc_peered = False
        return {"operation": self._operation("vpc", "PeeredVpc")}

    def is_vpc_peered(self, body: JsonDict) -> JsonDict:
        return {"isPeered": self.vpc_peered}

    def handlers(self) -> dict[str, Callable[[JsonDict], JsonDict]]:
        """Map each implemented operation name to its handler."""
        return {
            "AllocateStaticIp": self.allocate_static_ip,
            "AttachStaticIp": self.attach_static_ip,
            "CreateInstances": self.create_instances,
            "DeleteInstance": self.delete_instance,
            "DetachStaticIp": self.detach_static_ip,
            "GetInstance": self.get_instance,
            "GetInstancePortStates": self.get_instance_port_states,
            "GetInstances": self.get_instances,
            "GetStaticIp": self.get_static_ip,
            "GetStaticIps": self.get_static_ips,
            "IsVpcPeered": self.is_vpc_peered,
            "PeerVpc": self.peer_vpc,
            "PutInstancePublicPorts": self.put_instance_public_ports,
            "ReleaseStaticIp": self.release_static_ip,
            "TagResource": self.tag_resource,
            "UnpeerVpc": self.unpeer_vpc,
            "UntagResource": self.untag_resource,
        }


class LightsailDouble:
    """The double's state across regions, its call log and its dispatcher."""

    def __init__(self, pending_reads: int) -> None:
        self.pending_reads = pending_reads
        self.model: ServiceModel = botocore.session.get_session().get_service_model(
            "lightsail"
        )
        self.lock = threading.Lock()
        self.regions: dict[str, LightsailState] = {}
        self.calls: list[str] = []

    def reset(self) -> None:
        with self.lock:
            self.regions.clear()
            self.calls.clear()

    def call(self, operation_name: str, region: str, body: JsonDict) -> JsonDict:
        """Validate a request, run its handler and validate the response."""
        try:
            operation: OperationModel = self.model.operation_model(operation_name)
        except Exception as exc:
            raise ApiError(
                "UnknownOperationException", f"Unknown operation {operation_name}"
            ) from exc
        errors = validate(body, operation.input_shape, "input")
        if errors:
            raise ApiError("InvalidInputException", "; ".join(errors))
        with self.lock:
            self.calls.append(operation_name)
            state = self.regions.setdefault(
                region, LightsailState(region, self.pending_reads)
            )
            handler = state.handlers().get(operation_name)
            if handler is None:
                raise ApiError(
                    "UnknownOperationException",
                    f"The double does not implement {operation_name}",
                )
            result = handler(body)
        errors = validate(result, operation.output_shape, "output")
        if errors:
            LOG.error("response to %s breaks the model: %s", operation_name, errors)
            raise ApiError("ServiceException", "; ".join(errors), status=500)
        return result


def region_of(authorization: str) -> str | None:
    """Return the region from a Signature Version 4 Authorization header."""
    match = re.search(
        r"Credential=[^/]+/\d{8}/([^/]+)/lightsail/aws4_request", authorization
    )
    return match[1] if match else None


def make_handler(double: LightsailDouble) -> type[BaseHTTPRequestHandler]:
    """Build the request handler class bound to one double."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "LightsailDouble/1"

        def log_message(self, format: str, *args: Any) -> None:
            LOG.info("%s %s", self.address_string(), format % args)

        def _send(self, status: int, payload: Any) -> None:
            data = json.dumps(to_wire(payload)).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/x-amz-json-1.1")
            self.send_header("Content-Length", str(len(data)))
            self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
            self.end_headers()
            self.wfile.write(data)

        def _error(self, error: ApiError) -> None:
            LOG.info("%s: %s", error.code, error.message)
            self._send(error.status, {"__type": error.code, "message": error.message})

        def do_GET(self) -> None:
            if self.path == CONTROL_PREFIX + "health":
                self._send(HTTPStatus.OK, {"status": "ok"})
            elif self.path == CONTROL_PREFIX + "calls":
                with double.lock:
                    self._send(HTTPStatus.OK, {"calls": list(double.calls)})
            else:
                self._send(HTTPStatus.NOT_FOUND, {"message": "not found"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length)
            if self.path == CONTROL_PREFIX + "reset":
                double.reset()
                self._send(HTTPStatus.OK, {"status": "reset"})
                return
            target = self.headers.get("X-Amz-Target", "")
            if not target.startswith(TARGET_PREFIX):
                self._error(
                    ApiError("UnknownOperationException", f"bad target {target!r}")
                )
                return
            region = region_of(self.headers.get("Authorization", ""))
            if region is None:
                self._error(
                    ApiError(
                        "MissingAuthenticationTokenException",
                        "Request is missing a Signature Version 4 Authorization "
                        "header for the lightsail service",
                        status=HTTPStatus.FORBIDDEN,
                    )
                )
                return
            try:
                body = json.loads(raw or b"{}")
            except ValueError:
                self._error(ApiError("SerializationException", "body is not JSON"))
                return
            if not isinstance(body, dict):
                self._error(ApiError("SerializationException", "body is not an object"))
                return
            try:
                result = double.call(target[len(TARGET_PREFIX) :], region, body)
            except ApiError as error:
                self._error(error)
                return
            self._send(HTTPStatus.OK, result)

    return Handler


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=int, default=5001, help="TCP port to listen on")
    parser.add_argument(
        "--pending-reads",
        type=int,
        default=2,
        help="reads of a new instance that still show it pending without an IP",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    double = LightsailDouble(args.pending_reads)
    server = ThreadingHTTPServer((args.host, args.port), make_handler(double))
    LOG.info("listening on http://%s:%s", args.host, args.port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
        LOG.info("stopped")


if __name__ == "__main__":
    main()
