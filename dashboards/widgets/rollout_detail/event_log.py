"""The rollout's recent Kubernetes Events, oldest first."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static


class EventLog(Static):
    def on_mount(self) -> None:
        self.border_title = "Events"

    def show(self, lines: list[tuple[str, str, str, str]] | None) -> None:
        if lines is None:
            self.update(Text("reading events…", style="italic"))
            return
        if not lines:
            self.update(Text("(none)", style="italic"))
            return
        table = Table(box=None, expand=True, show_header=False, pad_edge=False)
        table.add_column("time", no_wrap=True)
        table.add_column("type", no_wrap=True)
        table.add_column("reason", no_wrap=True)
        table.add_column("message", ratio=1)
        for at, kind, reason, message in lines:
            style = "yellow" if kind == "Warning" else ""
            table.add_row(at, Text(kind, style=style), reason, message)
        self.update(table)
