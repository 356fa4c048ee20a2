"""The top of the detail screen: which rollout, its phase, strategy, what it waits for, since
when; for blue-green also the active and preview revisions and the promotion mode (the CLI's
`rollout get` header lines)."""

from __future__ import annotations

from datetime import datetime

from rich.text import Text
from textual.widgets import Static

from dashboards.detail import strategy_text
from dashboards.rows import RolloutRow
from dashboards.widgets.styles import phase_text
from rollout.cli import render_bluegreen as bluegreen
from rollout.kube.client import Obj


class RolloutSummary(Static):
    def show(self, rollout: Obj, row: RolloutRow, revisions: list[Obj], now: datetime) -> None:
        spec, status = rollout.get("spec") or {}, rollout.get("status") or {}
        text = Text()
        text.append(f"{row.name}", style="bold")
        text.append(f"  ({row.namespace})  ")
        text.append_text(phase_text(row.phase))
        text.append(f"   {strategy_text(rollout)}\n")
        where = "Stage:      " if row.strategy == "blueGreen" else "Step:       "
        text.append(f"{where}{row.step}, for {row.text('age', now)}\n")
        text.append("Message:    ", style="bold")
        text.append(f"{status.get('message', '') or '-'}\n")
        text.append(
            f"Replicas:   desired {spec.get('replicas', '-')}, "
            f"available {status.get('availableReplicas', 0)}"
        )
        if row.strategy == "blueGreen":
            for line in bluegreen.header_lines(rollout, revisions):
                if not line.startswith("Traffic:"):  # the traffic bar shows it
                    text.append(f"\n{line}")
        if spec.get("paused"):
            text.append("\nPaused:     yes (spec.paused): r resumes", style="yellow")
        if status.get("abort"):
            text.append(f"\nAborted:    {status.get('abortMessage', '')}", style="red")
        self.update(text)
