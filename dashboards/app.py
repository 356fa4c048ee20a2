"""`DashboardApp`: the Textual app behind `rollout dashboard`.

It owns the two list-then-watch streams (Rollouts, and their revision Deployments), each in a
thread worker feeding a `Changes` buffer; every FLUSH seconds the buffered changes go into the
`Store` and the screens update the rows (or panels) of the rollouts that changed, so a burst
of events costs one screen update. Actions run in thread workers too; their result, or the API's
refusal, is a notification. Everything goes through `RolloutsAPI`, the facade the CLI uses.

The clock is a parameter (`clock`), so ages and countdowns are reproducible in tests.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.worker import get_current_worker

from dashboards.actions import Action
from dashboards.screens.base import RolloutScreen
from dashboards.screens.help import HelpScreen, binding_sections
from dashboards.screens.rollout_detail import RolloutDetailScreen
from dashboards.screens.rollout_list import RolloutListScreen
from dashboards.store import Store
from dashboards.watch import Changes, follow
from rollout.api import RolloutsAPI
from rollout.errors import RolloutError

Clock = Callable[[], datetime]
FLUSH = 0.1
"""Seconds between screen updates from the watches (events in between are coalesced)."""


def utc_now() -> datetime:
    return datetime.now(UTC)


class DashboardApp(App[None]):
    # Absolute paths: Textual reads a relative CSS_PATH beside the *subclass*'s module.
    CSS_PATH = Path(__file__).with_name("app.tcss")
    TITLE = "rollout dashboard"
    HELP_SECTION: ClassVar[str] = "Everywhere"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("question_mark", "help", "help", key_display="?", tooltip="help: this list"),
        Binding("q", "quit", "quit", tooltip="quit the dashboard"),
    ]

    def __init__(
        self,
        api: RolloutsAPI,
        *,
        namespace: str | None,
        clock: Clock = utc_now,
        watch_timeout: int = 300,
        on_ready: Callable[[DashboardApp], None] | None = None,
    ) -> None:
        """`namespace` None: every namespace. `watch_timeout`: how long each watch request
        lasts before it is renewed (from where it was: no relist). `on_ready`: called once the
        first screen is up (the demo starts its releases then)."""
        super().__init__()
        self.api = api
        self.namespace = namespace
        self.clock = clock
        self.watch_timeout = watch_timeout
        self.on_ready = on_ready
        self.store = Store()
        self.rollout_changes = Changes()
        self.revision_changes = Changes()
        self.problem = ""
        """the watches' last problem, shown on the list screen ("" when they work)"""
        self.scope = "all namespaces" if namespace is None else f"namespace {namespace}"
        self.sub_title = self.scope

    def now(self) -> datetime:
        return self.clock()

    def on_mount(self) -> None:
        self.push_screen(RolloutListScreen())
        self.watch_rollouts()
        self.watch_revisions()
        self.set_interval(FLUSH, self.flush)
        self.set_interval(1.0, self.tick)
        if self.on_ready is not None:
            self.on_ready(self)

    # -- the watches ---------------------------------------------------------------------------
    @work(thread=True, group="watch", name="watch rollouts")
    def watch_rollouts(self) -> None:
        namespace = self.namespace
        follow(
            lambda: self.api.list_rollouts(namespace),
            lambda version, timeout: self.api.watch_rollouts(
                namespace, resource_version=version, timeout_seconds=timeout
            ),
            self.rollout_changes,
            stop=get_current_worker().cancelled_event,
            what="watch rollouts",
            watch_timeout=self.watch_timeout,
        )

    @work(thread=True, group="watch", name="watch revisions")
    def watch_revisions(self) -> None:
        namespace = self.namespace
        follow(
            lambda: self.api.list_revisions(namespace),
            lambda version, timeout: self.api.watch_revisions(
                namespace, resource_version=version, timeout_seconds=timeout
            ),
            self.revision_changes,
            stop=get_current_worker().cancelled_event,
            what="watch revisions",
            watch_timeout=self.watch_timeout,
        )

    def flush(self) -> None:
        """Take in what the watches brought since the last flush; update the screens."""
        rollouts, revisions = self.rollout_changes.take(), self.revision_changes.take()
        if not rollouts and not revisions:
            return
        for batch in (rollouts, revisions):
            if batch.error is not None:
                self.problem = batch.error
        touched = self.store.apply_rollouts(rollouts) | self.store.apply_revisions(revisions)
        for screen in self._live_screens():
            screen.rollouts_changed(touched)

    def tick(self) -> None:
        now = self.now()
        for screen in self._live_screens():
            screen.tick(now)

    def _live_screens(self) -> list[RolloutScreen]:
        """The rollout screens to update: only those composed and mounted (a screen just
        pushed is on the stack, and attached, before its widgets exist: a tick then found no
        StepList), and none once the app is quitting (a timer can still fire while the
        screens are being taken down)."""
        if not self.is_running:
            return []
        return [
            s
            for s in self.screen_stack
            if isinstance(s, RolloutScreen) and s.is_attached and s.is_mounted
        ]

    # -- screens ---------------------------------------------------------------------------
    def open_detail(self, key: str) -> None:
        self.push_screen(RolloutDetailScreen(key))

    def action_help(self) -> None:
        if not isinstance(self.screen, RolloutScreen):  # not over a dialog, nor over itself
            return
        self.push_screen(HelpScreen(binding_sections(type(self.screen), type(self))))

    # -- actions ---------------------------------------------------------------------------
    @work(thread=True, group="actions")
    def perform(self, action: Action, namespace: str, name: str, answer: str) -> None:
        """Do the action (confirmed); say what happened, or why the API refused."""
        try:
            action.call(self.api, namespace, name, answer)
        except RolloutError as err:
            # notify is safe from a thread (and says nothing once the app is quitting)
            self.notify(
                str(err), title=f"{action.name} refused", severity="error", timeout=8, markup=False
            )
            return
        self.notify(f'rollout "{name}" {action.done}', title=action.name, markup=False)
