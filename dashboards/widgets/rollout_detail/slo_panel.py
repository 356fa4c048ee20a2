"""The SLO gates: each SLO's error budget remaining and its burn rates, from the figures the
release gate and the step gate record with their measurements. Hidden without gate runs."""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from dashboards.analysis import SLOView


def _rate(value: float | None) -> str:
    return "no data" if value is None else f"{value:.3g}x"


class SLOPanel(Static):
    def on_mount(self) -> None:
        self.border_title = "SLOs"

    def show(self, views: list[SLOView]) -> None:
        self.display = bool(views)
        text = Text()
        for i, view in enumerate(views):
            if i:
                text.append("\n")
            text.append(f"{view.slo}", style="bold")
            text.append(f" ({view.gate} gate, {view.reason or '-'}): ")
            if view.budget_remaining is not None:
                low = (
                    view.min_budget_remaining is not None
                    and view.budget_remaining < view.min_budget_remaining
                )
                text.append(
                    f"error budget remaining {view.budget_remaining * 100:.1f}%",
                    style="bold red" if low else "bold green",
                )
                if view.min_budget_remaining is not None:
                    text.append(f" (min {view.min_budget_remaining * 100:g}%)")
                text.append("; ")
            label = "burn" if view.gate == "release" else "burn since the update began"
            text.append(f"{label} " + ", ".join(f"{w} {_rate(r)}" for w, r in view.burn_rates))
        self.update(text)
