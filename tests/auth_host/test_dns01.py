"""DNS-01 through Route 53 on the lab's auth host, against moto and pebble.

The certbot role runs with DNS-01 on for a hosted zone the test creates in
moto. certbot's Route 53 client talks to moto through a recording proxy on
loopback, which reads moto's zone before and after every record change, so
the test reads the ``_acme-challenge`` TXT record before certbot's cleanup
deletes it. pebble validates through pebble-challtestsrv, which does not
serve moto's records: the first request fails validation. For the second,
the proxy copies each TXT value it finds in moto to pebble-challtestsrv, so
pebble accepting the challenge proves that the values in moto are the ones
the ACME server expects, and the wildcard certificate is issued. At the end
the role runs with the lab's settings (DNS-01 off) again.
"""

from __future__ import annotations

import http.client
import json
import os
import re
import secrets
import socket
import ssl
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest
import requests
from cryptography import x509

pytestmark = pytest.mark.lab

VENV_CERTBOT = "/opt/certbot/bin/certbot"
CREDENTIALS = "/etc/qa-platform/certbot-route53/credentials"
CERTBOT_LOG = "/var/log/letsencrypt/letsencrypt.log"
DROPIN = "/etc/systemd/system/certbot.service.d/qa-platform-dns-route53.conf"
# moto keeps one account per access key id; the lab's playbooks use this one.
ACCESS_KEY_ID = "testing"
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "host"}


def route53_client(endpoint: str) -> Any:
    """Return a Route 53 client for moto, with moto's dummy credentials."""
    os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
    return boto3.client(
        "route53",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=ACCESS_KEY_ID,
        aws_secret_access_key="testing",  # noqa: S106
    )


class Route53Recorder:
    """Proxy on loopback that forwards Route 53 calls to moto and reads the zone.

    Before and after each ChangeResourceRecordSets call it lists the TXT
    values of the challenge name in moto and keeps every value it saw. With
    ``mirror`` set it also copies the current values to pebble-challtestsrv.
    """

    def __init__(
        self, moto: str, zone_id: str, challenge_name: str, challtestsrv: str
    ) -> None:
        self.moto = urlsplit(moto)
        self.client = route53_client(moto)
        self.zone_id = zone_id
        self.challenge_name = challenge_name
        self.challtestsrv = challtestsrv
        self.mirror = False
        self.largest_txt_set: set[str] = set()
        self.seen_values: list[str] = []
        self.change_actions: list[str] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def txt_values(self) -> set[str]:
        """List the challenge name's TXT values in moto, without their quotes."""
        records = self.client.list_resource_record_sets(
            HostedZoneId=self.zone_id,
            StartRecordName=self.challenge_name,
            StartRecordType="TXT",
        )["ResourceRecordSets"]
        return {
            value["Value"].strip('"')
            for record in records
            if record["Name"] == self.challenge_name and record["Type"] == "TXT"
            for value in record["ResourceRecords"]
        }

    def observe(self) -> None:
        values = self.txt_values()
        with self.lock:
            if len(values) > len(self.largest_txt_set):
                self.largest_txt_set = set(values)
            new = [value for value in sorted(values) if value not in self.seen_values]
            self.seen_values.extend(new)
        if self.mirror:
            self.copy_to_challtestsrv(values)

    def copy_to_challtestsrv(self, values: set[str]) -> None:
        """Replace the challenge name's TXT values in pebble-challtestsrv.

        Old values go too, because pebble's DNS client fails on a response
        with many TXT values ("dns: overflowing header size").
        """
        response = requests.post(
            f"{self.challtestsrv}/clear-txt",
            json={"host": self.challenge_name},
            timeout=10,
        )
        response.raise_for_status()
        for value in sorted(values):
            response = requests.post(
                f"{self.challtestsrv}/set-txt",
                json={"host": self.challenge_name, "value": value},
                timeout=10,
            )
            response.raise_for_status()

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else None
        is_change = handler.command == "POST" and handler.path.rstrip("/").endswith(
            "/rrset"
        )
        if is_change:
            action = re.search(rb"<Action>(\w+)</Action>", body or b"")
            self.change_actions.append(action.group(1).decode() if action else "?")
            self.observe()

        headers = {
            name: value
            for name, value in handler.headers.items()
            if name.lower() not in HOP_BY_HOP
        }
        connection = http.client.HTTPConnection(
            self.moto.hostname or "127.0.0.1", self.moto.port, timeout=30
        )
        try:
            connection.request(handler.command, handler.path, body, headers)
            response = connection.getresponse()
            payload = response.read()
        finally:
            connection.close()
        if is_change:
            self.observe()

        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in HOP_BY_HOP | {"content-length"}:
                handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        recorder = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                recorder.forward(self)

            def do_POST(self) -> None:
                recorder.forward(self)

            def do_DELETE(self) -> None:
                recorder.forward(self)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler


