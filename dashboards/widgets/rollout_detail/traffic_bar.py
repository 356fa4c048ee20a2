"""Stable against canary (or new) weight, as one bar (a baseline's share between them, when a
router splits three ways): the weights the controller read back from the traffic layer, never
the planned ones."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dashboards.detail import Traffic

WIDTH = 40


class TrafficBar(Static):
    def on_mount(self) -> None:
        self.border_title = "Traffic"

    def show(self, traffic: Traffic | None, *, blue_green: bool) -> None:
        if traffic is None:
            self.update(Text("no weights recorded yet", style="italic"))
            return
        other = "new" if blue_green else "canary"
        if traffic.stable_revision == traffic.canary_revision:
            self.update(Text(f"100% to {traffic.stable_revision} (no update in progress)"))
            return
        canary_cells = round(traffic.canary * WIDTH / 100)
        baseline_cells = round(traffic.baseline * WIDTH / 100)
        text = Text()
        text.append(f"stable {traffic.stable:>3}% ")
        text.append("█" * (WIDTH - canary_cells - baseline_cells), style="green")
        text.append("█" * baseline_cells, style="cyan")
        text.append("█" * canary_cells, style="yellow")
        text.append(f" {traffic.canary:>3}% {other}")
        if traffic.baseline:
            text.append(f", {traffic.baseline}% baseline")
        text.append("\n")
        text.append(f"{traffic.stable_revision}", style="green")
        if traffic.baseline:
            text.append(" / ")
            text.append(f"{traffic.baseline_revision}", style="cyan")
        text.append(" / ")
        text.append(f"{traffic.canary_revision}", style="yellow")
        self.update(text)
