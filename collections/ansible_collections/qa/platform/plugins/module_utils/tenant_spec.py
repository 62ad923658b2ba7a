"""Tenant file rules shared by the qa.platform modules and the admin TUI.

A tenant file is a mapping with the fields in ``FIELDS`` or a batch
``{"tenants": [...]}`` of such mappings. The validators collect every problem
before raising, so one run shows the operator all there is to fix.

Ansible ships this file to the managed host, so it imports only the standard
library.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Tenant = dict[str, Any]

FIELDS: tuple[str, ...] = (
    "tenant_id",
    "realm_name",
    "subdomain",
    "display_name",
    "company_name",
    "industry",
    "company_size",
    "tier",
    "max_users",
    "max_calls_per_month",
    "allow_registration",
    "admin_email",
    "admin_first_name",
    "admin_last_name",
    "features",
    "settings",
)
REQUIRED: frozenset[str] = frozenset(
    {"tenant_id", "realm_name", "display_name", "admin_email"}
)

# Defaults of the `tenants` table. `company_name` defaults to `display_name`
# and is filled in by `normalize`. Optional fields without a default become
# None, which the provisioning stores as NULL.
DEFAULTS: Mapping[str, Any] = {
    "tier": "free",
    "max_users": 10,
    "max_calls_per_month": 1000,
    "allow_registration": False,
}

TIERS: tuple[str, ...] = ("free", "starter", "professional", "enterprise")
COMPANY_SIZES: tuple[str, ...] = ("small", "medium", "large", "enterprise")
FEATURES: tuple[str, ...] = (
    "advanced_analytics",
    "custom_reports",
    "api_access",
    "white_label",
    "sso",
    "call_recording",
)

DEFAULT_TENANT_ID = "default"
DEFAULT_REALM = "qa-default"
# Names that every tenant but the default one may not take. `qa-default` is
# reserved as a realm too, because the default tenant owns that realm.
RESERVED_NAMES: frozenset[str] = frozenset(
    {"www", "auth", "admin", "api", "mail", "qa", "default"}
)
RESERVED_REALMS: frozenset[str] = frozenset({"master", DEFAULT_REALM})

DNS_LABEL_MAX = 63
# Lengths of the columns each field is stored in: organizations.name and
# tenants.display_name are VARCHAR(255), organizations.industry VARCHAR(100),
# user_profiles.first_name and last_name VARCHAR(100).
TEXT_MAX: Mapping[str, int] = {
    "display_name": 255,
    "company_name": 255,
    "industry": 100,
    "admin_first_name": 100,
    "admin_last_name": 100,
}
# RFC 5321 limits a forward path to 256 octets including the angle brackets,
# which leaves 254 for the address and 64 for the local part.
EMAIL_MAX = 254
EMAIL_LOCAL_MAX = 64
PG_INTEGER_MAX = 2_147_483_647
# Values longer than this are cut in messages, so a pasted blob never ends up
# in full in a log or a runner artifact.
VALUE_DISPLAY_MAX = 40
SETTINGS_MAX_DEPTH = 32

_DNS_LABEL = re.compile(r"[a-z][a-z0-9-]*")
_DOMAIN_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

RULE_TEXT: Mapping[str, str] = {
    "required": "the field is required",
    "unknown_key": "only the tenant file fields are allowed",
    "type": "the value has the wrong type",
    "dns_label": (
        "a DNS label is lowercase letters, digits and hyphens, starts with "
        "a letter and does not end with a hyphen"
    ),
    "max_length": "the value is too long",
    "min_length": "the value must not be empty",
    "text": "text must not contain control characters",
    "reserved": "the name is reserved for the platform",
    "default_tenant": "the default tenant must use its built-in names",
    "allowed_values": "the value must be one of the allowed values",
    "range": "the value must be a positive integer that fits PostgreSQL integer",
    "email": "the value must be an email address",
    "unique_items": "each item may appear once",
    "json": "settings must be JSON data",
    "duplicate": "each tenant in a batch needs its own names",
    "conflict": "the name is held by another tenant",
    "immutable": "the realm of an existing tenant cannot be renamed",
}


@dataclass(frozen=True)
class Problem:
    """One rule that one field of a tenant file breaks.

    ``value`` is the offending value, cut to ``VALUE_DISPLAY_MAX`` characters
    when it is a long string or a container. ``index`` and ``tenant_id`` are
    set for entries of a batch.
    """

    field: str
    value: Any
    rule: str
    message: str
    index: int | None = None
    tenant_id: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Return the problem as plain data for JSON output."""
        return {
            "field": self.field,
            "value": self.value,
            "rule": self.rule,
            "message": self.message,
            "index": self.index,
            "tenant_id": self.tenant_id,
        }


