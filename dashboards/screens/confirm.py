"""The confirmation dialog every action goes through: `y` does it, `n` or Escape leaves the
rollout as it is. Undo also asks which revision (empty: the previous one)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Label

from dashboards.actions import Action


class ConfirmScreen(ModalScreen[str | None]):
    """Dismissed with None (cancelled) or the answer: the revision typed for undo, else ""."""

    CSS_PATH = Path(__file__).with_name("modals.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "confirm", "yes"),
        Binding("n", "cancel", "no"),
        Binding("escape", "cancel", "cancel"),
    ]

    def __init__(self, action: Action, *, namespace: str, name: str) -> None:
        super().__init__()
        self.request = action
        self.namespace = namespace
        self.rollout_name = name

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"{self.request.name}  {self.namespace}/{self.rollout_name}", id="title")
            yield Label(self.request.question.format(name=self.rollout_name), id="question")
            if self.request.asks_revision:
                yield Input(placeholder="revision number (empty: the previous one)", id="revision")
            with Horizontal(id="buttons"):
                yield Button("Yes (y)", id="yes", variant="warning")
                yield Button("No (n)", id="no", variant="primary")

    def on_mount(self) -> None:
        if self.request.asks_revision:
            self.query_one("#revision", Input).focus()
        else:
            self.query_one("#no", Button).focus()  # Enter alone never changes a rollout

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "yes":
            self.action_confirm()
        else:
            self.action_cancel()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_confirm()

    def action_confirm(self) -> None:
        answer = self.query_one("#revision", Input).value if self.request.asks_revision else ""
        self.dismiss(answer)

    def action_cancel(self) -> None:
        self.dismiss(None)