@dataclass
class PlaybookRun:
    returncode: int
    output: str

    @property
    def changed(self) -> int:
        recap = re.search(r"^auth\s*:\s*ok=\d+\s+changed=(\d+)", self.output, re.M)
        assert recap is not None, self.output[-3000:]
        return int(recap.group(1))


@dataclass
class Dns01Lab:
    """What the DNS-01 runs left behind, read before the cleanup."""

    zone: str
    secret: str
    failed_run: PlaybookRun | None = None
    failed_txt: set[str] = field(default_factory=set)
    failed_actions: list[str] = field(default_factory=list)
    failed_log: str = ""
    txt_after_failed_run: set[str] = field(default_factory=set)
    issued_run: PlaybookRun | None = None
    repeated_run: PlaybookRun | None = None
    certificate: x509.Certificate | None = None
    fullchain: str = ""
    private_key: str = ""
    renewal_conf: str = ""
    service_exec_start: str = ""
    service_environment: str = ""
    credentials_mode: str = ""
    certbot_log: str = ""
    dry_run: subprocess.CompletedProcess[str] | None = None
    dry_run_new_values: list[str] = field(default_factory=list)
    off_run: PlaybookRun | None = None
    dropin_after_off: int = -1
    credentials_after_off: int = -1
    exec_start_after_off: str = ""


def run_certbot_role(
    project_dir: Path, extra_vars: dict[str, Any], tmp_path: Path
) -> PlaybookRun:
    """Run the certbot role on the lab's auth host with extra variables."""
    vars_file = tmp_path / f"vars-{uuid.uuid4().hex}.json"
    vars_file.write_text(json.dumps(extra_vars))
    vars_file.chmod(0o600)
    playbook = Path(sys.executable).parent / "ansible-playbook"
    result = subprocess.run(
        [
            str(playbook),
            "playbooks/auth_host.yml",
            "--limit",
            "auth",
            "--tags",
            "certbot",
            "--extra-vars",
            f"@{vars_file}",
        ],
        cwd=project_dir,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
        env={**os.environ, "AWS_EC2_METADATA_DISABLED": "true"},
    )
    vars_file.unlink()
    return PlaybookRun(result.returncode, result.stdout + result.stderr)


def systemd_property(auth_exec: Any, name: str) -> str:
    result = auth_exec("systemctl", "show", "certbot.service", f"--property={name}")
    return str(result.stdout.strip().removeprefix(f"{name}="))


def service_environment(auth_exec: Any) -> dict[str, str]:
    """Return the environment the renewal service runs certbot with."""
    env = {}
    for item in systemd_property(auth_exec, "Environment").split():
        name, _, value = item.partition("=")
        env[name] = value
    return env


def delete_zone(client: Any, zone_id: str) -> None:
    """Delete a hosted zone of moto together with its own records."""
    records = client.list_resource_record_sets(HostedZoneId=zone_id)
    for record in records["ResourceRecordSets"]:
        if record["Type"] in ("SOA", "NS"):
            continue
        client.change_resource_record_sets(
            HostedZoneId=zone_id,
            ChangeBatch={
                "Changes": [{"Action": "DELETE", "ResourceRecordSet": record}]
            },
        )
    client.delete_hosted_zone(Id=zone_id)


def file_exists(auth_exec: Any, path: str) -> int:
    return int(auth_exec("test", "-e", path).returncode == 0)


