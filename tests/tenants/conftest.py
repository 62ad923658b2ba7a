"""Fixtures for the tenant lifecycle tests: playbook runs and lab clients."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest

from tests.tenants.helpers import Runner, lab_connection, lab_secret


@pytest.fixture(scope="session")
def runner() -> Runner:
    return Runner()


@pytest.fixture
def operator_db() -> Iterator[psycopg.Connection[Any]]:
    """Return a connection as qa_operator, which reads every tenant's rows."""
    with lab_connection("qa_operator") as conn:
        yield conn


@pytest.fixture(scope="session")
def route53() -> Any:
    return boto3.client(
        "route53",
        endpoint_url="http://127.0.0.1:5000",
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",  # noqa: S106
    )


@pytest.fixture(scope="session")
def keycloak_admin() -> Any:
    from keycloak import KeycloakAdmin, KeycloakOpenIDConnection

    connection = KeycloakOpenIDConnection(
        server_url="http://127.0.0.1:8080",
        realm_name="master",
        client_id="qa-automation",
        client_secret_key=lab_secret("keycloak_automation_client"),
    )
    return KeycloakAdmin(connection=connection)
