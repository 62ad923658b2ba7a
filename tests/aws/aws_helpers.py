"""Helpers for the AWS tests: server control, inventories and playbook runs.

The servers listen on free loopback ports and are stopped by their PIDs at
the end of the session, so the lab's own moto is never touched. Every client
gets an explicit loopback endpoint, and the environment carries dummy
credentials with the instance-metadata lookup disabled, so nothing can reach
real AWS.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest
import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
BIN_DIR = Path(sys.executable).parent
REGION = "us-east-1"
DOMAIN = "platform.test"
APP_ENDPOINT = "app.example.net"

AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_for(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    """Wait until url returns 200, failing with the server's log otherwise."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited early; log:\n{log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as answer:  # noqa: S310
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"{url} did not answer within 30 s; log:\n{log.read_text()[-2000:]}")


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


@dataclass
class AwsServers:
    """Endpoints of the session's moto server and Lightsail double."""

    moto: str
    lightsail: str
    recording: Path

    def client(self, service: str) -> Any:
        endpoint = self.lightsail if service == "lightsail" else self.moto
        return boto3.client(
            service,
            region_name=REGION,
            endpoint_url=endpoint,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",  # noqa: S106
        )

    def post(self, url: str) -> None:
        request = urllib.request.Request(url, data=b"", method="POST")  # noqa: S310
        with urllib.request.urlopen(request, timeout=10):  # noqa: S310
            pass

    def reset(self) -> None:
        """Forget every resource in both servers."""
        self.post(f"{self.moto}/moto-api/reset")
        self.post(f"{self.lightsail}/lightsail-double/reset")

    def lightsail_calls(self) -> list[str]:
        url = f"{self.lightsail}/lightsail-double/calls"
        with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310
            calls: list[str] = json.load(answer)["calls"]
        return calls

    def start_recording(self) -> None:
        self.post(f"{self.moto}/moto-api/recorder/reset-recording")
        self.post(f"{self.moto}/moto-api/recorder/start-recording")

    def stop_recording(self) -> None:
        self.post(f"{self.moto}/moto-api/recorder/stop-recording")

    def moto_requests(self) -> list[dict[str, Any]]:
        if not self.recording.is_file():
            return []
        return [json.loads(line) for line in self.recording.read_text().splitlines()]


def write_inventory(path: Path, servers: AwsServers, **overrides: Any) -> Path:
    """Write a production-shaped inventory whose AWS endpoints are the test servers."""
    (path / "group_vars" / "all").mkdir(parents=True, exist_ok=True)
    hosts = {
        "all": {
            "children": {
                "controller": {
                    "hosts": {
                        "localhost": {
                            "ansible_connection": "local",
                            "ansible_python_interpreter": sys.executable,
                        }
                    }
                }
            }
        }
    }
    settings: dict[str, Any] = {
        "platform_environment": "test",
        "platform_domain": DOMAIN,
        "platform_app_endpoint": APP_ENDPOINT,
        "platform_db_host": "db.invalid",
        "platform_db_port": 5432,
        "platform_db_master_user": "dbadmin",
        "platform_db_master_password": "initial-master-password",
        "platform_aws_environment": {},
        "platform_aws_outputs_to_inventory": True,
        "aws_rds_endpoint_url": servers.moto,
        "aws_dns_endpoint_url": servers.moto,
        "aws_lightsail_endpoint_url": servers.lightsail,
        "aws_rds_wait_delay": 1,
        "aws_lightsail_ssh_cidrs": ["203.0.113.0/24"],
    }
    settings.update(overrides)
    (path / "hosts.yml").write_text(yaml.safe_dump(hosts))
    (path / "group_vars" / "all" / "platform.yml").write_text(yaml.safe_dump(settings))
    return path


@dataclass
class PlaybookRun:
    """The result of one ansible-playbook run."""

    returncode: int
    output: str

    @property
    def recap(self) -> dict[str, int]:
        match = re.search(r"^localhost\s*:\s*(.+)$", self.output, re.MULTILINE)
        assert match, f"no play recap in:\n{self.output[-3000:]}"
        return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match[1])}


def run_playbook(inventory: Path, playbook: str, *extra: str) -> PlaybookRun:
    """Run one of the project's playbooks with the tests' AWS environment."""
    env = dict(
        os.environ,
        **AWS_ENV,
        ANSIBLE_CONFIG=str(PROJECT_DIR / "ansible.cfg"),
        ANSIBLE_FORCE_COLOR="false",
        PATH=f"{BIN_DIR}:{os.environ.get('PATH', '')}",
    )
    result = subprocess.run(
        ["ansible-playbook", "-i", str(inventory), playbook, *extra],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    return PlaybookRun(result.returncode, result.stdout + result.stderr)
