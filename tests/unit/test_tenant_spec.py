"""Tests for the tenant file rules in qa.platform's module_utils."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from ansible_collections.qa.platform.plugins.module_utils import tenant_spec
from ansible_collections.qa.platform.plugins.module_utils.tenant_spec import (
    TenantSpecError,
    check_unique,
    check_unique_batch,
    validate_batch,
    validate_document,
    validate_field,
    validate_tenant,
)

EXAMPLE_FILE = (
    Path(__file__).resolve().parents[2] / "inventories/local/tenants/example.yml"
)

# Marks a key that a case removes from the base tenant.
DROP = object()

BASE: dict[str, Any] = {
    "tenant_id": "acme",
    "realm_name": "acme",
    "subdomain": "acme",
    "display_name": "ACME Corporation",
    "company_name": "ACME Corporation Ltd.",
    "industry": "Technology",
    "company_size": "medium",
    "tier": "professional",
    "max_users": 100,
    "max_calls_per_month": 10000,
    "allow_registration": False,
    "admin_email": "admin@acme.example",
    "admin_first_name": "John",
    "admin_last_name": "Smith",
    "features": ["advanced_analytics", "api_access"],
    "settings": {"branding": {"primary_color": "#0066cc"}},
}


def tenant_with(**changes: Any) -> dict[str, Any]:
    """Return a copy of BASE with changes applied, where DROP removes a key."""
    tenant = dict(BASE)
    for key, value in changes.items():
        if value is DROP:
            tenant.pop(key, None)
        else:
            tenant[key] = value
    return tenant


def write_and_load(tmp_path: Path, document: object, name: str = "t.yml") -> Any:
    """Write a document as a YAML tenant file and load it back."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def problems_of(document: object) -> list[tenant_spec.Problem]:
    """Return the problems validate_document raises for a document."""
    with pytest.raises(TenantSpecError) as caught:
        validate_document(document)
    return caught.value.problems


