"""Analysis: each run, and each metric's recent measurements as a sparkline against its
threshold, with the last value, the metric's phase and why; then the reason of the last
decision (status.message and the last history entry)."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from dashboards.analysis import PHASE_STYLES, RunView, sparkline


class AnalysisPanel(Static):
    def on_mount(self) -> None:
        self.border_title = "Analysis"

    def show(self, runs: list[RunView], decision: tuple[str, str]) -> None:
        parts: list[Text | Table] = []
        if not runs:
            parts.append(Text("no analysis runs in this update", style="italic"))
        widths = _widths(runs)  # the same columns in every run's table
        for run in runs:
            title = Text()
            title.append(f"{run.name} {run.where}".strip(), style="bold")
            title.append("  ")
            title.append(run.phase, style=PHASE_STYLES.get(run.phase, ""))
            if run.message:
                title.append(f"  {run.message}")
            parts.append(title)
            if not run.metrics:
                continue
            table = Table(box=None, pad_edge=False, show_header=True, header_style="dim")
            for header, width in zip(HEADERS, widths, strict=True):
                wide = header == "why"
                table.add_column(
                    header, no_wrap=not wide, ratio=1 if wide else None, min_width=width
                )
            for metric in run.metrics:
                table.add_row(
                    f"  {metric.name}",
                    sparkline(metric.values, metric.phases, metric.threshold),
                    metric.threshold.text if metric.threshold else "none",
                    metric.last,
                    Text(metric.phase, style=PHASE_STYLES.get(metric.phase, "")),
                    metric.message,
                )
            parts.append(table)
        message, last = decision
        why = Text("\nLast decision: ", style="bold")
        why.append(message or "-")
        if last:
            why.append("\n  history: ", style="bold")
            why.append(last)
        parts.append(why)
        self.update(Group(*parts))


HEADERS = ("  metric", "measurements", "threshold", "last", "phase", "why")


def _widths(runs: list[RunView]) -> list[int]:
    metrics = [m for run in runs for m in run.metrics]
    cells = [
        [
            f"  {m.name}",
            " " * (len(m.values) + 3),
            m.threshold.text if m.threshold else "none",
            m.last,
            m.phase,
            "",
        ]
        for m in metrics
    ]
    return [max([len(h), *(len(c[i]) for c in cells)]) for i, h in enumerate(HEADERS)]
