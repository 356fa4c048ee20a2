"""The working copy of a status during one decision, and the history it records."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from rollout.models import HistoryEntry, RolloutStatus
from rollout.models.analysis_status import Measurement
from rollout.models.status import HISTORY_LIMIT, PauseCondition, PauseReason


@dataclass(frozen=True)
class Termination:
    """A measurement whose run ended: the reconciler stops it (deletes its Job)."""

    run: str
    metric: str
    measurement: Measurement | None
    """The Running measurement on record; None: none is, but one may have started whose
    record was lost (the provider created a Job, then the status write met a 409)."""


@dataclass
class Draft:
    status: RolloutStatus
    now: datetime
    events: list[HistoryEntry] = field(default_factory=list)
    terminations: list[Termination] = field(default_factory=list)
    """Running measurements (Jobs) of runs that ended in this decision: to be stopped."""

    def record(
        self, reason: str, message: str, *, revision: str | None = None, step: int | None = None
    ) -> None:
        entry = HistoryEntry(
            time=self.now, reason=reason, message=message, revision=revision, step=step
        )
        self.events.append(entry)
        self.status.history = [*self.status.history, entry][-HISTORY_LIMIT:]

    def pause(self, reason: PauseReason) -> PauseCondition:
        """The pause condition for `reason`, added (starting now) if it is not there yet."""
        for condition in self.status.pause_conditions:
            if condition.reason == reason:
                return condition
        condition = PauseCondition(reason=reason, start_time=self.now)
        self.status.pause_conditions = [*self.status.pause_conditions, condition]
        return condition

    def unpause(self, reason: PauseReason) -> None:
        self.status.pause_conditions = [
            c for c in self.status.pause_conditions if c.reason != reason
        ]
