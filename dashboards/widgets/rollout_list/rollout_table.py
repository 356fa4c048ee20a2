"""The table of rollouts. Rows are keyed by namespace/name and changed in place: a watch event
rewrites only the cells whose text changed, and the table is rebuilt only when the filter
changes (or on a relist), so thousands of rows stay responsive."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from rich.text import Text
from textual.coordinate import Coordinate
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey, RowDoesNotExist

from dashboards.rows import COLUMN_KEYS, COLUMNS, RolloutRow, weight_bar
from dashboards.widgets.styles import phase_text

Cell = Text
"""Rich Text, never str: a str cell is parsed as markup (a message with "[...]" would be
mangled), which also makes each cell slower to measure."""


def _cell(row: RolloutRow, column: str, now: datetime) -> Cell:
    text = row.text(column, now)
    if column == "phase":
        return phase_text(text)
    if column == "weight":
        cell = Text(weight_bar(row.weight), style="cyan")
        cell.append(f" {text:>4}", style="")
        return cell
    return Text(text)


class RolloutTable(DataTable[Cell]):
    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, id=id)
        self.rows_shown: dict[str, RolloutRow] = {}
        self._texts: dict[str, dict[str, str]] = {}
        """key -> column -> the text shown, to write only the cells that changed"""
        self.sort_column = "name"
        self.sort_reverse = False

    def on_mount(self) -> None:
        for column in COLUMNS:
            self.add_column(column.label, key=column.key)

    # -- reading -----------------------------------------------------------------------------
    def highlighted_key(self) -> str | None:
        if not self.rows_shown or self.cursor_row < 0 or self.cursor_row >= self.row_count:
            return None
        try:
            key = self.coordinate_to_cell_key(Coordinate(self.cursor_row, 0)).row_key.value
        except RowDoesNotExist:
            return None
        return key

    def cell_text(self, key: str, column: str) -> str:
        """What the cell shows, as plain text."""
        return self._texts[key][column]

    # -- writing -----------------------------------------------------------------------------
    def show_all(self, rows: Iterable[RolloutRow], now: datetime) -> None:
        """Replace every row (a new filter, or a relist)."""
        keep = self.highlighted_key()
        self.clear()
        self.rows_shown, self._texts = {}, {}
        for row in rows:
            self._add(row, now)
        self.resort(keep=keep)

    def upsert(self, row: RolloutRow, now: datetime) -> bool:
        """Add the row or rewrite the cells that changed; whether the sort order may have
        changed."""
        old = self.rows_shown.get(row.key)
        if old is None:
            self._add(row, now)
            return True
        self.rows_shown[row.key] = row
        texts = self._texts[row.key]
        for column in COLUMN_KEYS:
            text = row.text(column, now)
            if texts[column] != text:
                texts[column] = text
                self._write(row.key, column, _cell(row, column, now))
        return bool(old.sort_value(self.sort_column) != row.sort_value(self.sort_column))

    def remove_key(self, key: str) -> None:
        if self.rows_shown.pop(key, None) is not None:
            self._texts.pop(key, None)
            self.remove_row(key)

    def tick(self, now: datetime) -> None:
        """The clock moved: rewrite the age cells whose text changed."""
        for key, row in self.rows_shown.items():
            text = row.text("age", now)
            if self._texts[key]["age"] != text:
                self._texts[key]["age"] = text
                self._write(key, "age", Text(text))

    def sort_by(self, column: str, *, reverse: bool) -> None:
        self.sort_column, self.sort_reverse = column, reverse
        self.resort(keep=self.highlighted_key())

    def resort(self, *, keep: str | None) -> None:
        """Sort by the sort column; the cursor goes back to `keep`'s row (the row it was on
        before the change), or stays where it is."""
        column, rows = self.sort_column, self.rows_shown
        self.sort(
            "namespace",
            "name",
            key=lambda cells: rows[f"{cells[0]}/{cells[1]}"].sort_value(column),
            reverse=self.sort_reverse,
        )
        if keep is not None and keep in rows:
            self.move_cursor(row=self.get_row_index(keep), animate=False)

    def _write(self, key: str, column: str, cell: Cell) -> None:
        """Columns only grow between rebuilds: asking Textual to fit a cell that got narrower
        re-measures every cell of its column, which for thousands of rows costs more than
        all the rest of an update."""
        grow = cell.cell_len > self.columns[ColumnKey(column)].content_width
        self.update_cell(key, column, cell, update_width=grow)

    def _add(self, row: RolloutRow, now: datetime) -> None:
        self.rows_shown[row.key] = row
        self._texts[row.key] = {c: row.text(c, now) for c in COLUMN_KEYS}
        self.add_row(*(_cell(row, c, now) for c in COLUMN_KEYS), key=row.key)