@pytest.fixture(scope="module")
def dns01(
    lab: dict[str, Any],
    project_dir: Path,
    auth_exec: Any,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Dns01Lab]:
    tmp_path = tmp_path_factory.mktemp("dns01")
    zone = f"dns01-{secrets.token_hex(4)}.test"
    challenge_name = f"_acme-challenge.{zone}."
    moto = lab["moto"]["endpoint"]
    assert urlsplit(moto).hostname == "127.0.0.1", moto
    client = route53_client(moto)
    zone_id = client.create_hosted_zone(Name=zone, CallerReference=uuid.uuid4().hex)[
        "HostedZone"
    ]["Id"]
    recorder = Route53Recorder(
        moto, zone_id, challenge_name, lab["challtestsrv"]["management"]
    )
    recorder.start()
    state = Dns01Lab(zone=zone, secret=f"dns01-secret-{secrets.token_hex(8)}")
    extra_vars = {
        "certbot_acme_server": lab["pebble"]["directory"],
        "certbot_dns_route53_domains": [zone, f"*.{zone}"],
        "certbot_dns_route53_access_key_id": ACCESS_KEY_ID,
        "certbot_dns_route53_secret_access_key": state.secret,
        "certbot_dns_route53_environment": {
            "AWS_ENDPOINT_URL": recorder.url,
            "AWS_ENDPOINT_URL_ROUTE_53": recorder.url,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_EC2_METADATA_DISABLED": "true",
        },
    }
    try:
        # pebble cannot see moto's records: validation fails, the role stops.
        state.failed_run = run_certbot_role(project_dir, extra_vars, tmp_path)
        state.failed_txt = set(recorder.largest_txt_set)
        state.failed_actions = list(recorder.change_actions)
        state.failed_log = auth_exec("cat", CERTBOT_LOG).stdout
        state.txt_after_failed_run = recorder.txt_values()

        recorder.mirror = True
        state.issued_run = run_certbot_role(project_dir, extra_vars, tmp_path)
        state.repeated_run = run_certbot_role(project_dir, extra_vars, tmp_path)
        live = f"/etc/letsencrypt/live/{zone}"
        state.fullchain = auth_exec("cat", f"{live}/fullchain.pem").stdout
        state.private_key = auth_exec("cat", f"{live}/privkey.pem").stdout
        if state.fullchain:
            state.certificate = x509.load_pem_x509_certificate(state.fullchain.encode())
        state.renewal_conf = auth_exec(
            "cat", f"/etc/letsencrypt/renewal/{zone}.conf"
        ).stdout
        state.service_exec_start = systemd_property(auth_exec, "ExecStart")
        state.service_environment = systemd_property(auth_exec, "Environment")
        state.credentials_mode = auth_exec(
            "stat", "--format=%a %U %G", CREDENTIALS
        ).stdout.strip()

        # certbot 5.8 sends --dry-run to Let's Encrypt's staging directory
        # unless --server names the ACME server again.
        seen_before = len(recorder.seen_values)
        state.dry_run = auth_exec(
            VENV_CERTBOT,
            "renew",
            "--dry-run",
            "--no-random-sleep-on-renew",
            "--cert-name",
            zone,
            "--server",
            lab["pebble"]["directory"],
            env=service_environment(auth_exec),
        )
        state.dry_run_new_values = recorder.seen_values[seen_before:]
        state.certbot_log = auth_exec("cat", CERTBOT_LOG).stdout
    finally:
        auth_exec("certbot", "delete", "--non-interactive", "--cert-name", zone)
        state.off_run = run_certbot_role(
            project_dir, {"certbot_acme_server": lab["pebble"]["directory"]}, tmp_path
        )
        state.dropin_after_off = file_exists(auth_exec, DROPIN)
        state.credentials_after_off = file_exists(auth_exec, CREDENTIALS)
        state.exec_start_after_off = systemd_property(auth_exec, "ExecStart")
        recorder.stop()
        requests.post(
            f"{lab['challtestsrv']['management']}/clear-txt",
            json={"host": challenge_name},
            timeout=10,
        )
        delete_zone(client, zone_id)
    yield state


def test_failed_validation_stops_role(dns01: Dns01Lab) -> None:
    run = dns01.failed_run
    assert run is not None
    assert run.returncode != 0
    assert f"certbot could not obtain {dns01.zone}" in run.output
    # pebble asked pebble-challtestsrv, which has none of moto's records.
    problem = re.search(
        rf"Identifier: {re.escape(dns01.zone)}\n\s*Type:\s*unauthorized\n"
        r"\s*Detail: No TXT records found for DNS challenge",
        dns01.failed_log,
    )
    assert problem is not None, dns01.failed_log[-3000:]


