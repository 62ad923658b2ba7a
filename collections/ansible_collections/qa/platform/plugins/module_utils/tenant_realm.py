"""The one template every tenant realm is created from.

Onboarding sends the whole representation in a single POST /admin/realms, so
Keycloak creates realm, roles, client and first admin in one transaction.
A realm import honours the users' ``realmRoles`` (a plain user-creation
request ignores them), but onboarding still reads the mapping back.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

TENANT_ROLES = ("tenant_admin", "manager", "agent", "viewer")
ROLE_DESCRIPTIONS = {
    "super_admin": "Super administrator: manages every tenant",
    "tenant_admin": "Tenant administrator",
    "manager": "Team manager",
    "agent": "Call center agent",
    "viewer": "Read-only access",
}
DEFAULT_TENANT_ID = "default"
DEFAULT_CLIENT_ID = "qa-platform-backend"
# Every role but super_admin; new users get viewer through the realm's
# default-roles composite, the replacement of the deprecated defaultRoles.
DEFAULT_ROLE = "viewer"
LOGIN_POLICY = (
    "length(12) and upperCase(1) and lowerCase(1) and digits(1) "
    "and specialChars(1) and notUsername(undefined) and passwordHistory(3)"
)
EVENT_LISTENERS = ["jboss-logging"]
# Login and admin events are kept this many seconds (30 days).
EVENTS_EXPIRATION = 30 * 24 * 3600


def client_id_for(tenant_id: str) -> str:
    """Return the backend client's id; the default tenant keeps the original."""
    if tenant_id == DEFAULT_TENANT_ID:
        return DEFAULT_CLIENT_ID
    return f"{tenant_id}-backend"


def realm_roles_for(tenant_id: str) -> list[str]:
    """Return the realm roles a tenant's realm has."""
    roles = list(TENANT_ROLES)
    if tenant_id == DEFAULT_TENANT_ID:
        roles.insert(0, "super_admin")
    return roles


def app_host(tenant: Mapping[str, Any], domain: str) -> str:
    """Return the application's host name for a tenant."""
    subdomain = tenant.get("subdomain")
    return f"{subdomain}.qa.{domain}" if subdomain else f"qa.{domain}"


def admin_username(tenant: Mapping[str, Any]) -> str:
    """Return the first admin's user name: the e-mail address, as the realm uses."""
    return str(tenant["admin_email"]).lower()


def build_realm(
    tenant: Mapping[str, Any],
    *,
    domain: str,
    client_secret: str,
    admin_password: str,
    smtp: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Build the full realm representation of a validated tenant.

    ``admin_password`` is set as a temporary credential, so Keycloak requires
    the admin to change it at the first login. No ``frontendUrl`` is set: the
    issuer stays on the auth host that Keycloak's hostname names.
    """
    tenant_id = str(tenant["tenant_id"])
    host = app_host(tenant, domain)
    roles = realm_roles_for(tenant_id)
    default_roles = {
        "name": f"default-roles-{tenant['realm_name']}",
        "description": "Roles every new user of the realm gets",
        "composite": True,
        "composites": {"realm": [DEFAULT_ROLE, "offline_access", "uma_authorization"]},
    }
    realm: dict[str, Any] = {
        "realm": tenant["realm_name"],
        "enabled": True,
        "displayName": tenant["display_name"],
        "registrationAllowed": bool(tenant.get("allow_registration", False)),
        "registrationEmailAsUsername": True,
        "rememberMe": True,
        "verifyEmail": True,
        "loginWithEmailAllowed": True,
        "duplicateEmailsAllowed": False,
        "resetPasswordAllowed": True,
        "editUsernameAllowed": False,
        "sslRequired": "external",
        "bruteForceProtected": True,
        "permanentLockout": False,
        "failureFactor": 5,
        "waitIncrementSeconds": 60,
        "maxFailureWaitSeconds": 900,
        "maxDeltaTimeSeconds": 43200,
        "passwordPolicy": LOGIN_POLICY,
        "eventsEnabled": True,
        "eventsExpiration": EVENTS_EXPIRATION,
        "eventsListeners": EVENT_LISTENERS,
        "adminEventsEnabled": True,
        "adminEventsDetailsEnabled": True,
        "attributes": {"tenantId": tenant_id},
        "roles": {
            "realm": [
                {"name": name, "description": ROLE_DESCRIPTIONS[name]} for name in roles
            ]
            + [
                # Keycloak adds these two only to realms whose representation
                # lists no roles, and the default-roles composite needs them.
                {"name": "offline_access", "description": "Offline access"},
                {"name": "uma_authorization", "description": "UMA authorization"},
                default_roles,
            ],
        },
        "defaultRole": {"name": default_roles["name"], "composite": True},
        "clients": [
            {
                "clientId": client_id_for(tenant_id),
                "name": f"{tenant['display_name']} backend",
                "description": "Backend API of the QA platform for this tenant",
                "enabled": True,
                "protocol": "openid-connect",
                "publicClient": False,
                "clientAuthenticatorType": "client-secret",
                "secret": client_secret,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": False,
                "serviceAccountsEnabled": True,
                "rootUrl": f"https://{host}",
                "baseUrl": f"https://{host}",
                "redirectUris": [f"https://{host}/*"],
                "webOrigins": [f"https://{host}"],
                "fullScopeAllowed": False,
                "attributes": {"post.logout.redirect.uris": f"https://{host}/*"},
            }
        ],
        "users": [
            {
                "username": admin_username(tenant),
                "email": admin_username(tenant),
                "emailVerified": False,
                "enabled": True,
                "firstName": tenant.get("admin_first_name") or "",
                "lastName": tenant.get("admin_last_name") or "",
                "credentials": [
                    {"type": "password", "value": admin_password, "temporary": True}
                ],
                "requiredActions": ["UPDATE_PASSWORD", "VERIFY_EMAIL"],
                "realmRoles": ["tenant_admin", f"default-roles-{tenant['realm_name']}"],
            }
        ],
    }
    if smtp and smtp.get("host"):
        realm["smtpServer"] = {
            "host": smtp["host"],
            "port": str(smtp.get("port", 587)),
            "from": smtp.get("from") or f"noreply@{domain}",
            "fromDisplayName": tenant["display_name"],
            "starttls": "true" if smtp.get("starttls", True) else "false",
            "auth": "true" if smtp.get("user") else "false",
            **({"user": smtp["user"]} if smtp.get("user") else {}),
            **({"password": smtp["password"]} if smtp.get("password") else {}),
        }
    return realm
