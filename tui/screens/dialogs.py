"""Modal dialogs: typed confirmation, the one-time password and help."""

from __future__ import annotations

from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label, Static

from tui.core.credentials import AdminCredentials


class ConfirmScreen(ModalScreen[bool]):
    """Ask the operator to type the tenant id before a change goes ahead."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Cancel")]
    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 70; height: auto; border: thick $warning; padding: 1 2;
        background: $surface;
    }
    ConfirmScreen Horizontal { height: auto; margin-top: 1; }
    """

    def __init__(self, action: str, tenant_id: str, warning: str = "") -> None:
        super().__init__()
        self.action = action
        self.tenant_id = tenant_id
        self.warning = warning

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Label(f"{self.action.capitalize()} tenant {self.tenant_id}?")
            if self.warning:
                yield Static(self.warning)
            yield Label(f"Type the tenant id ({self.tenant_id}) to confirm:")
            yield Input(placeholder=self.tenant_id, id="confirm-input")
            with Horizontal():
                yield Button(
                    self.action.capitalize(),
                    variant="error",
                    id="confirm-ok",
                    disabled=True,
                )
                yield Button("Cancel", id="confirm-cancel")

    def on_input_changed(self, event: Input.Changed) -> None:
        self.query_one("#confirm-ok", Button).disabled = event.value != self.tenant_id

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.value == self.tenant_id:
            self.dismiss(True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        self.dismiss(event.button.id == "confirm-ok")

    def action_cancel(self) -> None:
        self.dismiss(False)


class PasswordScreen(ModalScreen[None]):
    """Show a new admin's temporary password once, with a copy key."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("c", "copy", "Copy password"),
        Binding("escape", "close", "Close"),
    ]
    DEFAULT_CSS = """
    PasswordScreen { align: center middle; }
    PasswordScreen > Vertical {
        width: 76; height: auto; border: thick $success; padding: 1 2;
        background: $surface;
    }
    PasswordScreen #password { text-style: bold; margin: 1 0; }
    """

    def __init__(self, credentials: AdminCredentials) -> None:
        super().__init__()
        self._credentials = credentials

    def compose(self) -> ComposeResult:
        credentials = self._credentials
        with Vertical():
            yield Label(f"Tenant {credentials.tenant_id}: first administrator")
            yield Static(
                f"Realm: {credentials.realm}\nUser: {credentials.admin_username}"
            )
            yield Static(credentials.temporary_password, id="password")
            yield Static(
                "This temporary password is shown only now. Press c to copy it, "
                "then hand it over; Keycloak asks for a new one at first login."
            )
            yield Button("Close", id="password-close")

    def action_copy(self) -> None:
        self.app.copy_to_clipboard(self._credentials.temporary_password)
        self.notify("Temporary password copied to the clipboard.", title="Copied")

    def action_close(self) -> None:
        self.dismiss(None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        del event
        self.dismiss(None)


HELP_TEXT = """\
[b]Tenant list[/b]
  enter   tenant details          o   onboard a tenant
  s       suspend                 r   resume
  x       remove (type the id)    h   run history
  /       filter                  1-9 sort by column (again: reverse)
  f5      refresh now             ?   this help
  q       quit

[b]Tenant details[/b]
  s, r, x as above; p shows a new admin's temporary password once.

[b]Onboarding form[/b]
  Every field is checked as you type, with the playbook's rules.
  ctrl+p  preview (check mode)    ctrl+s  onboard

[b]Run view[/b]
  Plays and tasks with host, result and duration as they finish.
  c cancels a live run, escape goes back; the run continues.

[b]History[/b]
  enter replays a past run in the run view.

Markers in the header: DB, Keycloak and DNS are up, [b]down[/b] or unknown.
A red tenant row lacks its realm, DNS record or database row.
"""


class HelpScreen(ModalScreen[None]):
    """Key bindings and what the screens show."""

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,question_mark,q", "close", "Close")
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 72; height: auto; border: thick $primary; padding: 1 2;
        background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with Vertical():
            yield Static(HELP_TEXT)

    def action_close(self) -> None:
        self.dismiss(None)
