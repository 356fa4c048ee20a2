"""The list screen's status line: how many rollouts are shown, the sort, the scope, and the
watch's health (a refused or broken watch says so here, and that it is retrying)."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static


class ListStatus(Static):
    def show(
        self, *, shown: int, total: int, scope: str, sort: str, loaded: bool, problem: str
    ) -> None:
        text = Text()
        if not loaded:
            text.append("listing rollouts…", style="italic")
        else:
            text.append(f"{shown} of {total} rollouts", style="bold")
        text.append(f"  ·  {scope}  ·  sorted by {sort}")
        if problem:
            text.append(f"  ·  {problem}", style="bold red")
        self.update(text)
