"""The decision for a Rollout whose spec cannot be used: say why, touch nothing."""

from __future__ import annotations

from datetime import datetime

from rollout.engine.actions import Decision
from rollout.engine.draft import Draft
from rollout.models import Condition, ConditionType, Phase, RolloutStatus


def decide_invalid(
    status: RolloutStatus,
    generation: int,
    message: str,
    now: datetime,
    *,
    reason: str = "InvalidSpec",
) -> Decision:
    """Phase Degraded with condition InvalidSpec (True) and the message; no actions, so every
    object the Rollout owns stays exactly as it was (traffic included)."""
    draft = Draft(status.detached(), now)
    s = draft.status
    already = any(
        c.type == ConditionType.INVALID_SPEC and c.message == message for c in s.conditions
    )
    if not already:
        draft.record(reason, message)
    old = next((c for c in s.conditions if c.type == ConditionType.INVALID_SPEC), None)
    since = old.last_transition_time if old is not None else now
    condition = Condition(
        type=ConditionType.INVALID_SPEC,
        status="True",
        reason=reason,
        message=message,
        last_transition_time=since,
    )
    s.conditions = [c for c in s.conditions if c.type != ConditionType.INVALID_SPEC] + [condition]
    s.phase = Phase.DEGRADED
    s.message = message
    s.observed_generation = generation
    return Decision(status=s, events=draft.events)
