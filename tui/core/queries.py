"""Every SQL statement the TUI runs, as the ``qa_operator`` role.

``qa_operator`` reads tenants, organizations, the usage rollups through
``tenant_usage()`` and the provisioning journal; it cannot read user rows.
"""

from __future__ import annotations

# One row per tenant with this month's usage. tenant_usage() reads rollup
# tables, so this stays one small join at any number of calls.
TENANT_LIST = """
SELECT t.tenant_id, t.display_name, t.status, t.tier, t.realm_name,
       t.subdomain, coalesce(u.user_count, 0) AS user_count, t.max_users,
       coalesce(u.calls_this_month, 0) AS calls_this_month,
       t.max_calls_per_month
FROM tenants t
LEFT JOIN tenant_usage() u ON u.tenant_id = t.tenant_id
ORDER BY t.tenant_id
"""

# The same list for a schema without the usage function: usage unknown.
TENANT_LIST_WITHOUT_USAGE = """
SELECT t.tenant_id, t.display_name, t.status, t.tier, t.realm_name,
       t.subdomain, NULL::bigint AS user_count, t.max_users,
       NULL::bigint AS calls_this_month, t.max_calls_per_month
FROM tenants t
ORDER BY t.tenant_id
"""

TENANT_DETAIL = """
SELECT t.tenant_id, t.display_name, t.status, t.tier, t.realm_name,
       t.subdomain, t.max_users, t.max_calls_per_month, t.max_storage_gb,
       t.features, t.settings, t.created_at, t.activated_at, t.suspended_at,
       o.name AS company_name, o.industry, o.size AS company_size
FROM tenants t
LEFT JOIN organizations o ON o.tenant_id = t.tenant_id
WHERE t.tenant_id = %(tenant_id)s
ORDER BY o.created_at
LIMIT 1
"""

TENANT_USAGE = """
SELECT user_count, max_users, users_pct, calls_this_month,
       max_calls_per_month, calls_pct, storage_bytes, max_storage_gb,
       storage_pct, api_calls_this_month
FROM tenant_usage()
WHERE tenant_id = %(tenant_id)s
"""

# Steps of the tenant's lifecycle operations, newest first.
TENANT_OPERATIONS = """
SELECT operation, step, state, started_at, finished_at
FROM provisioning_journal
WHERE tenant_id = %(tenant_id)s
ORDER BY started_at DESC, step
LIMIT %(limit)s
"""
