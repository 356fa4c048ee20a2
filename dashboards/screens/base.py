"""What the list and the detail screen share: the actions on a rollout, bound to keys, each asked
in a confirmation dialog first; and the hooks the app calls when the watches bring changes
and when the clock moves."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING, ClassVar, cast

from textual.binding import Binding, BindingType
from textual.screen import Screen

from dashboards.actions import ACTIONS, Action
from dashboards.screens.confirm import ConfirmScreen

if TYPE_CHECKING:
    from dashboards.app import DashboardApp


def _binding(name: str, action: str) -> Binding:
    spec = ACTIONS[name]
    return Binding(spec.key, action, spec.name, tooltip=spec.description)


class RolloutScreen(Screen[None]):
    HELP_SECTION: ClassVar[str] = "Actions on the selected rollout (each asks first)"
    BINDINGS: ClassVar[list[BindingType]] = [
        _binding("pause", "pause"),
        _binding("resume", "resume"),
        _binding("promote", "promote"),
        _binding("promote --full", "promote_full"),
        _binding("abort", "abort"),
        _binding("retry", "retry"),
        _binding("undo", "undo"),
    ]

    @property
    def dashboard(self) -> DashboardApp:
        return cast("DashboardApp", self.app)

    # -- hooks the app calls -----------------------------------------------------------------
    def target(self) -> tuple[str, str] | None:
        """(namespace, name) of the rollout the actions apply to."""
        raise NotImplementedError

    def rollouts_changed(self, keys: set[str]) -> None:
        """The watches brought changes to these rollouts (keys are namespace/name)."""

    def tick(self, now: datetime) -> None:
        """The clock moved on (ages, countdowns)."""

    # -- actions -----------------------------------------------------------------------------
    def action_pause(self) -> None:
        self._ask(ACTIONS["pause"])

    def action_resume(self) -> None:
        self._ask(ACTIONS["resume"])

    def action_promote(self) -> None:
        self._ask(ACTIONS["promote"])

    def action_promote_full(self) -> None:
        self._ask(ACTIONS["promote --full"])

    def action_abort(self) -> None:
        self._ask(ACTIONS["abort"])

    def action_retry(self) -> None:
        self._ask(ACTIONS["retry"])

    def action_undo(self) -> None:
        self._ask(ACTIONS["undo"])

    def _ask(self, action: Action) -> None:
        target = self.target()
        if target is None:
            self.notify("no rollout selected", severity="warning")
            return
        namespace, name = target
        self.app.push_screen(
            ConfirmScreen(action, namespace=namespace, name=name),
            callback=partial(self._answered, action, namespace, name),
        )

    def _answered(self, action: Action, namespace: str, name: str, answer: str | None) -> None:
        if answer is None:
            self.notify(
                f'{action.name} "{name}" cancelled: nothing was changed',
                title="cancelled",
                markup=False,
            )
            return
        self.dashboard.perform(action, namespace, name, answer)
