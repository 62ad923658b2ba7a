#!/usr/bin/env python3
"""Create an inventory's Ansible Vault file with a new random value per secret.

The vault password comes from a file (``--vault-password-file``), and the
secrets go to ansible-vault on standard input, so that no secret appears in a
process argument or on the terminal. An existing vault is never overwritten.
"""

from __future__ import annotations

import argparse
import secrets
import string
import subprocess
import sys
from pathlib import Path

# The names group_vars/all/secrets.yml maps to the roles' variables.
VAULT_VARIABLES = (
    "vault_platform_db_master_password",
    "vault_platform_db_owner_password",
    "vault_platform_db_app_password",
    "vault_platform_db_provisioner_password",
    "vault_platform_db_operator_password",
    "vault_platform_keycloak_db_password",
    "vault_platform_keycloak_admin_password",
    "vault_platform_keycloak_automation_client_secret",
)
# RDS rejects '/', '@', '"' and spaces in the master password, so every
# secret sticks to letters and digits and gets its strength from length.
ALPHABET = string.ascii_letters + string.digits
LENGTH = 40


def generate_vault_text() -> str:
    """Return the vault's plaintext: one new random value per variable."""
    lines = ["---"]
    for name in VAULT_VARIABLES:
        value = "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))
        lines.append(f'{name}: "{value}"')
    return "\n".join(lines) + "\n"


def main() -> int:
    """Write the encrypted vault file and return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--inventory",
        type=Path,
        required=True,
        help="inventory folder whose group_vars/all/vault.yml is created",
    )
    parser.add_argument(
        "--vault-password-file",
        type=Path,
        required=True,
        help="file that contains the vault password (mode 0600 or stricter)",
    )
    args = parser.parse_args()

    vault = args.inventory / "group_vars" / "all" / "vault.yml"
    if vault.exists():
        print(
            f"{vault} already exists; edit it with ansible-vault edit", file=sys.stderr
        )
        return 1
    if not args.vault_password_file.is_file():
        print(
            f"vault password file {args.vault_password_file} not found; create it "
            "with a long random password and mode 0600",
            file=sys.stderr,
        )
        return 1
    if args.vault_password_file.stat().st_mode & 0o077:
        print(
            f"vault password file {args.vault_password_file} is readable by group or "
            "others; run chmod 600 on it",
            file=sys.stderr,
        )
        return 1

    vault.parent.mkdir(parents=True, exist_ok=True)
    result = subprocess.run(
        [
            "ansible-vault",
            "encrypt",
            "--vault-password-file",
            str(args.vault_password_file),
            "--output",
            str(vault),
            "-",
        ],
        input=generate_vault_text(),
        text=True,
        capture_output=True,
        check=False,
    )
    if result.returncode != 0:
        print(f"ansible-vault failed: {result.stderr.strip()}", file=sys.stderr)
        return result.returncode
    vault.chmod(0o600)
    print(f"created {vault} with {len(VAULT_VARIABLES)} secrets")
    return 0


if __name__ == "__main__":
    sys.exit(main())