# (case id, changes to BASE, field expected in the problem, rule expected)
MALFORMED: list[tuple[str, dict[str, Any], str, str]] = [
    ("tenant_id-upper", {"tenant_id": "Acme"}, "tenant_id", "dns_label"),
    ("tenant_id-digit-first", {"tenant_id": "1acme"}, "tenant_id", "dns_label"),
    ("tenant_id-hyphen-first", {"tenant_id": "-acme"}, "tenant_id", "dns_label"),
    ("tenant_id-hyphen-last", {"tenant_id": "acme-"}, "tenant_id", "dns_label"),
    ("tenant_id-underscore", {"tenant_id": "acme_co"}, "tenant_id", "dns_label"),
    ("tenant_id-space", {"tenant_id": "acme co"}, "tenant_id", "dns_label"),
    ("tenant_id-dot", {"tenant_id": "acme.co"}, "tenant_id", "dns_label"),
    ("tenant_id-accent", {"tenant_id": "açaí"}, "tenant_id", "dns_label"),
    ("tenant_id-empty", {"tenant_id": ""}, "tenant_id", "min_length"),
    ("tenant_id-64", {"tenant_id": "a" * 64}, "tenant_id", "max_length"),
    ("tenant_id-int", {"tenant_id": 123}, "tenant_id", "type"),
    ("tenant_id-reserved", {"tenant_id": "admin"}, "tenant_id", "reserved"),
    ("tenant_id-missing", {"tenant_id": DROP}, "tenant_id", "required"),
    ("tenant_id-null", {"tenant_id": None}, "tenant_id", "required"),
    ("default-other-realm", {"tenant_id": "default"}, "realm_name", "default_tenant"),
    ("realm-master", {"realm_name": "master"}, "realm_name", "reserved"),
    ("realm-qa-default", {"realm_name": "qa-default"}, "realm_name", "reserved"),
    ("realm-space", {"realm_name": "Acme Corp"}, "realm_name", "dns_label"),
    ("realm-64", {"realm_name": "r" * 64}, "realm_name", "max_length"),
    ("realm-missing", {"realm_name": DROP}, "realm_name", "required"),
    ("subdomain-www", {"subdomain": "www"}, "subdomain", "reserved"),
    ("subdomain-auth", {"subdomain": "auth"}, "subdomain", "reserved"),
    ("subdomain-qa", {"subdomain": "qa"}, "subdomain", "reserved"),
    ("subdomain-default", {"subdomain": "default"}, "subdomain", "reserved"),
    ("subdomain-dot", {"subdomain": "acme.co"}, "subdomain", "dns_label"),
    ("subdomain-64", {"subdomain": "s" * 64}, "subdomain", "max_length"),
    ("display-missing", {"display_name": DROP}, "display_name", "required"),
    ("display-256", {"display_name": "d" * 256}, "display_name", "max_length"),
    ("display-blank", {"display_name": "   "}, "display_name", "min_length"),
    ("display-newline", {"display_name": "A\nB"}, "display_name", "text"),
    ("company-256", {"company_name": "c" * 256}, "company_name", "max_length"),
    ("company-list", {"company_name": ["ACME"]}, "company_name", "type"),
    ("industry-101", {"industry": "i" * 101}, "industry", "max_length"),
    ("size-huge", {"company_size": "huge"}, "company_size", "allowed_values"),
    ("tier-gold", {"tier": "gold"}, "tier", "allowed_values"),
    ("tier-case", {"tier": "Free"}, "tier", "allowed_values"),
    ("users-zero", {"max_users": 0}, "max_users", "range"),
    ("users-negative", {"max_users": -5}, "max_users", "range"),
    ("users-huge", {"max_users": 2_147_483_648}, "max_users", "range"),
    ("users-bool", {"max_users": True}, "max_users", "type"),
    ("users-string", {"max_users": "100"}, "max_users", "type"),
    ("users-float", {"max_users": 10.5}, "max_users", "type"),
    ("calls-zero", {"max_calls_per_month": 0}, "max_calls_per_month", "range"),
    ("calls-huge", {"max_calls_per_month": 10**12}, "max_calls_per_month", "range"),
    ("calls-string", {"max_calls_per_month": "1000"}, "max_calls_per_month", "type"),
    ("calls-bool", {"max_calls_per_month": False}, "max_calls_per_month", "type"),
    ("registration-str", {"allow_registration": "yes"}, "allow_registration", "type"),
    ("registration-int", {"allow_registration": 1}, "allow_registration", "type"),
    ("email-missing", {"admin_email": DROP}, "admin_email", "required"),
    ("email-no-at", {"admin_email": "admin"}, "admin_email", "email"),
    ("email-two-at", {"admin_email": "a@b@acme.example"}, "admin_email", "email"),
    ("email-no-dot", {"admin_email": "admin@localhost"}, "admin_email", "email"),
    ("email-space", {"admin_email": "ad min@acme.example"}, "admin_email", "email"),
    ("email-no-local", {"admin_email": "@acme.example"}, "admin_email", "email"),
    ("email-bad-label", {"admin_email": "a@-acme.example"}, "admin_email", "email"),
    ("email-empty-label", {"admin_email": "a@acme..example"}, "admin_email", "email"),
    (
        "email-255",
        {"admin_email": "a@" + "b" * 249 + ".com"},
        "admin_email",
        "max_length",
    ),
    (
        "email-local-65",
        {"admin_email": "l" * 65 + "@acme.example"},
        "admin_email",
        "email",
    ),
    ("email-int", {"admin_email": 42}, "admin_email", "type"),
    ("first-101", {"admin_first_name": "f" * 101}, "admin_first_name", "max_length"),
    ("last-101", {"admin_last_name": "l" * 101}, "admin_last_name", "max_length"),
    ("last-int", {"admin_last_name": 42}, "admin_last_name", "type"),
    (
        "features-unknown",
        {"features": ["sso", "teleport"]},
        "features",
        "allowed_values",
    ),
    ("features-duplicate", {"features": ["sso", "sso"]}, "features", "unique_items"),
    ("features-string", {"features": "sso"}, "features", "type"),
    ("features-mapping", {"features": {"sso": True}}, "features", "type"),
    ("settings-list", {"settings": ["a"]}, "settings", "type"),
    ("settings-string", {"settings": "dark"}, "settings", "type"),
    ("settings-nan", {"settings": {"ratio": float("nan")}}, "settings", "json"),
    ("settings-int-key", {"settings": {1: "one"}}, "settings", "json"),
    ("unknown-key", {"colour": "blue"}, "colour", "unknown_key"),
    ("typo-key", {"max_user": 5}, "max_user", "unknown_key"),
]


