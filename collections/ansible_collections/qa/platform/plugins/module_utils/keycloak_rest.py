"""A small client for Keycloak's admin REST API.

Ansible ships this file to the managed host (the auth host, where Keycloak
listens on loopback), so it imports only the standard library. It signs in to
the master realm and, when a call returns 401 because the token expired,
signs in again and repeats the call once.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


class KeycloakError(Exception):
    """A Keycloak call failed; ``status`` is the HTTP status, 0 without one."""

    def __init__(self, message: str, status: int = 0) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Credentials:
    """How to sign in to the master realm.

    With ``username`` empty, ``client_id`` and ``secret`` sign in with the
    client credentials grant; otherwise ``username`` and ``secret`` sign in
    with the password grant through ``client_id`` (normally ``admin-cli``).
    """

    client_id: str
    secret: str
    username: str = ""

    def describe(self) -> str:
        """Name the account without its secret, for messages."""
        if self.username:
            return f"user {self.username}"
        return f"client {self.client_id}"

    def form(self) -> dict[str, str]:
        """Return the token request's form fields."""
        if self.username:
            return {
                "grant_type": "password",
                "client_id": self.client_id,
                "username": self.username,
                "password": self.secret,
            }
        return {
            "grant_type": "client_credentials",
            "client_id": self.client_id,
            "client_secret": self.secret,
        }


def request_token(
    base_url: str, credentials: Credentials, realm: str = "master", timeout: float = 30
) -> str:
    """Sign in and return an access token, or raise KeycloakError."""
    url = f"{base_url}/realms/{urllib.parse.quote(realm, safe='')}"
    url += "/protocol/openid-connect/token"
    body = urllib.parse.urlencode(credentials.form()).encode()
    request = urllib.request.Request(url, data=body, method="POST")  # noqa: S310
    request.add_header("Content-Type", "application/x-www-form-urlencoded")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            payload: dict[str, Any] = json.load(response)
    except urllib.error.HTTPError as error:
        raise KeycloakError(
            f"sign-in as {credentials.describe()} to realm {realm} failed "
            f"with HTTP {error.code}",
            error.code,
        ) from error
    except (urllib.error.URLError, OSError) as error:
        raise KeycloakError(
            f"Keycloak at {base_url} is unreachable: {error}"
        ) from error
    token = payload.get("access_token")
    if not isinstance(token, str):
        raise KeycloakError(
            f"the token response for {credentials.describe()} has no token"
        )
    return token


class KeycloakAdminClient:
    """Admin REST calls as one master-realm account, renewing its token on 401."""

    def __init__(
        self, base_url: str, credentials: Credentials, timeout: float = 30
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.credentials = credentials
        self.timeout = timeout
        self._token = request_token(self.base_url, credentials, timeout=timeout)

    def call(
        self,
        method: str,
        path: str,
        body: Any = None,
        query: Mapping[str, str] | None = None,
        expect: tuple[int, ...] = (200, 201, 204),
    ) -> Any:
        """Call ``/admin/realms`` + ``path`` and return the decoded JSON, or None.

        Raise KeycloakError when the status is not in ``expect``.
        """
        try:
            return self._send(method, path, body, query, expect)
        except KeycloakError as error:
            if error.status != 401:
                raise
        # The token expired during a long run: sign in again, then retry once.
        self._token = request_token(
            self.base_url, self.credentials, timeout=self.timeout
        )
        return self._send(method, path, body, query, expect)

    def _send(
        self,
        method: str,
        path: str,
        body: Any,
        query: Mapping[str, str] | None,
        expect: tuple[int, ...],
    ) -> Any:
        url = f"{self.base_url}/admin/realms{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(url, data=data, method=method)  # noqa: S310
        request.add_header("Authorization", f"Bearer {self._token}")
        request.add_header("Accept", "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                status = response.status
                raw = response.read()
        except urllib.error.HTTPError as error:
            status = error.code
            raw = error.read()
        except (urllib.error.URLError, OSError) as error:
            raise KeycloakError(f"{method} {url} failed: {error}") from error
        if status not in expect:
            detail = raw.decode(errors="replace")[:300]
            raise KeycloakError(
                f"{method} {url} returned HTTP {status}: {detail}", status
            )
        if not raw:
            return None
        return json.loads(raw)
