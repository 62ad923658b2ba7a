"""A private moto server and Lightsail double for the AWS tests.

The servers listen on free loopback ports and are stopped by their PIDs at
the end of the session, so the lab's own moto is never touched.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator

import pytest
from aws_helpers import (
    AWS_ENV,
    BIN_DIR,
    PROJECT_DIR,
    AwsServers,
    free_port,
    stop,
    wait_for,
)


@pytest.fixture(scope="session")
def aws_servers(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AwsServers]:
    workdir = tmp_path_factory.mktemp("aws-servers")
    moto_port, double_port = free_port(), free_port()
    recording = workdir / "moto-recording.jsonl"
    env = dict(os.environ, **AWS_ENV, MOTO_RECORDER_FILEPATH=str(recording))
    moto_log = workdir / "moto.log"
    double_log = workdir / "lightsail-double.log"
    with moto_log.open("wb") as moto_out, double_log.open("wb") as double_out:
        moto = subprocess.Popen(
            [str(BIN_DIR / "moto_server"), "-H", "127.0.0.1", "-p", str(moto_port)],
            stdout=moto_out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
        double = subprocess.Popen(
            [
                sys.executable,
                str(PROJECT_DIR / "scripts" / "lightsail_double.py"),
                "--port",
                str(double_port),
                "--pending-reads",
                "1",
            ],
            stdout=double_out,
            stderr=subprocess.STDOUT,
            env=env,
        )
    try:
        servers = AwsServers(
            moto=f"http://127.0.0.1:{moto_port}",
            lightsail=f"http://127.0.0.1:{double_port}",
            recording=recording,
        )
        wait_for(f"{servers.moto}/moto-api/data.json", moto, moto_log)
        wait_for(f"{servers.lightsail}/lightsail-double/health", double, double_log)
        yield servers
    finally:
        stop(double)
        stop(moto)