@pytest.mark.parametrize(
    ("changes", "field", "rule"),
    [case[1:] for case in MALFORMED],
    ids=[case[0] for case in MALFORMED],
)
def test_malformed_file_rejected(
    tmp_path: Path, changes: dict[str, Any], field: str, rule: str
) -> None:
    document = write_and_load(tmp_path, tenant_with(**changes))
    problems = problems_of(document)
    matching = [p for p in problems if p.field == field and p.rule == rule]
    assert matching, [p.message for p in problems]
    message = matching[0].message
    assert message.startswith(f"{field}:")
    assert f"rule {rule}" in message


def test_malformed_cases_cover_every_field() -> None:
    fields = {case[2] for case in MALFORMED}
    assert set(tenant_spec.FIELDS) <= fields


def test_malformed_cases_cover_every_rule() -> None:
    rules = {case[3] for case in MALFORMED}
    batch_only = {"duplicate", "conflict", "immutable"}
    assert set(tenant_spec.RULE_TEXT) - batch_only <= rules


def test_message_names_value() -> None:
    (problem,) = problems_of(tenant_with(tier="gold"))
    assert "'gold'" in problem.message
    assert "free, starter, professional, enterprise" in problem.message


def test_all_problems_reported() -> None:
    document = tenant_with(tenant_id="Bad_Id", tier="gold", max_users=0, extra=1)
    problems = problems_of(document)
    found = {(p.field, p.rule) for p in problems}
    assert ("tenant_id", "dns_label") in found
    assert ("tier", "allowed_values") in found
    assert ("max_users", "range") in found
    assert ("extra", "unknown_key") in found
    assert len(problems) == 4


def test_error_text_lists_problems() -> None:
    with pytest.raises(TenantSpecError) as caught:
        validate_tenant(tenant_with(tier="gold", max_users=0))
    text = str(caught.value)
    assert "2 problem(s)" in text
    assert "tier: invalid value 'gold'" in text
    assert "max_users: invalid value 0" in text


def test_long_value_truncated() -> None:
    secret_like = "x" * 300 + "TAIL"
    (problem,) = problems_of(tenant_with(display_name=secret_like))
    assert "TAIL" not in problem.message
    assert "truncated" in problem.message
    assert "TAIL" not in str(problem.value)


def test_typo_key_suggests_field() -> None:
    (problem,) = problems_of(tenant_with(max_user=5))
    assert "did you mean 'max_users'" in problem.message


def test_not_mapping_rejected(tmp_path: Path) -> None:
    document = write_and_load(tmp_path, ["acme"])
    (problem,) = problems_of(document)
    assert problem.rule == "type"
    assert problem.field == "tenant"


def test_empty_file_rejected(tmp_path: Path) -> None:
    path = tmp_path / "empty.yml"
    path.write_text("", encoding="utf-8")
    (problem,) = problems_of(yaml.safe_load(path.read_text(encoding="utf-8")))
    assert problem.rule == "type"


# Batches.


def test_batch_duplicate_tenant_id(tmp_path: Path) -> None:
    second = tenant_with(realm_name="acme2", subdomain="acme2")
    document = write_and_load(tmp_path, {"tenants": [BASE, second]})
    (problem,) = problems_of(document)
    assert problem.field == "tenant_id"
    assert problem.rule == "duplicate"
    assert problem.index == 1
    assert problem.tenant_id == "acme"
    assert problem.message.startswith("tenants[1] (tenant_id 'acme'): tenant_id:")
    assert "tenants[0]" in problem.message


def test_batch_duplicate_realm(tmp_path: Path) -> None:
    second = tenant_with(tenant_id="beta", subdomain="beta")
    document = write_and_load(tmp_path, {"tenants": [BASE, second]})
    (problem,) = problems_of(document)
    assert problem.field == "realm_name"
    assert problem.rule == "duplicate"
    assert "rule duplicate" in problem.message


def test_batch_duplicate_subdomain(tmp_path: Path) -> None:
    second = tenant_with(tenant_id="beta", realm_name="beta")
    document = write_and_load(tmp_path, {"tenants": [BASE, second]})
    (problem,) = problems_of(document)
    assert problem.field == "subdomain"
    assert problem.rule == "duplicate"


def test_batch_null_subdomains_allowed() -> None:
    first = tenant_with(subdomain=None)
    second = tenant_with(tenant_id="beta", realm_name="beta", subdomain=DROP)
    tenants = validate_batch({"tenants": [first, second]})
    assert [t["subdomain"] for t in tenants] == [None, None]


