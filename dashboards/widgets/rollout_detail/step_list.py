"""A canary's steps, or a blue-green's stages, with the current one marked and a timed pause (or
auto-promotion) counting down."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dashboards.detail import CURRENT, DONE, FAILED, StepEntry

MARKS = {DONE: ("✓", "green"), CURRENT: (">", "bold yellow"), FAILED: ("✗", "bold red")}


class StepList(Static):
    def show(self, entries: list[StepEntry], *, title: str) -> None:
        self.border_title = title
        if not entries:
            self.update(Text("(none: a new revision is rolled out at once)", style="italic"))
            return
        width = max(len(e.text) for e in entries)
        text = Text()
        for i, entry in enumerate(entries):
            mark, style = MARKS.get(entry.state, (" ", ""))
            if i:
                text.append("\n")
            text.append(f"{mark} ", style=style)
            line_style = {CURRENT: "bold", DONE: "dim"}.get(entry.state, "")
            text.append(f"{entry.number}. {entry.text:<{width}}", style=line_style)
            if entry.note:
                text.append(f"  {entry.note}", style=style)
        self.update(text)
