#!/usr/bin/python
"""Ansible module qa.platform.platform_db, which builds the platform database."""

from __future__ import annotations

DOCUMENTATION = r"""
---
module: platform_db
short_description: Create the platform roles and databases and apply migrations
version_added: "0.1.0"
description:
  - Creates the roles C(qa_owner), C(qa_app), C(qa_provisioner), C(qa_operator)
    and C(keycloak) and the databases C(qa_platform) and C(keycloak) where
    missing, then applies the pending SQL migrations of O(migrations_dir) or O(migrations) as
    C(qa_owner), each in one transaction, recorded in C(schema_migrations).
  - Afterwards it checks the isolation rules (no client role owns objects,
    bypasses row-level security or has TRUNCATE, TRIGGER or REFERENCES, and
    every table has forced row-level security) and runs a self-test as
    C(qa_app) with two probe tenants in a transaction that is rolled back.
  - Works with a superuser or with a master role that has CREATEROLE and
    CREATEDB only, such as the Amazon RDS master user.
  - A second run reports no change.
  - This is a custom module because the same steps must run without Ansible
    through C(make db-migrate), so they live once in the module_utils
    C(platform_db) that both use. Doing them with
    M(community.postgresql.postgresql_user), M(community.postgresql.postgresql_db)
    and M(community.postgresql.postgresql_privs) would keep a second copy of
    the role attributes and grants that could drift from the first, and
    M(community.postgresql.postgresql_script) reports a change on every run,
    so it cannot apply migrations idempotently.
options:
  login_host:
    description:
      - Host name or IP address of the server, or a Unix socket folder.
    type: str
    default: 127.0.0.1
  login_port:
    description: TCP port of the server.
    type: int
    default: 5432
  login_user:
    description:
      - Master role, a superuser or a role with CREATEROLE and CREATEDB.
    type: str
    required: true
  login_password:
    description: Password of O(login_user).
    type: str
    default: ""
  login_db:
    description: Maintenance database the master connects to first.
    type: str
    default: postgres
  ssl_mode:
    description: libpq C(sslmode) of every connection.
    type: str
    default: prefer
    choices: [disable, allow, prefer, require, verify-ca, verify-full]
  ca_cert:
    description:
      - File with the certificate authorities for O(ssl_mode) C(verify-ca) or
        C(verify-full), such as the RDS certificate bundle.
    type: path
  database:
    description: Name of the application database.
    type: str
    default: qa_platform
  migrations_dir:
    description:
      - Folder on the managed host with the C(NNNN_name.sql) migration files.
      - Exactly one of O(migrations_dir) and O(migrations) is required.
    type: path
  migrations:
    description:
      - The migrations themselves, as a mapping of file name (C(NNNN_name.sql))
        to SQL text, so that nothing has to be copied to the managed host
        first.
      - The checksum covers the text as given, so pass each file's content
        unchanged (for example C(lookup('ansible.builtin.file', path, rstrip=false))).
    type: dict
  role_passwords:
    description:
      - Password per role, keyed by role name (C(qa_owner), C(qa_app),
        C(qa_provisioner), C(qa_operator), C(keycloak)).
      - A role without a password is created without one, which is only
        accepted when the server is local (a socket or a loopback address).
      - An existing role gets the password when a login with it fails. If the
        server lets the role in without asking for a password, it is left
        alone and the module warns.
    type: dict
    default: {}
attributes:
  check_mode:
    support: partial
    details:
      - Reports missing roles, missing databases and pending migrations.
        Passwords and privileges are not compared in check mode.
  diff_mode:
    support: none
requirements:
  - psycopg 3 (Debian and Ubuntu package C(python3-psycopg))
author:
  - qa-platform-ops maintainers
"""

EXAMPLES = r"""
- name: Build the platform database on RDS
  qa.platform.platform_db:
    login_host: "{{ rds_endpoint }}"
    login_user: postgres
    login_password: "{{ vault_rds_master_password }}"
    ssl_mode: verify-full
    ca_cert: /etc/ssl/certs/rds-global-bundle.pem
    migrations_dir: /var/lib/qa-platform/sql
    role_passwords:
      qa_owner: "{{ vault_qa_owner_password }}"
      qa_app: "{{ vault_qa_app_password }}"

- name: Apply the controller's migration files without copying them first
  qa.platform.platform_db:
    login_host: "{{ rds_endpoint }}"
    login_user: postgres
    login_password: "{{ vault_rds_master_password }}"
    migrations:
      0001_core_schema.sql: "{{ lookup('ansible.builtin.file', 'sql/0001_core_schema.sql', rstrip=false) }}"
"""

