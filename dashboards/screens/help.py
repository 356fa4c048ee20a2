"""`?`: every key binding of the screen underneath and of the app, read from their BINDINGS (so
the help cannot drift from what the keys do)."""

from __future__ import annotations

from pathlib import Path
from typing import ClassVar

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

Section = tuple[str, list[tuple[str, str]]]
"""(title, [(key, what it does)])"""

KEY_NAMES = {"question_mark": "?", "slash": "/", "escape": "Esc", "enter": "Enter"}


def binding_sections(*owners: type) -> list[Section]:
    """One section per class (in the MRO of each owner) that declares BINDINGS and a
    HELP_SECTION title; each binding once, the first declaration winning."""
    sections: list[Section] = []
    seen: set[str] = set()
    for owner in owners:
        for cls in owner.__mro__:
            title = cls.__dict__.get("HELP_SECTION")
            bindings = cls.__dict__.get("BINDINGS")
            if not title or not bindings:
                continue
            rows = []
            for binding in bindings:
                if not isinstance(binding, Binding) or binding.key in seen:
                    continue
                seen.add(binding.key)
                key = binding.key_display or KEY_NAMES.get(binding.key, binding.key)
                what = binding.tooltip or binding.description or binding.action
                rows.append((key, what))
            if rows:
                sections.append((title, rows))
    return sections


class HelpScreen(ModalScreen[None]):
    CSS_PATH = Path(__file__).with_name("modals.tcss")
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "close"),
        Binding("question_mark", "close", "close", key_display="?"),
    ]

    def __init__(self, sections: list[Section]) -> None:
        super().__init__()
        self.sections = sections

    def compose(self) -> ComposeResult:
        parts: list[Text | Table] = []
        for title, rows in self.sections:
            parts.append(Text(title, style="bold"))
            table = Table(box=None, show_header=False, pad_edge=False, padding=(0, 2, 0, 0))
            table.add_column("key", style="bold cyan", no_wrap=True, min_width=5)
            table.add_column("what")
            for key, what in rows:
                table.add_row(key, what)
            parts.append(table)
            parts.append(Text(""))
        parts.append(Text("Esc or ? closes this help", style="dim"))
        with VerticalScroll(id="help"):
            yield Static(Group(*parts), id="help-keys")

    def on_mount(self) -> None:
        self.query_one("#help").border_title = "Keys"

    def action_close(self) -> None:
        self.dismiss(None)
