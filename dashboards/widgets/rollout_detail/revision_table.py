"""The revisions (one Deployment each) with their numbers, images, roles and pods."""

from __future__ import annotations

from rich.table import Table
from rich.text import Text
from textual.widgets import Static

from dashboards.detail import RevisionRow


class RevisionTable(Static):
    def on_mount(self) -> None:
        self.border_title = "Revisions"

    def show(self, rows: list[RevisionRow]) -> None:
        if not rows:
            self.update(Text("(none yet)", style="italic"))
            return
        table = Table(box=None, expand=True, pad_edge=False)
        for header in ("REV", "HASH", "IMAGES", "ROLE", "PODS (avail/desired)"):
            table.add_column(header, style="bold" if header == "REV" else "", no_wrap=True)
        for row in rows:
            pods = Text(f"{row.available}/{row.desired}")
            if row.available < row.desired:
                pods.stylize("yellow")
            table.add_row(row.number, row.revision, row.images, row.role, pods)
        self.update(table)
