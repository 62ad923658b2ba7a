"""The local lab: every service responds, names resolve, a rerun changes nothing."""

from __future__ import annotations

import os
import re
import socket
import ssl
import subprocess
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import boto3
import psycopg
import pytest

pytestmark = pytest.mark.lab


def run(*argv: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run a command and return its result without raising on failure."""
    return subprocess.run(
        argv, capture_output=True, text=True, timeout=timeout, check=False
    )


def lab_playbook(project_dir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    """Run playbooks/lab.yml with extra arguments, as `make lab` does."""
    env = dict(os.environ, ANSIBLE_CONFIG=str(project_dir / "ansible.cfg"))
    return subprocess.run(
        ["ansible-playbook", "playbooks/lab.yml", *extra],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def recap_counts(output: str) -> dict[str, int]:
    """Return the counters of the controller's line in a play recap."""
    match = re.search(r"^localhost\s*:\s*(.+)$", output, re.MULTILINE)
    assert match, f"no play recap for localhost in:\n{output[-2000:]}"
    return {key: int(value) for key, value in re.findall(r"(\w+)=(\d+)", match[1])}


def test_postgresql_master_is_not_superuser(lab: dict[str, Any]) -> None:
    postgresql = lab["postgresql"]
    password = Path(postgresql["master_password_file"]).read_text().strip()
    with psycopg.connect(
        host=postgresql["host"],
        port=postgresql["port"],
        user=postgresql["master_user"],
        password=password,
        dbname="postgres",
    ) as conn:
        row = conn.execute(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolbypassrls,"
            " current_setting('server_version_num')::int"
            " FROM pg_roles WHERE rolname = current_user"
        ).fetchone()
    assert row is not None
    superuser, createdb, createrole, bypassrls, version = row
    assert superuser is False
    assert bypassrls is False
    assert createdb is True
    assert createrole is True
    assert 150000 <= version < 160000


def test_postgresql_rejects_wrong_password(lab: dict[str, Any]) -> None:
    postgresql = lab["postgresql"]
    with pytest.raises(psycopg.OperationalError, match="password authentication"):
        psycopg.connect(
            host=postgresql["host"],
            port=postgresql["port"],
            user=postgresql["master_user"],
            password="not-the-password",  # noqa: S106
            dbname="postgres",
        )


def test_moto_serves_route53_and_rds(lab: dict[str, Any]) -> None:
    session = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
        region_name="us-east-1",
    )
    endpoint = lab["moto"]["endpoint"]
    route53 = session.client("route53", endpoint_url=endpoint)
    zone_name = f"lab-check-{uuid.uuid4().hex[:8]}.test."
    zone = route53.create_hosted_zone(Name=zone_name, CallerReference=zone_name)
    zone_id = zone["HostedZone"]["Id"]
    try:
        names = [z["Name"] for z in route53.list_hosted_zones()["HostedZones"]]
        assert zone_name in names
    finally:
        route53.delete_hosted_zone(Id=zone_id)
    rds = session.client("rds", endpoint_url=endpoint)
    assert "DBInstances" in rds.describe_db_instances()


def test_pebble_serves_acme_directory(lab: dict[str, Any]) -> None:
    context = ssl.create_default_context(cafile=lab["pebble"]["ca_certificate"])
    with urllib.request.urlopen(  # noqa: S310
        lab["pebble"]["directory"], context=context, timeout=10
    ) as response:
        body = response.read().decode()
    assert "newAccount" in body
    assert "newOrder" in body


def test_pebble_publishes_its_root(lab: dict[str, Any]) -> None:
    context = ssl.create_default_context(cafile=lab["pebble"]["ca_certificate"])
    url = lab["pebble"]["management"] + "/roots/0"
    with urllib.request.urlopen(url, context=context, timeout=10) as response:  # noqa: S310
        body = response.read().decode()
    assert body.startswith("-----BEGIN CERTIFICATE-----")


