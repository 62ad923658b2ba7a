#!/usr/bin/env python3
"""Build the platform database from a master connection, without Ansible.

Creates the roles qa_owner, qa_app, qa_provisioner, qa_operator and keycloak
and the databases qa_platform and keycloak where missing, then applies the
pending migrations of sql/ as qa_owner and checks the isolation rules.

The master connection string comes from --dsn or the DSN environment variable.
Passwords come only from the environment: PGPASSWORD or a passfile for the
master, and QA_OWNER_PASSWORD, QA_APP_PASSWORD, QA_PROVISIONER_PASSWORD,
QA_OPERATOR_PASSWORD and KEYCLOAK_DB_PASSWORD for the roles. A DSN given on
the command line must not contain a password, because process arguments are
visible to every user of the machine.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import psycopg.conninfo

PROJECT_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_ROOT / "collections"))

from ansible_collections.qa.platform.plugins.module_utils import (  # noqa: E402
    platform_db,
)

LOG = logging.getLogger("db_migrate")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Create the platform roles and databases and apply migrations."
    )
    parser.add_argument(
        "--dsn",
        help="master connection string (libpq keywords or URI) without a "
        "password; defaults to the DSN environment variable",
    )
    parser.add_argument(
        "--dsn-from-env",
        action="store_true",
        help="read the master connection string from DSN only (what make "
        "db-migrate DSN=... passes); an error when DSN is unset",
    )
    parser.add_argument(
        "--migrations-dir",
        default=str(PROJECT_ROOT / "sql"),
        help="folder of NNNN_name.sql migration files (default: the project's sql/)",
    )
    parser.add_argument(
        "--database",
        default=platform_db.APP_DATABASE,
        help="application database name (default: %(default)s)",
    )
    parser.add_argument(
        "--check",
        action="store_true",
        help="only report missing roles, databases and pending migrations",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the result as JSON on stdout"
    )
    return parser.parse_args(argv)


def master_params(args: argparse.Namespace) -> dict[str, str]:
    """Turn the DSN into libpq keywords, rejecting a password in argv."""
    if args.dsn and args.dsn_from_env:
        raise platform_db.PlatformDbError(
            "--dsn and --dsn-from-env exclude each other; pass one of them"
        )
    if args.dsn:
        dsn, source = args.dsn, "--dsn"
    else:
        dsn, source = os.environ.get("DSN", ""), "DSN"
    if not dsn:
        raise platform_db.PlatformDbError(
            "no master connection string: pass --dsn or set DSN, for example "
            "DSN='host=db.example port=5432 user=postgres dbname=postgres'"
        )
    try:
        params = psycopg.conninfo.conninfo_to_dict(dsn)
    except psycopg.ProgrammingError as error:
        raise platform_db.PlatformDbError(
            f"the {source} connection string is invalid: {error}"
        ) from error
    if source == "--dsn" and params.get("password"):
        raise platform_db.PlatformDbError(
            "the --dsn value contains a password, which would be visible in the "
            "process list; remove it and set PGPASSWORD or use a passfile"
        )
    return {key: str(value) for key, value in params.items()}


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="db-migrate: %(message)s")
    args = parse_args(argv)
    try:
        params = master_params(args)
        if args.check:
            result = platform_db.plan(params, args.migrations_dir, args.database)
        else:
            result = platform_db.build(
                params,
                args.migrations_dir,
                platform_db.passwords_from_env(),
                app_database=args.database,
                log=LOG.info,
            )
    except platform_db.PlatformDbError as error:
        LOG.error("%s", error)
        return 1
    for warning in result.warnings:
        LOG.warning("%s", warning)
    if args.json:
        print(json.dumps(result.as_dict(), indent=2))
    elif args.check:
        LOG.info(
            "would create roles: %s; databases: %s; apply: %s",
            ", ".join(result.roles_created) or "none",
            ", ".join(result.databases_created) or "none",
            ", ".join(result.migrations_pending) or "none",
        )
    else:
        LOG.info(
            "done: %d roles created, %d databases created, %d migrations applied%s",
            len(result.roles_created),
            len(result.databases_created),
            len(result.migrations_applied),
            "" if result.changed else " (nothing to change)",
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