def test_batch_one_bad_entry_rejects(tmp_path: Path) -> None:
    good = tenant_with(tenant_id="beta", realm_name="beta", subdomain="beta")
    bad = tenant_with(tenant_id="gamma", realm_name="gamma", subdomain="gamma")
    bad["tier"] = "gold"
    document = write_and_load(tmp_path, {"tenants": [BASE, good, bad]})
    (problem,) = problems_of(document)
    assert problem.index == 2
    assert problem.tenant_id == "gamma"
    assert problem.message.startswith("tenants[2] (tenant_id 'gamma'): tier:")
    assert "rule allowed_values" in problem.message


def test_batch_collects_every_entry() -> None:
    first = tenant_with(max_users=0)
    second = tenant_with(tenant_id="Beta", realm_name="beta", subdomain="beta")
    problems = problems_of({"tenants": [first, second]})
    assert [(p.index, p.field) for p in problems] == [
        (0, "max_users"),
        (1, "tenant_id"),
    ]


def test_batch_bad_entry_type() -> None:
    (problem,) = problems_of({"tenants": [BASE, "beta"]})
    assert problem.index == 1
    assert problem.rule == "type"


def test_batch_empty_rejected() -> None:
    (problem,) = problems_of({"tenants": []})
    assert problem.field == "tenants"
    assert problem.rule == "min_length"


def test_batch_not_list_rejected() -> None:
    (problem,) = problems_of({"tenants": BASE})
    assert problem.field == "tenants"
    assert problem.rule == "type"


def test_batch_extra_key_rejected() -> None:
    problems = problems_of({"tenants": [BASE], "tier": "free"})
    assert [(p.field, p.rule) for p in problems] == [("tier", "unknown_key")]


def test_batch_valid_normalized(tmp_path: Path) -> None:
    second = {
        "tenant_id": "beta",
        "realm_name": "beta",
        "display_name": "Beta",
        "admin_email": "ops@beta.example",
    }
    document = write_and_load(tmp_path, {"tenants": [BASE, second]})
    tenants = validate_document(document)
    assert [t["tenant_id"] for t in tenants] == ["acme", "beta"]
    assert tenants[1]["tier"] == "free"


# Valid files and defaults.


def test_defaults_filled(tmp_path: Path) -> None:
    minimal = {
        "tenant_id": "beta",
        "realm_name": "beta",
        "display_name": "Beta Inc",
        "admin_email": "ops@beta.example",
    }
    tenant = validate_tenant(write_and_load(tmp_path, minimal))
    assert tenant["tier"] == "free"
    assert tenant["max_users"] == 10
    assert tenant["max_calls_per_month"] == 1000
    assert tenant["allow_registration"] is False
    assert tenant["company_name"] == "Beta Inc"
    assert tenant["features"] == []
    assert tenant["settings"] == {}
    assert tenant["subdomain"] is None
    assert tenant["industry"] is None
    assert list(tenant) == list(tenant_spec.FIELDS)


def test_null_takes_default() -> None:
    tenant = validate_tenant(tenant_with(tier=None, features=None, settings=None))
    assert tenant["tier"] == "free"
    assert tenant["features"] == []
    assert tenant["settings"] == {}


def test_given_values_kept() -> None:
    tenant = validate_tenant(BASE)
    assert tenant == BASE


def test_result_does_not_share_input() -> None:
    source = tenant_with()
    tenant = validate_tenant(source)
    tenant["features"].append("sso")
    tenant["settings"]["x"] = 1
    assert source["features"] == BASE["features"]
    assert "x" not in source["settings"]


def test_limits_at_bounds() -> None:
    tenant = validate_tenant(tenant_with(max_users=1, max_calls_per_month=2**31 - 1))
    assert tenant["max_users"] == 1
    assert tenant["max_calls_per_month"] == 2_147_483_647


def test_label_63_allowed() -> None:
    label = "a" * 62 + "1"
    tenant = validate_tenant(tenant_with(tenant_id=label, realm_name=label))
    assert tenant["tenant_id"] == label


def test_text_at_column_size() -> None:
    tenant = validate_tenant(
        tenant_with(
            display_name="d" * 255, industry="i" * 100, admin_last_name="l" * 100
        )
    )
    assert len(tenant["display_name"]) == 255


def test_email_at_254() -> None:
    address = "a@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + "." + "e" * 60
    assert len(address) == 254
    assert validate_tenant(tenant_with(admin_email=address))["admin_email"] == address


