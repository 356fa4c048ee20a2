"""Colours shared by the widgets: a phase always looks the same wherever it is shown."""

from __future__ import annotations

from rich.text import Text

PHASE_STYLES = {
    "Healthy": "bold green",
    "Progressing": "bold cyan",
    "Paused": "bold yellow",
    "Degraded": "bold red",
}


def phase_text(phase: str) -> Text:
    return Text(phase, style=PHASE_STYLES.get(phase, "bright_black"))
