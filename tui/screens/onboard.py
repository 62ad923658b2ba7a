"""The onboarding form: the tenant file's fields, checked as the operator
types with the same rules as the provisioning playbook."""

from __future__ import annotations

import json
from typing import Any, ClassVar

from ansible_collections.qa.platform.plugins.module_utils import tenant_spec
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.screen import Screen
from textual.widgets import (
    Button,
    Checkbox,
    Input,
    Label,
    Select,
    SelectionList,
    Static,
    TextArea,
)

from tui.widgets.footer import ActiveScreenFooter

TEXT_FIELDS: tuple[tuple[str, str], ...] = (
    ("tenant_id", "Tenant id"),
    ("realm_name", "Realm name"),
    ("subdomain", "Subdomain (empty: no DNS record)"),
    ("display_name", "Display name"),
    ("company_name", "Company name (empty: display name)"),
    ("industry", "Industry"),
    ("admin_email", "Admin email"),
    ("admin_first_name", "Admin first name"),
    ("admin_last_name", "Admin last name"),
)
NUMBER_FIELDS: tuple[tuple[str, str], ...] = (
    ("max_users", "Max users"),
    ("max_calls_per_month", "Max calls per month"),
)


def _problem_text(problems: list[tenant_spec.Problem]) -> str:
    return "; ".join(problem.message for problem in problems)


