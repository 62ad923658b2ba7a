"""Bad settings stop the auth host playbook early, naming the variable.

Each case runs only the validation phase in check mode, against the lab's
auth host, so nothing changes.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.lab

LETSENCRYPT_PRODUCTION = "https://acme-v02.api.letsencrypt.org/directory"
TAGS = "keycloak_validate,nginx_validate,certbot_validate"


def run_validation(project_dir: Path, extra_vars: dict[str, object]) -> tuple[int, str]:
    """Run the validation phases of playbooks/auth_host.yml with overrides."""
    env = {**os.environ, "ANSIBLE_FORCE_COLOR": "false", "ANSIBLE_NOCOLOR": "true"}
    result = subprocess.run(
        [
            "ansible-playbook",
            "playbooks/auth_host.yml",
            "--check",
            "--tags",
            TAGS,
            "--extra-vars",
            json.dumps(extra_vars),
        ],
        cwd=project_dir,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr


def test_valid_settings_pass(project_dir: Path) -> None:
    returncode, output = run_validation(project_dir, {})
    assert returncode == 0, output[-3000:]


@pytest.mark.parametrize(
    ("extra_vars", "named"),
    [
        pytest.param(
            {"keycloak_hostname": "auth.platform.test"},
            "keycloak_hostname",
            id="hostname-without-scheme",
        ),
        pytest.param(
            {"keycloak_hostname": "http://auth.platform.test"},
            "keycloak_hostname",
            id="hostname-plain-http",
        ),
        pytest.param(
            {"keycloak_extra_env": {"KC_PROXY": "edge"}},
            "KC_PROXY",
            id="removed-kc-proxy",
        ),
        pytest.param(
            {"keycloak_extra_env": {"KC_HOSTNAME_STRICT_HTTPS": "true"}},
            "KC_HOSTNAME_STRICT_HTTPS",
            id="removed-hostname-v1",
        ),
        pytest.param(
            {
                "platform_keycloak_admin_password": (
                    "{{ vault_platform_keycloak_admin_password }}"
                )
            },
            "keycloak_admin_password",
            id="missing-vault-secret",
        ),
        pytest.param(
            {"platform_keycloak_automation_client_secret": ""},
            "keycloak_automation_client_secret",
            id="empty-secret",
        ),
        pytest.param(
            {"certbot_acme_server": LETSENCRYPT_PRODUCTION, "certbot_staging": True},
            "certbot_staging",
            id="production-acme-with-staging-flag",
        ),
        pytest.param(
            {"nginx_server_name": ""},
            "nginx_server_name",
            id="empty-server-name",
        ),
        pytest.param(
            {"certbot_email": ""},
            "certbot_email",
            id="missing-acme-email",
        ),
    ],
)
def test_bad_setting_fails_early(
    project_dir: Path, extra_vars: dict[str, object], named: str
) -> None:
    returncode, output = run_validation(project_dir, extra_vars)
    assert returncode != 0, output[-3000:]
    assert named in output, output[-3000:]
