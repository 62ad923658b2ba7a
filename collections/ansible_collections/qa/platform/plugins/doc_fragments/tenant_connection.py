"""Documentation of the options every tenant lifecycle module shares."""

from __future__ import annotations


class ModuleDocFragment:
    """The connection and folder options of qa.platform's tenant modules."""

    DOCUMENTATION = r"""
options:
  provisioner_db:
    description:
      - Connection to the platform database as qa_provisioner (host, port, dbname, user, password, sslmode,
        sslrootcert).
    type: dict
    required: true
  app_db:
    description: Connection as qa_app, for the admin's profile and the isolation check.
    type: dict
    required: true
  keycloak:
    description: Keycloak base URL, the automation client's id and secret, and verify (true, false or a CA path).
    type: dict
    required: true
  dns:
    description: Domain, hosted zone id, Route 53 endpoint and region for tenant records.
    type: dict
    required: true
  credentials_dir:
    description: Folder of the per-tenant credentials files (mode 0700, files 0600).
    type: path
    default: /var/lib/qa-platform/credentials
  journal_dir:
    description: Folder of the per-tenant journal files.
    type: path
    default: /var/lib/qa-platform/journal
  dumps_dir:
    description: Folder the dumps of removed tenants go to.
    type: path
    default: /var/lib/qa-platform/dumps
  smtp:
    description: SMTP server of new realms (host, port, from, user, password, starttls).
    type: dict
  fail_after_step:
    description: For tests only. Fail on purpose after this onboarding step, to exercise the rollback.
    type: str
    default: ""
  pause_before_undo:
    description: For tests only. Seconds to wait before undoing, so that a test can stop a service.
    type: int
    default: 0
"""