def test_default_tenant_allowed() -> None:
    default = {
        "tenant_id": "default",
        "realm_name": "qa-default",
        "display_name": "QA Platform - Default Tenant",
        "admin_email": "admin@platform.test",
    }
    tenant = validate_tenant(default)
    assert tenant["tenant_id"] == "default"
    assert tenant["realm_name"] == "qa-default"


def test_default_tenant_reserved_subdomain() -> None:
    default = {
        "tenant_id": "default",
        "realm_name": "qa-default",
        "subdomain": "qa",
        "display_name": "QA Platform",
        "admin_email": "admin@platform.test",
    }
    assert validate_tenant(default)["subdomain"] == "qa"


def test_example_file_valid() -> None:
    document = yaml.safe_load(EXAMPLE_FILE.read_text(encoding="utf-8"))
    (tenant,) = validate_document(document)
    assert tenant["tenant_id"] == "acme"
    assert set(document) == set(tenant_spec.FIELDS)


# Per-field validation, as a form uses it.


def test_field_valid_value() -> None:
    assert validate_field("tier", "starter") == []


def test_field_invalid_value() -> None:
    (problem,) = validate_field("subdomain", "Acme")
    assert problem.rule == "dns_label"
    assert problem.message.startswith("subdomain:")


def test_missing_field_message() -> None:
    (problem,) = validate_field("admin_email", None)
    assert problem.message == "admin_email: missing value (rule required): is required"


def test_field_required_empty() -> None:
    (problem,) = validate_field("admin_email", None)
    assert problem.rule == "required"


def test_field_optional_empty() -> None:
    assert validate_field("industry", None) == []


def test_field_reserved_for_default() -> None:
    assert validate_field("subdomain", "www", tenant_id="default") == []
    (problem,) = validate_field("subdomain", "www", tenant_id="acme")
    assert problem.rule == "reserved"


def test_field_unknown_name() -> None:
    (problem,) = validate_field("colour", "blue")
    assert problem.rule == "unknown_key"


# Uniqueness against the tenants already registered.

EXISTING: list[dict[str, Any]] = [
    {"tenant_id": "default", "realm_name": "qa-default", "subdomain": None},
    {"tenant_id": "acme", "realm_name": "acme", "subdomain": "acme"},
    {"tenant_id": "beta", "realm_name": "beta-realm", "subdomain": "beta"},
]


def test_unique_rerun_no_conflict() -> None:
    assert check_unique(validate_tenant(BASE), EXISTING) == []


def test_unique_new_tenant() -> None:
    candidate = tenant_with(tenant_id="gamma", realm_name="gamma", subdomain=None)
    assert check_unique(candidate, EXISTING) == []


def test_unique_realm_taken() -> None:
    candidate = tenant_with(tenant_id="gamma", realm_name="beta-realm", subdomain="g")
    (problem,) = check_unique(candidate, EXISTING)
    assert problem.field == "realm_name"
    assert problem.rule == "conflict"
    assert "'beta'" in problem.message


def test_unique_subdomain_taken() -> None:
    candidate = tenant_with(tenant_id="gamma", realm_name="gamma", subdomain="beta")
    (problem,) = check_unique(candidate, EXISTING)
    assert problem.field == "subdomain"
    assert problem.rule == "conflict"


def test_unique_realm_renamed() -> None:
    candidate = tenant_with(realm_name="acme-new")
    (problem,) = check_unique(candidate, EXISTING)
    assert problem.field == "realm_name"
    assert problem.rule == "immutable"


def test_unique_subdomain_changed() -> None:
    candidate = tenant_with(subdomain="acme-new")
    (problem,) = check_unique(candidate, EXISTING)
    assert problem.field == "subdomain"
    assert problem.rule == "immutable"
    assert "'acme-new'" in problem.message


def test_unique_subdomain_added_later() -> None:
    existing = [{"tenant_id": "acme", "realm_name": "acme", "subdomain": None}]
    (problem,) = check_unique(tenant_with(subdomain="acme"), existing)
    assert problem.field == "subdomain"
    assert problem.rule == "immutable"


def test_unique_batch_marks_entry() -> None:
    first = tenant_with()
    second = tenant_with(tenant_id="gamma", realm_name="gamma", subdomain="beta")
    (problem,) = check_unique_batch([first, second], EXISTING)
    assert problem.index == 1
    assert problem.tenant_id == "gamma"
    assert problem.message.startswith("tenants[1] (tenant_id 'gamma'): subdomain:")
