"""One rollout in detail: summary, steps (or stages) with countdowns, traffic, revisions,
analysis with sparklines, SLO gates, events. The rollout and its revisions come from the app's
watches; events and analysis templates are read (in workers) when the screen opens and again
when the rollout changes."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Footer, Header
from textual.worker import get_current_worker

from dashboards.analysis import metric_conditions, run_views, slo_views, template_refs
from dashboards.detail import event_lines, last_decision, revision_rows, step_entries, traffic
from dashboards.rows import row_of
from dashboards.screens.base import RolloutScreen
from dashboards.widgets.rollout_detail.analysis_panel import AnalysisPanel
from dashboards.widgets.rollout_detail.event_log import EventLog
from dashboards.widgets.rollout_detail.revision_table import RevisionTable
from dashboards.widgets.rollout_detail.slo_panel import SLOPanel
from dashboards.widgets.rollout_detail.step_list import StepList
from dashboards.widgets.rollout_detail.summary import RolloutSummary
from dashboards.widgets.rollout_detail.traffic_bar import TrafficBar
from rollout.errors import RolloutError
from rollout.kube.client import Obj

Conditions = dict[str, dict[str, dict[str, str | None]]]
"""run -> metric -> successCondition / failureCondition"""


class RolloutDetailScreen(RolloutScreen):
    class EventsRead(Message):
        """A worker read the rollout's events (posted from its thread: messages are the
        thread-safe way in, and are dropped once the screen is gone)."""

        def __init__(self, events: list[Obj]) -> None:
            super().__init__()
            self.events = events

    class TemplatesRead(Message):
        def __init__(self, conditions: Conditions) -> None:
            super().__init__()
            self.conditions = conditions

    CSS_PATH = Path(__file__).with_name("rollout_detail.tcss")
    HELP_SECTION: ClassVar[str] = "Detail"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "back", "back", tooltip="back: the list of rollouts"),
        Binding("backspace", "back", "back", show=False),
    ]

    def __init__(self, key: str) -> None:
        super().__init__()
        self.key = key
        self.namespace, _, self.rollout_name = key.partition("/")
        self.events: list[Obj] | None = None
        self.conditions: Conditions = {}
        self._refs: dict[str, list[tuple[str, bool]]] | None = None

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="detail"):
            yield RolloutSummary(id="summary")
            with Horizontal(id="middle"):
                yield StepList(id="steps")
                with Vertical(id="right"):
                    yield TrafficBar(id="traffic")
                    yield RevisionTable(id="revisions")
            yield AnalysisPanel(id="analysis")
            yield SLOPanel(id="slos")
            yield EventLog(id="events")
        yield Footer()

    def on_mount(self) -> None:
        self.sub_title = self.key
        self.show()
        self.load_events()

    @property
    def rollout(self) -> Obj | None:
        return self.dashboard.store.rollouts.get(self.key)

    # -- what the app calls ------------------------------------------------------------------
    def target(self) -> tuple[str, str] | None:
        return (self.namespace, self.rollout_name) if self.rollout is not None else None

    def rollouts_changed(self, keys: set[str]) -> None:
        if self.key in keys:
            self.show()
            self.load_events()

    def tick(self, now: datetime) -> None:
        rollout = self.rollout
        if rollout is not None:
            self._show_timed(rollout, now)

    # -- showing -------------------------------------------------------------------------------
    def show(self) -> None:
        rollout = self.rollout
        if rollout is None:
            self.query_one(RolloutSummary).update(f"{self.key}: not found (deleted?)")
            return
        revisions = self.dashboard.store.revisions(self.key)
        blue_green = row_of(rollout, revisions).strategy == "blueGreen"
        self._show_timed(rollout, self.dashboard.now())
        self.query_one(TrafficBar).show(traffic(rollout), blue_green=blue_green)
        self.query_one(RevisionTable).show(revision_rows(rollout, revisions))
        status = rollout.get("status") or {}
        self.query_one(AnalysisPanel).show(
            run_views(status, self.conditions), last_decision(rollout)
        )
        self.query_one(SLOPanel).show(slo_views(status))
        self.query_one(EventLog).show(None if self.events is None else event_lines(self.events))
        refs = template_refs(rollout)
        if refs != self._refs:
            self._refs = refs
            self.load_templates(refs)

    def _show_timed(self, rollout: Obj, now: datetime) -> None:
        """What moves with the clock: the step's age and a pause's countdown."""
        revisions = self.dashboard.store.revisions(self.key)
        row = row_of(rollout, revisions)
        self.query_one(RolloutSummary).show(rollout, row, list(revisions.values()), now)
        title = "Stages" if row.strategy == "blueGreen" else "Steps"
        self.query_one(StepList).show(step_entries(rollout, now), title=title)

    # -- reading (workers) ---------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="events")
    def load_events(self) -> None:
        try:
            events = self.dashboard.api.events(self.namespace, self.rollout_name)
        except RolloutError as err:
            self.notify(str(err), title="events", severity="warning", markup=False)
            return
        if not get_current_worker().is_cancelled:
            self.post_message(self.EventsRead(events))

    def on_rollout_detail_screen_events_read(self, message: EventsRead) -> None:
        self.events = message.events
        self.query_one(EventLog).show(event_lines(self.events))

    @work(thread=True, exclusive=True, group="templates")
    def load_templates(self, refs: dict[str, list[tuple[str, bool]]]) -> None:
        """The templates' conditions, for the thresholds; a template that cannot be read
        leaves its metrics without one (the controller reports it in the status)."""
        conditions: Conditions = {}
        for run, templates in refs.items():
            found = []
            for name, cluster_scope in templates:
                try:
                    found.append(
                        self.dashboard.api.analysis_template(
                            self.namespace, name, cluster_scope=cluster_scope
                        )
                    )
                except RolloutError:
                    continue
            conditions[run] = metric_conditions(found)
        if not get_current_worker().is_cancelled:
            self.post_message(self.TemplatesRead(conditions))

    def on_rollout_detail_screen_templates_read(self, message: TemplatesRead) -> None:
        self.conditions = message.conditions
        self.show()

    def action_back(self) -> None:
        self.dismiss(None)