RETURN = r"""
roles_created:
  description: Roles created by this run.
  returned: always
  type: list
  elements: str
roles_altered:
  description: Roles whose attributes were reset (for example NOBYPASSRLS).
  returned: always
  type: list
  elements: str
passwords_set:
  description: Roles whose password was set by this run.
  returned: always
  type: list
  elements: str
databases_created:
  description: Databases created by this run.
  returned: always
  type: list
  elements: str
privileges_changed:
  description: Database owners, privileges and memberships changed by this run.
  returned: always
  type: list
  elements: str
migrations_applied:
  description:
    - Migration files applied by this run, in order. In check mode, the files
      that would be applied.
  returned: always
  type: list
  elements: str
"""

# Ansible's module layout puts the documentation strings above the imports.
import traceback
from typing import Any

from ansible.module_utils.basic import (
    AnsibleModule,
    missing_required_lib,
)

try:
    from ansible_collections.qa.platform.plugins.module_utils import platform_db
except ImportError:
    PSYCOPG_IMPORT_ERROR: str | None = traceback.format_exc()
else:
    PSYCOPG_IMPORT_ERROR = None


def connection_params(params: dict[str, Any]) -> dict[str, Any]:
    """Map module options to libpq keywords."""
    return {
        "host": params["login_host"],
        "port": params["login_port"],
        "user": params["login_user"],
        "password": params["login_password"],
        "dbname": params["login_db"],
        "sslmode": params["ssl_mode"],
        "sslrootcert": params["ca_cert"],
    }


def main() -> None:
    module = AnsibleModule(
        argument_spec={
            "login_host": {"type": "str", "default": "127.0.0.1"},
            "login_port": {"type": "int", "default": 5432},
            "login_user": {"type": "str", "required": True},
            "login_password": {"type": "str", "default": "", "no_log": True},
            "login_db": {"type": "str", "default": "postgres"},
            "ssl_mode": {
                "type": "str",
                "default": "prefer",
                "choices": [
                    "disable",
                    "allow",
                    "prefer",
                    "require",
                    "verify-ca",
                    "verify-full",
                ],
            },
            "ca_cert": {"type": "path"},
            "database": {"type": "str", "default": "qa_platform"},
            "migrations_dir": {"type": "path"},
            "migrations": {"type": "dict"},
            "role_passwords": {"type": "dict", "default": {}, "no_log": True},
        },
        mutually_exclusive=[("migrations_dir", "migrations")],
        required_one_of=[("migrations_dir", "migrations")],
        supports_check_mode=True,
    )
    if PSYCOPG_IMPORT_ERROR is not None:
        module.fail_json(
            msg=missing_required_lib("psycopg (python3-psycopg)"),
            exception=PSYCOPG_IMPORT_ERROR,
        )

    unknown = sorted(set(module.params["role_passwords"]) - set(platform_db.ALL_ROLES))
    if unknown:
        module.fail_json(
            msg=f"role_passwords has unknown roles {', '.join(unknown)}; allowed: "
            f"{', '.join(platform_db.ALL_ROLES)}"
        )
    passwords = {
        role: module.params["role_passwords"].get(role) or None
        for role in platform_db.ALL_ROLES
    }
    params = connection_params(module.params)
    migrations = module.params["migrations"]
    if migrations is None:
        migrations = module.params["migrations_dir"]
    messages: list[str] = []
    try:
        if module.check_mode:
            result = platform_db.plan(params, migrations, module.params["database"])
        else:
            result = platform_db.build(
                params,
                migrations,
                passwords,
                app_database=module.params["database"],
                log=messages.append,
            )
    except platform_db.PlatformDbError as error:
        module.fail_json(msg=str(error), log=messages)
    for warning in result.warnings:
        module.warn(warning)
    output = result.as_dict()
    output.pop("warnings")
    output.pop("migrations_pending")
    module.exit_json(log=messages, **output)


if __name__ == "__main__":
    main()