def test_txt_record_created_in_moto(dns01: Dns01Lab) -> None:
    # One value for the name itself and one for the wildcard, both at
    # _acme-challenge.<zone>.
    assert dns01.failed_run is not None
    assert len(dns01.failed_txt) == 2, dns01.failed_run.output[-3000:]
    for value in dns01.failed_txt:
        assert re.fullmatch(r"[A-Za-z0-9_-]{43}", value), value
    assert "UPSERT" in dns01.failed_actions


def test_cleanup_removes_txt_record(dns01: Dns01Lab) -> None:
    assert dns01.txt_after_failed_run == set()


def test_moto_values_pass_validation(dns01: Dns01Lab) -> None:
    run = dns01.issued_run
    assert run is not None
    assert run.returncode == 0, run.output[-3000:]
    assert run.changed > 0


def test_issued_certificate_has_both_names(dns01: Dns01Lab) -> None:
    assert dns01.certificate is not None
    names = dns01.certificate.extensions.get_extension_for_class(
        x509.SubjectAlternativeName
    ).value.get_values_for_type(x509.DNSName)
    assert sorted(names) == sorted([dns01.zone, f"*.{dns01.zone}"])


def test_second_run_changes_nothing(dns01: Dns01Lab) -> None:
    run = dns01.repeated_run
    assert run is not None
    assert run.returncode == 0, run.output[-3000:]
    assert run.changed == 0, run.output[-3000:]


def test_renewal_uses_dns01(dns01: Dns01Lab) -> None:
    assert "authenticator = dns-route53" in dns01.renewal_conf.splitlines()
    assert VENV_CERTBOT in dns01.service_exec_start
    assert dns01.dry_run is not None
    assert dns01.dry_run.returncode == 0, dns01.dry_run.stderr[-2000:]
    output = dns01.dry_run.stdout + dns01.dry_run.stderr
    assert "simulated renewals succeeded" in output
    # The dry run put new challenge values into moto's zone. pebble may reuse
    # a valid authorization, so one new value is enough.
    assert len(dns01.dry_run_new_values) >= 1


def test_credentials_readable_by_root_only(dns01: Dns01Lab) -> None:
    assert dns01.credentials_mode == "600 root root"
    assert f"AWS_SHARED_CREDENTIALS_FILE={CREDENTIALS}" in dns01.service_environment


def test_secret_not_in_output_or_logs(dns01: Dns01Lab) -> None:
    assert dns01.failed_run is not None
    assert dns01.issued_run is not None
    assert dns01.secret not in dns01.failed_run.output
    assert dns01.secret not in dns01.issued_run.output
    assert dns01.secret not in dns01.service_environment
    assert dns01.failed_log
    assert dns01.secret not in dns01.failed_log
    assert dns01.certbot_log
    assert dns01.secret not in dns01.certbot_log


@pytest.mark.parametrize(
    ("label", "matches"),
    [("", True), ("acme.", True), ("x.acme.", False)],
)
def test_wildcard_covers_one_label(
    dns01: Dns01Lab,
    pebble_root: Path,
    tmp_path: Path,
    label: str,
    matches: bool,
) -> None:
    """Check names against the issued certificate in a real TLS handshake."""
    assert dns01.private_key
    (tmp_path / "fullchain.pem").write_text(dns01.fullchain)
    (tmp_path / "privkey.pem").write_text(dns01.private_key)
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(tmp_path / "fullchain.pem", tmp_path / "privkey.pem")
    client_context = ssl.create_default_context(cafile=str(pebble_root))
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]

        def serve() -> None:
            connection, _ = listener.accept()
            try:
                with server_context.wrap_socket(connection, server_side=True):
                    pass
            except (ssl.SSLError, OSError):
                connection.close()

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        host = f"{label}{dns01.zone}"
        try:
            with (
                socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
                client_context.wrap_socket(raw, server_hostname=host),
            ):
                handshake_passed = True
        except ssl.SSLCertVerificationError:
            handshake_passed = False
        thread.join(timeout=10)
    assert handshake_passed is matches, host


def test_dns01_off_removes_settings(dns01: Dns01Lab) -> None:
    run = dns01.off_run
    assert run is not None
    assert run.returncode == 0, run.output[-3000:]
    assert dns01.dropin_after_off == 0
    assert dns01.credentials_after_off == 0
    assert "/usr/bin/certbot" in dns01.exec_start_after_off