def test_challtestsrv_resolves_any_lab_name(lab: dict[str, Any]) -> None:
    host, port = lab["challtestsrv"]["dns"].split(":")
    name = f"tenant-{uuid.uuid4().hex[:6]}.qa.{lab['domain']}"
    result = run("dig", "+short", "-p", port, f"@{host}", name)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "127.0.0.1"


@pytest.mark.parametrize("prefix", ["", "auth.", "qa."])
def test_lab_names_resolve_here(lab: dict[str, Any], prefix: str) -> None:
    assert socket.gethostbyname(prefix + lab["domain"]) == "127.0.0.1"


def test_lab_names_resolve_in_auth_host(lab: dict[str, Any]) -> None:
    result = run(
        "docker",
        "exec",
        lab["auth_container"],
        "getent",
        "hosts",
        "auth." + lab["domain"],
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split()[0] == "127.0.0.1"


def test_auth_host_boots_systemd(lab: dict[str, Any]) -> None:
    container = lab["auth_container"]
    state = run("docker", "exec", container, "systemctl", "is-system-running")
    assert state.stdout.strip() in {"running", "degraded"}
    pid1 = run("docker", "exec", container, "cat", "/proc/1/comm")
    assert pid1.stdout.strip() == "systemd"


def test_auth_host_reaches_postgresql(lab: dict[str, Any]) -> None:
    port = lab["postgresql"]["port"]
    probe = f"exec 3<>/dev/tcp/127.0.0.1/{port}"
    result = run("docker", "exec", lab["auth_container"], "bash", "-c", probe)
    assert result.returncode == 0, result.stderr


def test_auth_host_is_not_privileged(lab: dict[str, Any]) -> None:
    result = run(
        "docker",
        "inspect",
        "--format",
        "{{.HostConfig.Privileged}}",
        lab["auth_container"],
    )
    assert result.stdout.strip() == "false"


def test_keycloak_image_has_official_layout(lab: dict[str, Any]) -> None:
    image = lab["keycloak_image"]
    inspect = run(
        "docker",
        "image",
        "inspect",
        "--format",
        "{{json .Config.Entrypoint}} {{.Config.User}}",
        image,
    )
    assert inspect.returncode == 0, inspect.stderr
    assert inspect.stdout.strip() == '["/opt/keycloak/bin/kc.sh"] 1000'
    version = run("docker", "run", "--rm", image, "--version", timeout=120)
    assert f"Keycloak {lab['keycloak_version']}" in version.stdout


@pytest.mark.slow
def test_lab_rerun_changes_nothing(project_dir: Path) -> None:
    result = lab_playbook(project_dir)
    assert result.returncode == 0, result.stdout[-3000:]
    counts = recap_counts(result.stdout)
    assert counts["changed"] == 0, result.stdout[-3000:]
    assert counts["failed"] == 0


@pytest.mark.slow
def test_lab_names_unavailable_keycloak_version(project_dir: Path) -> None:
    result = lab_playbook(
        project_dir, "--tags", "lab_images", "-e", "lab_keycloak_version=26.0.99"
    )
    assert result.returncode != 0
    assert "Lab service keycloak-image failed" in result.stdout
    assert "26.0.99" in result.stdout


@pytest.mark.slow
def test_lab_names_unhealthy_service_and_log(
    project_dir: Path, lab: dict[str, Any]
) -> None:
    # moto keeps running on its port, so a health check aimed at a port where
    # nothing listens fails the way a moto that never came up would.
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        unused_port = probe.getsockname()[1]
    result = lab_playbook(
        project_dir,
        "--tags",
        "lab_moto",
        "-e",
        f"lab_moto_port={unused_port}",
        "-e",
        "lab_health_timeout=3",
    )
    assert result.returncode != 0
    assert "Lab service moto failed its health check" in result.stdout
    assert lab["moto"]["log"] in result.stdout
