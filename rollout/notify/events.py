"""Which notification events one decision produces. Pure.

Read from what the decision changed: the history entries it recorded (the engine's own words
for what happened) and the phase and analysis runs before and after. Each event is produced
once, by the decision that made it happen; a decision that is re-made after a failed status
write produces it again, and the one that is written is the one sent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from rollout.models import HistoryEntry, Phase, RolloutStatus
from rollout.models.analysis_status import AnalysisPhase
from rollout.models.notifications import NotificationEvent

_BY_REASON: dict[str, NotificationEvent] = {
    "NewRevision": NotificationEvent.STARTED,
    "Retried": NotificationEvent.STARTED,
    "StepCompleted": NotificationEvent.STEP_COMPLETED,
    "StepPromoted": NotificationEvent.STEP_COMPLETED,
    "Promoted": NotificationEvent.PROMOTED,
    "RolloutAborted": NotificationEvent.ABORTED,
    "RolledBack": NotificationEvent.ABORTED,
}


@dataclass(frozen=True)
class Notice:
    event: NotificationEvent
    namespace: str
    name: str
    reason: str
    message: str
    time: datetime
    phase: str
    revision: str
    stable_revision: str
    images: tuple[str, ...] = ()
    """The current revision's container images."""


def notices(
    *,
    namespace: str,
    name: str,
    old: RolloutStatus,
    new: RolloutStatus,
    entries: Sequence[HistoryEntry],
    now: datetime,
    images: Sequence[str] = (),
) -> list[Notice]:
    def notice(event: NotificationEvent, reason: str, message: str, at: datetime) -> Notice:
        return Notice(
            event=event,
            namespace=namespace,
            name=name,
            reason=reason,
            message=message,
            time=at,
            phase=(new.phase.value if new.phase else ""),
            revision=new.current_revision or "",
            stable_revision=new.stable_revision or "",
            images=tuple(images),
        )

    # A failed analysis first: it is the cause of the abort the same decision records.
    found: list[Notice] = []
    before = {r.name: r.phase for r in old.analysis_runs}
    for run in new.analysis_runs:
        failed = run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR)
        if failed and before.get(run.name) not in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
            message = f"analysis {run.name} {run.phase.value}: {run.message}"
            found.append(notice(NotificationEvent.ANALYSIS_FAILED, run.phase.value, message, now))
    found += [
        notice(_BY_REASON[e.reason], e.reason, e.message, e.time)
        for e in entries
        if e.reason in _BY_REASON
    ]
    if new.phase != old.phase:
        if new.phase is Phase.PAUSED:
            found.append(notice(NotificationEvent.PAUSED, "Paused", new.message, now))
        if new.phase is Phase.HEALTHY and old.phase is not None:
            found.append(notice(NotificationEvent.COMPLETED, "Completed", new.message, now))
    return found