class OnboardScreen(Screen[None]):
    """Fill in a tenant, preview the run in check mode, then onboard."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "app.pop_screen", "Back"),
        Binding("ctrl+p", "preview", "Preview (check mode)", priority=True),
        Binding("ctrl+s", "onboard", "Onboard", priority=True),
    ]
    DEFAULT_CSS = """
    OnboardScreen VerticalScroll { padding: 0 1; }
    OnboardScreen Label { margin-top: 1; }
    OnboardScreen .problem { color: $error; height: auto; }
    OnboardScreen TextArea { height: 6; }
    OnboardScreen SelectionList { height: 8; }
    OnboardScreen Horizontal { height: auto; margin: 1 0; }
    """

    class Submitted(Message):
        """The form contains a valid tenant, and ``check`` requests a preview."""

        def __init__(self, tenant: dict[str, Any], check: bool) -> None:
            super().__init__()
            self.tenant = tenant
            self.check = check

    def compose(self) -> ComposeResult:
        with VerticalScroll():
            for name, title in TEXT_FIELDS[:5]:
                yield from self._field(name, title)
            yield Label("Tier")
            yield Select(
                [(tier, tier) for tier in tenant_spec.TIERS],
                value=tenant_spec.DEFAULTS["tier"],
                allow_blank=False,
                id="field-tier",
            )
            yield Label("Company size")
            yield Select(
                [(size, size) for size in tenant_spec.COMPANY_SIZES],
                id="field-company_size",
            )
            for name, title in TEXT_FIELDS[5:6]:
                yield from self._field(name, title)
            for name, title in NUMBER_FIELDS:
                yield from self._field(name, title, str(tenant_spec.DEFAULTS[name]))
            yield Checkbox("Allow self-registration", id="field-allow_registration")
            for name, title in TEXT_FIELDS[6:]:
                yield from self._field(name, title)
            yield Label("Features")
            yield SelectionList[str](
                *[(feature, feature) for feature in tenant_spec.FEATURES],
                id="field-features",
            )
            yield Label("Settings (JSON object)")
            yield TextArea("{}", id="field-settings", language=None)
            yield Static("", id="problem-settings", classes="problem")
            with Horizontal():
                yield Button("Preview (check mode)", id="preview", variant="primary")
                yield Button("Onboard", id="onboard", variant="success")
            yield Static("", id="form-summary", classes="problem")
        yield ActiveScreenFooter()

    def _field(self, name: str, title: str, value: str = "") -> ComposeResult:
        required = " *" if name in tenant_spec.REQUIRED else ""
        yield Label(f"{title}{required}")
        yield Input(value=value, id=f"field-{name}")
        yield Static("", id=f"problem-{name}", classes="problem")

    def on_mount(self) -> None:
        self.query_one("#field-tenant_id", Input).focus()

    # Reading and checking ----------------------------------------------

    def _value(self, name: str) -> object:
        if name in ("tier", "company_size"):
            selected = self.query_one(f"#field-{name}", Select).value
            return selected if isinstance(selected, str) else None
        if name == "allow_registration":
            return self.query_one("#field-allow_registration", Checkbox).value
        if name == "features":
            return list(self.query_one("#field-features", SelectionList).selected)
        if name == "settings":
            text = self.query_one("#field-settings", TextArea).text.strip() or "{}"
            return json.loads(text)
        raw = self.query_one(f"#field-{name}", Input).value.strip()
        if not raw:
            return None
        if name in ("max_users", "max_calls_per_month"):
            return int(raw) if raw.lstrip("-").isdigit() else raw
        return raw

    def check_field(self, name: str) -> list[str]:
        """Check one field and show its problems under it."""
        tenant_id = self.query_one("#field-tenant_id", Input).value.strip() or None
        try:
            value = self._value(name)
        except ValueError as error:
            messages = [f"settings is not valid JSON: {error}"]
        else:
            problems = tenant_spec.validate_field(name, value, tenant_id=tenant_id)
            messages = [problem.message for problem in problems]
        problem_widget = self.query(f"#problem-{name}")
        if problem_widget:
            problem_widget.first(Static).update("; ".join(messages))
        return messages

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id and event.input.id.startswith("field-"):
            self.check_field(event.input.id.removeprefix("field-"))

    def on_text_area_changed(self, event: TextArea.Changed) -> None:
        del event
        self.check_field("settings")

    def tenant(self) -> dict[str, Any] | None:
        """Return the form as a tenant mapping, or None after showing every
        problem."""
        values: dict[str, Any] = {}
        problems = 0
        for name in tenant_spec.FIELDS:
            problems += len(self.check_field(name))
            try:
                value = self._value(name)
            except ValueError:
                continue
            if (
                value is not None
                and value != []
                and not (name == "settings" and value == {})
            ):
                values[name] = value
        summary = self.query_one("#form-summary", Static)
        if problems:
            summary.update(
                f"{problems} problem(s) to fix before this tenant can be onboarded."
            )
            return None
        try:
            tenant_spec.validate_tenant(values)
        except tenant_spec.TenantSpecError as error:
            summary.update(_problem_text(error.problems))
            return None
        summary.update("")
        return values

    # Actions -------------------------------------------------------------

    def _submit(self, check: bool) -> None:
        tenant = self.tenant()
        if tenant is None:
            self.notify(
                "The form has invalid fields; each one shows its problem.",
                title="Tenant not valid",
                severity="error",
            )
            return
        self.post_message(self.Submitted(tenant, check))

    def action_preview(self) -> None:
        self._submit(check=True)

    def action_onboard(self) -> None:
        self._submit(check=False)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self._submit(check=event.button.id == "preview")

    def fill(self, tenant: dict[str, Any]) -> None:
        """Set the form from a tenant mapping (used to load a tenant file)."""
        for name, value in tenant.items():
            if name in ("tier", "company_size"):
                self.query_one(f"#field-{name}", Select).value = value
            elif name == "allow_registration":
                self.query_one("#field-allow_registration", Checkbox).value = bool(
                    value
                )
            elif name == "features":
                selection = self.query_one("#field-features", SelectionList)
                selection.deselect_all()
                for feature in value:
                    selection.select(feature)
            elif name == "settings":
                self.query_one("#field-settings", TextArea).text = json.dumps(
                    value, indent=2
                )
            else:
                self.query_one(f"#field-{name}", Input).value = str(value)
