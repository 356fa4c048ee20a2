"""Which notifications a release produces, decision by decision, through the pure engine."""

from __future__ import annotations

from collections.abc import Callable

from rollout.engine import Decision
from rollout.models import Phase, RolloutStatus
from rollout.models.notifications import NotificationEvent as E
from rollout.notify.events import Notice, notices
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_analysis_flow import scripted, success_rate, value


def told(sim: Sim, run: Callable[[Sim], None]) -> list[Notice]:
    """Drive `run(sim)`; the notices of every decision it made, in order."""
    found: list[Notice] = []
    original = sim.step

    def step() -> Decision:
        before: RolloutStatus = sim.status
        decision = original()
        found.extend(
            notices(
                namespace="default",
                name="demo",
                old=before,
                new=decision.status,
                entries=decision.events,
                now=sim.now,
                images=["demo:v2"],
            )
        )
        return decision

    sim.step = step  # type: ignore[method-assign]
    run(sim)
    return found


def test_a_release_tells_started_steps_paused_promoted_completed_in_order() -> None:
    sim = Sim(make_rollout())
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")

    def release(s: Sim) -> None:
        s.run(
            seconds=60,
            until=lambda x: x.status.phase == Phase.PAUSED and x.status.current_step_index == 3,
        )
        s.promote()
        s.run(seconds=60, until=lambda x: x.status.phase == Phase.HEALTHY)

    found = told(sim, release)
    assert [n.event for n in found] == [
        E.STARTED,
        E.STEP_COMPLETED,  # setWeight 20
        E.PAUSED,  # pause 2s
        E.STEP_COMPLETED,
        E.STEP_COMPLETED,  # setWeight 50
        E.PAUSED,  # pause until promoted
        E.STEP_COMPLETED,  # promoted
        E.PROMOTED,
        E.COMPLETED,
    ]
    assert found[0].revision == sim.revision_of("demo:v2") and found[0].images == ("demo:v2",)
    assert found[-1].phase == "Healthy"


def test_an_abort_tells_the_reason_and_a_failed_analysis_tells_itself() -> None:
    steps = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "sr"}]}}]
    sim = Sim(make_rollout(strategy__canary__steps=steps))
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.metrics = {"step-1": (success_rate(),)}
    sim.observe = scripted([value(0.5)])
    sim.set_image("demo:v2")
    found = told(sim, lambda s: s.run(seconds=60, until=lambda x: x.status.phase == Phase.DEGRADED))
    events = [n.event for n in found]
    assert events == [E.STARTED, E.STEP_COMPLETED, E.ANALYSIS_FAILED, E.ABORTED]  # cause first
    aborted = found[-1]
    assert aborted.reason == "RolloutAborted" and "success-rate" in aborted.message
    assert "analysis step-1 Failed" in found[2].message
