"""The list screen: every Rollout in scope, one row each, live. Type `/` to filter, `s` / `S` (or
click a header) to sort, Enter for the detail screen; the action keys act on the highlighted
row."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.timer import Timer
from textual.widgets import DataTable, Footer, Header, Input

from dashboards.rows import COLUMN_KEYS, COLUMNS, filter_terms, row_of
from dashboards.screens.base import RolloutScreen
from dashboards.widgets.rollout_list.filter_input import FilterInput
from dashboards.widgets.rollout_list.list_status import ListStatus
from dashboards.widgets.rollout_list.rollout_table import RolloutTable

LABELS = {c.key: c.label for c in COLUMNS}
FILTER_DELAY = 0.15
"""Seconds after the last keystroke before the filter applies."""


class RolloutListScreen(RolloutScreen):
    CSS_PATH = Path(__file__).with_name("rollout_list.tcss")
    HELP_SECTION: ClassVar[str] = "List"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("enter", "open", "details", tooltip="details: the highlighted rollout's screen"),
        Binding("slash", "filter", "filter", key_display="/", tooltip="filter: type words"),
        Binding("s", "sort_next", "sort", tooltip="sort by the next column"),
        Binding("S", "sort_reverse", "reverse", tooltip="reverse the sort order"),
        Binding("escape", "clear_filter", "clear filter", show=False, tooltip="clear the filter"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.filter_text = ""
        self._filter_timer: Timer | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        yield FilterInput(id="filter")
        yield RolloutTable(id="rollouts")
        yield ListStatus(id="list-status")
        yield Footer()

    @property
    def table(self) -> RolloutTable:
        return self.query_one(RolloutTable)

    def on_mount(self) -> None:
        self.table.focus()
        self.show_all()

    # -- what the app calls ------------------------------------------------------------------
    def target(self) -> tuple[str, str] | None:
        key = self.table.highlighted_key()
        if key is None:
            return None
        namespace, _, name = key.partition("/")
        return namespace, name

    def rollouts_changed(self, keys: set[str]) -> None:
        store, now, table = self.dashboard.store, self.dashboard.now(), self.table
        terms = filter_terms(self.filter_text)
        keep = table.highlighted_key()
        moved = False
        for key in keys:
            rollout = store.rollouts.get(key)
            row = None if rollout is None else row_of(rollout, store.revisions(key))
            if row is None or not row.matches(terms):
                table.remove_key(key)
            else:
                moved = table.upsert(row, now) or moved
        if moved:
            table.resort(keep=keep)
        self._status()

    def tick(self, now: datetime) -> None:
        self.table.tick(now)

    def show_all(self) -> None:
        store, terms = self.dashboard.store, filter_terms(self.filter_text)
        rows = (row_of(r, store.revisions(k)) for k, r in store.rollouts.items())
        self.table.show_all((r for r in rows if r.matches(terms)), self.dashboard.now())
        self._status()

    def _status(self) -> None:
        table, dashboard = self.table, self.dashboard
        arrow = "↓" if table.sort_reverse else "↑"
        self.query_one(ListStatus).show(
            shown=len(table.rows_shown),
            total=len(dashboard.store.rollouts),
            scope=dashboard.scope,
            sort=f"{LABELS[table.sort_column]} {arrow}",
            loaded=dashboard.store.rollouts_listed,
            problem=dashboard.problem,
        )

    # -- filter --------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        """Filter once typing pauses: rebuilding thousands of rows per keystroke would make
        typing lag."""
        self.filter_text = event.value
        if self._filter_timer is not None:
            self._filter_timer.stop()
        self._filter_timer = self.set_timer(FILTER_DELAY, self.show_all)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.table.focus()

    def action_filter(self) -> None:
        self.query_one(FilterInput).focus()

    def action_clear_filter(self) -> None:
        self.query_one(FilterInput).value = ""  # posts Changed: the table shows every row again
        self.table.focus()

    # -- sort ----------------------------------------------------------------------------------
    def action_sort_next(self) -> None:
        table = self.table
        index = COLUMN_KEYS.index(table.sort_column)
        table.sort_by(COLUMN_KEYS[(index + 1) % len(COLUMN_KEYS)], reverse=False)
        self._status()

    def action_sort_reverse(self) -> None:
        self.table.sort_by(self.table.sort_column, reverse=not self.table.sort_reverse)
        self._status()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        column = str(event.column_key.value)
        table = self.table
        reverse = not table.sort_reverse if column == table.sort_column else False
        table.sort_by(column, reverse=reverse)
        self._status()

    # -- detail --------------------------------------------------------------------------------
    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.row_key.value is not None:
            self.dashboard.open_detail(event.row_key.value)

    def action_open(self) -> None:
        key = self.table.highlighted_key()
        if key is not None:
            self.dashboard.open_detail(key)