class TenantSpecError(ValueError):
    """Error for a tenant file that breaks one or more rules, with every problem."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        self.problems: list[Problem] = list(problems)
        count = len(self.problems)
        lines = [f"invalid tenant file: {count} problem(s) found"]
        lines.extend(f"- {problem.message}" for problem in self.problems)
        super().__init__("\n".join(lines))


def display_value(value: object) -> str:
    """Format a value for a message, cutting long ones to a short prefix."""
    text = repr(value)
    if len(text) <= VALUE_DISPLAY_MAX:
        return text
    return f"{text[:VALUE_DISPLAY_MAX]}... (truncated)"


def _safe_value(value: object) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, str) and len(value) <= VALUE_DISPLAY_MAX:
        return value
    return display_value(value)


def _problem(field: str, value: object, rule: str, detail: str) -> Problem:
    value_text = f"invalid value {display_value(value)}"
    if value is None and rule == "required":
        value_text = "missing value"
    message = f"{field}: {value_text} (rule {rule}): {detail}"
    return Problem(field=field, value=_safe_value(value), rule=rule, message=message)


def _in_batch(problem: Problem, index: int, tenant_id: str | None) -> Problem:
    """Prefix a problem with the batch entry it belongs to."""
    where = f"tenants[{index}]"
    if tenant_id is not None:
        where += f" (tenant_id {tenant_id!r})"
    return Problem(
        field=problem.field,
        value=problem.value,
        rule=problem.rule,
        message=f"{where}: {problem.message}",
        index=index,
        tenant_id=tenant_id,
    )


# Field checks. Each returns the problems of one value that is present and
# not None, because `validate_field` handles absent and None values first.


def _check_dns_label(field: str, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [_problem(field, value, "type", "must be a string")]
    if not value:
        return [_problem(field, value, "min_length", "must not be empty")]
    if len(value) > DNS_LABEL_MAX:
        detail = f"has {len(value)} characters, at most {DNS_LABEL_MAX} are allowed"
        return [_problem(field, value, "max_length", detail)]
    if _DNS_LABEL.fullmatch(value) is None or value.endswith("-"):
        detail = RULE_TEXT["dns_label"]
        if value.lower() != value:
            detail += " (uppercase letters are not allowed)"
        return [_problem(field, value, "dns_label", detail)]
    return []


def _check_reserved(field: str, value: str, is_default: bool) -> list[Problem]:
    if is_default:
        return []
    if field == "realm_name":
        reserved = RESERVED_REALMS
    elif field in ("tenant_id", "subdomain"):
        reserved = RESERVED_NAMES
    else:
        return []
    if value not in reserved:
        return []
    names = ", ".join(sorted(reserved))
    detail = f"is reserved for the platform; reserved names for {field}: {names}"
    return [_problem(field, value, "reserved", detail)]


def _check_text(field: str, value: object) -> list[Problem]:
    if not isinstance(value, str):
        return [_problem(field, value, "type", "must be a string")]
    if not value.strip():
        detail = "must contain at least one non-blank character"
        return [_problem(field, value, "min_length", detail)]
    limit = TEXT_MAX[field]
    if len(value) > limit:
        detail = f"has {len(value)} characters, at most {limit} are allowed"
        return [_problem(field, value, "max_length", detail)]
    if _CONTROL.search(value):
        detail = "must not contain control characters such as newlines or tabs"
        return [_problem(field, value, "text", detail)]
    return []


def _check_choice(field: str, value: object, allowed: Sequence[str]) -> list[Problem]:
    if isinstance(value, str) and value in allowed:
        return []
    detail = f"must be one of: {', '.join(allowed)}"
    return [_problem(field, value, "allowed_values", detail)]


def _check_limit(field: str, value: object) -> list[Problem]:
    # bool is a subclass of int, and YAML reads `yes` as True, so a bool here
    # is a mistake rather than the number 1.
    if isinstance(value, bool) or not isinstance(value, int):
        detail = "must be an integer"
        if isinstance(value, str):
            detail += ", not a string (write the number without quotes)"
        return [_problem(field, value, "type", detail)]
    if not 1 <= value <= PG_INTEGER_MAX:
        detail = f"must be between 1 and {PG_INTEGER_MAX} (PostgreSQL integer)"
        return [_problem(field, value, "range", detail)]
    return []


def _check_bool(field: str, value: object) -> list[Problem]:
    if isinstance(value, bool):
        return []
    return [_problem(field, value, "type", "must be a boolean: true or false")]


def _check_email(field: str, value: object) -> list[Problem]:
    """Check a practical email rule.

    The address has no whitespace or control characters, exactly one @, a
    non-empty local part of at most 64 characters, and a domain of at least
    two DNS labels. It does not check quoted local parts, IP-literal domains,
    internationalized (non-ASCII) addresses, or whether the domain receives
    mail.
    """
    if not isinstance(value, str):
        return [_problem(field, value, "type", "must be a string")]
    if len(value) > EMAIL_MAX:
        detail = f"has {len(value)} characters, at most {EMAIL_MAX} are allowed"
        return [_problem(field, value, "max_length", detail)]
    reason = _email_defect(value)
    if reason is None:
        return []
    return [_problem(field, value, "email", f"is not a valid email address: {reason}")]


def _email_defect(address: str) -> str | None:
    if not address.isascii():
        return "only ASCII characters are allowed"
    if any(char.isspace() for char in address) or _CONTROL.search(address):
        return "spaces and control characters are not allowed"
    if address.count("@") != 1:
        return "it needs exactly one @"
    local, domain = address.split("@")
    if not local:
        return "the part before @ is empty"
    if len(local) > EMAIL_LOCAL_MAX:
        return f"the part before @ is longer than {EMAIL_LOCAL_MAX} characters"
    labels = domain.split(".")
    if len(labels) < 2:
        return "the domain needs at least one dot, as in example.com"
    for label in labels:
        if len(label) > DNS_LABEL_MAX or _DOMAIN_LABEL.fullmatch(label) is None:
            return (
                f"the domain label {label!r} is not letters, digits and inner "
                f"hyphens of 1 to {DNS_LABEL_MAX} characters"
            )
    return None


def _check_features(field: str, value: object) -> list[Problem]:
    if not isinstance(value, list | tuple):
        return [_problem(field, value, "type", "must be a list of feature names")]
    problems: list[Problem] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str) or item not in FEATURES:
            detail = f"contains {display_value(item)}; allowed: {', '.join(FEATURES)}"
            problems.append(_problem(field, value, "allowed_values", detail))
        elif item in seen:
            detail = f"contains {item!r} more than once"
            problems.append(_problem(field, value, "unique_items", detail))
        else:
            seen.add(item)
    return problems


def _json_defect(value: object, path: str, depth: int) -> str | None:
    """Return why a value cannot be stored as JSONB, or None when it can."""
    if depth > SETTINGS_MAX_DEPTH:
        return f"{path} is nested deeper than {SETTINGS_MAX_DEPTH} levels"
    if value is None or isinstance(value, str | bool | int):
        return None
    if isinstance(value, float):
        return None if math.isfinite(value) else f"{path} is not a finite number"
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                return f"{path} has the key {display_value(key)}, keys must be strings"
            defect = _json_defect(item, f"{path}.{key}", depth + 1)
            if defect is not None:
                return defect
        return None
    if isinstance(value, list | tuple):
        for position, item in enumerate(value):
            defect = _json_defect(item, f"{path}[{position}]", depth + 1)
            if defect is not None:
                return defect
        return None
    return f"{path} has the type {type(value).__name__}, which JSON cannot store"


def _check_settings(field: str, value: object) -> list[Problem]:
    if not isinstance(value, Mapping):
        return [_problem(field, value, "type", "must be a mapping")]
    defect = _json_defect(value, field, 0)
    if defect is None:
        return []
    return [_problem(field, value, "json", defect)]


def _check_one(field: str, value: object, is_default: bool) -> list[Problem]:
    if field in ("tenant_id", "realm_name", "subdomain"):
        problems = _check_dns_label(field, value)
        if not problems and isinstance(value, str):
            problems = _check_reserved(field, value, is_default)
        return problems
    if field in TEXT_MAX:
        return _check_text(field, value)
    if field == "tier":
        return _check_choice(field, value, TIERS)
    if field == "company_size":
        return _check_choice(field, value, COMPANY_SIZES)
    if field in ("max_users", "max_calls_per_month"):
        return _check_limit(field, value)
    if field == "allow_registration":
        return _check_bool(field, value)
    if field == "admin_email":
        return _check_email(field, value)
    if field == "features":
        return _check_features(field, value)
    return _check_settings(field, value)


def validate_field(
    field: str, value: object, *, tenant_id: object = None
) -> list[Problem]:
    """Check one field value and return its problems (empty when valid).

    A form can call this as the user types. ``tenant_id`` is the tenant the
    value belongs to, because the default tenant may use the reserved names.
    None is an absent value, which is a problem only for required fields.
    """
    if field not in FIELDS:
        return [_unknown_key(field)]
    if value is None:
        if field in REQUIRED:
            return [_problem(field, value, "required", "is required")]
        return []
    return _check_one(field, value, tenant_id == DEFAULT_TENANT_ID)


def _unknown_key(key: object) -> Problem:
    detail = "is not a tenant file field"
    if isinstance(key, str):
        close = difflib.get_close_matches(key, FIELDS, n=1)
        if close:
            detail += f" (did you mean {close[0]!r}?)"
    field = key if isinstance(key, str) else display_value(key)
    return Problem(
        field=field,
        value=_safe_value(key),
        rule="unknown_key",
        message=f"{field}: unknown key (rule unknown_key): {detail}",
    )


def _check_default_tenant(tenant: Mapping[Any, Any]) -> list[Problem]:
    """Require the default tenant id to come with its built-in realm.

    Without this, any file could call itself `default` and so skip the
    reserved-name rules. The other direction, another tenant taking the
    default realm, is a reserved-name problem.
    """
    tenant_id = tenant.get("tenant_id")
    realm_name = tenant.get("realm_name")
    if tenant_id == DEFAULT_TENANT_ID and realm_name != DEFAULT_REALM:
        detail = (
            f"the default tenant {DEFAULT_TENANT_ID!r} must use the realm "
            f"{DEFAULT_REALM!r}"
        )
        return [_problem("realm_name", realm_name, "default_tenant", detail)]
    return []


def _collect(tenant: object) -> list[Problem]:
    if not isinstance(tenant, Mapping):
        detail = "a tenant must be a mapping of field names to values"
        return [_problem("tenant", tenant, "type", detail)]
    problems = [_unknown_key(key) for key in tenant if key not in FIELDS]
    tenant_id = tenant.get("tenant_id")
    for field in FIELDS:
        problems.extend(validate_field(field, tenant.get(field), tenant_id=tenant_id))
    problems.extend(_check_default_tenant(tenant))
    return problems


def normalize(tenant: Mapping[str, Any]) -> Tenant:
    """Fill in defaults for a tenant that passed validation.

    Absent and None values take the table default. Optional fields without
    one stay None.
    """
    result: Tenant = {}
    for field in FIELDS:
        value = tenant.get(field)
        if value is None:
            value = DEFAULTS.get(field)
        result[field] = value
    if result["company_name"] is None:
        result["company_name"] = result["display_name"]
    # Fresh containers, so callers can change a result without touching
    # another tenant or the input.
    result["features"] = list(result["features"] or [])
    result["settings"] = dict(result["settings"] or {})
    return result


def validate_tenant(tenant: object) -> Tenant:
    """Validate one tenant and return it with defaults filled in.

    Raises TenantSpecError with every problem found.
    """
    problems = _collect(tenant)
    if problems or not isinstance(tenant, Mapping):
        raise TenantSpecError(problems)
    return normalize(tenant)


def _batch_duplicates(tenants: Sequence[Mapping[str, Any]]) -> list[Problem]:
    problems: list[Problem] = []
    for field in ("tenant_id", "realm_name", "subdomain"):
        first_index: dict[object, int] = {}
        for index, tenant in enumerate(tenants):
            value = tenant.get(field)
            if value is None:
                continue
            if value in first_index:
                detail = f"is also used by tenants[{first_index[value]}]"
                problem = _problem(field, value, "duplicate", detail)
                problems.append(_in_batch(problem, index, _tenant_id_of(tenant)))
            else:
                first_index[value] = index
    return problems


def _tenant_id_of(tenant: object) -> str | None:
    if isinstance(tenant, Mapping):
        tenant_id = tenant.get("tenant_id")
        if isinstance(tenant_id, str):
            return tenant_id
    return None


def validate_batch(document: object) -> list[Tenant]:
    """Validate a batch ``{"tenants": [...]}`` as a whole.

    Every entry is checked, and one bad entry or a tenant_id, realm_name or
    subdomain used twice rejects the whole batch. Returns the tenants with
    defaults filled in, or raises TenantSpecError with every problem found.
    """
    if not isinstance(document, Mapping):
        detail = "a batch must be a mapping with the key tenants"
        raise TenantSpecError([_problem("tenants", document, "type", detail)])
    problems = [_batch_key_problem(key) for key in document if key != "tenants"]
    entries = document.get("tenants")
    if not isinstance(entries, list | tuple):
        detail = "must be a list of tenants"
        problems.append(_problem("tenants", entries, "type", detail))
        raise TenantSpecError(problems)
    if not entries:
        problems.append(_problem("tenants", entries, "min_length", "is empty"))
    for index, entry in enumerate(entries):
        tenant_id = _tenant_id_of(entry)
        problems.extend(_in_batch(p, index, tenant_id) for p in _collect(entry))
    if problems:
        raise TenantSpecError(problems)
    duplicates = _batch_duplicates(entries)
    if duplicates:
        raise TenantSpecError(duplicates)
    return [normalize(entry) for entry in entries]


def _batch_key_problem(key: object) -> Problem:
    field = key if isinstance(key, str) else display_value(key)
    detail = "a batch file contains only the key tenants"
    return Problem(
        field=field,
        value=_safe_value(key),
        rule="unknown_key",
        message=f"{field}: unknown key (rule unknown_key): {detail}",
    )


def is_batch(document: object) -> bool:
    """Tell a batch file (top-level key `tenants`) from a single tenant file."""
    return isinstance(document, Mapping) and "tenants" in document


def validate_document(document: object) -> list[Tenant]:
    """Validate a single tenant file or a batch and return a list of tenants."""
    if is_batch(document):
        return validate_batch(document)
    return [validate_tenant(document)]


def check_unique(
    candidate: Mapping[str, Any], existing: Iterable[Mapping[str, Any]]
) -> list[Problem]:
    """Return the names of a candidate that already belong to another tenant.

    ``existing`` contains registry rows with tenant_id, realm_name and subdomain.
    A row with the candidate's own tenant_id is the same tenant, so running
    the same file again is no conflict. That row must keep its realm_name,
    because Keycloak cannot rename a realm in place, and its subdomain,
    because removal deletes only the DNS record the row names.
    """
    tenant_id = candidate.get("tenant_id")
    problems: list[Problem] = []
    for row in existing:
        if row.get("tenant_id") == tenant_id:
            for field, noun in (("realm_name", "realm"), ("subdomain", "subdomain")):
                stored = row.get(field)
                if stored != candidate.get(field):
                    detail = (
                        f"tenant {tenant_id!r} already exists with the {noun}"
                        f" {stored!r}, and onboarding cannot change it"
                    )
                    value = candidate.get(field)
                    problems.append(_problem(field, value, "immutable", detail))
            continue
        # tenant_id needs no check here, because a row with the candidate's
        # tenant_id is this tenant and was handled above.
        for field in ("realm_name", "subdomain"):
            value = candidate.get(field)
            if value is not None and value == row.get(field):
                holder = row.get("tenant_id")
                detail = f"is already held by the tenant {holder!r}"
                problems.append(_problem(field, value, "conflict", detail))
    return problems


def check_unique_batch(
    candidates: Sequence[Mapping[str, Any]], existing: Iterable[Mapping[str, Any]]
) -> list[Problem]:
    """Run check_unique for each tenant of a batch, marking the entry."""
    rows = list(existing)
    problems: list[Problem] = []
    for index, candidate in enumerate(candidates):
        tenant_id = _tenant_id_of(candidate)
        found = check_unique(candidate, rows)
        problems.extend(_in_batch(problem, index, tenant_id) for problem in found)
    return problems
