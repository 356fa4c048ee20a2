"""The canary's behaviour through the pure engine, against the in-memory world."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollout.engine import PinService
from rollout.models import Phase
from tests.engine.sim import Sim, make_rollout

ROUTING = {"istio": {"virtualService": {"name": "vs"}}}


def healthy(sim: Sim) -> bool:
    return sim.status.phase == Phase.HEALTHY


def deployed_v1() -> Sim:
    sim = Sim(make_rollout())
    sim.run(until=healthy)
    return sim


def test_first_revision_is_deployed_as_stable_without_steps() -> None:
    sim = deployed_v1()
    v1 = sim.revision_of("demo:v1")
    assert sim.status.stable_revision == v1 == sim.status.current_revision
    assert sim.revisions[v1].replicas == 5
    assert sim.services == {"demo-stable": v1, "demo-canary": v1}
    assert [h.reason for h in sim.status.history] == ["Deployed"]


def test_v1_to_v2_walks_the_steps_and_ends_healthy() -> None:
    sim = deployed_v1()
    v1, v2 = sim.revision_of("demo:v1"), sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 1)
    assert (sim.revisions[v2].replicas, sim.revisions[v1].replicas) == (1, 4)
    assert sim.status.canary.weights is not None
    assert sim.status.canary.weights.canary.weight == 20
    assert sim.services["demo-canary"] == v2 and sim.services["demo-stable"] == v1

    sim.run(until=lambda s: s.status.current_step_index == 3)  # timed pause ended by itself
    assert (sim.revisions[v2].replicas, sim.revisions[v1].replicas) == (3, 2)
    sim.run(seconds=30)
    assert sim.status.phase == Phase.PAUSED and sim.status.current_step_index == 3

    sim.promote()
    sim.run(until=healthy)
    assert sim.status.stable_revision == v2
    assert sim.services == {"demo-stable": v2, "demo-canary": v2}
    assert sim.revisions[v2].replicas == 5
    assert sim.revisions[v1].replicas > 0  # the fast-rollback window
    sim.run(seconds=31)
    assert sim.revisions[v1].replicas == 0
    reasons = [h.reason for h in sim.status.history]
    assert reasons == [
        "Deployed",
        "NewRevision",
        "StepCompleted",
        "StepCompleted",
        "StepCompleted",
        "StepPromoted",
        "Promoted",
    ]


def test_abort_restores_stable_before_scaling_canary_down() -> None:
    sim = deployed_v1()
    v1, v2 = sim.revision_of("demo:v1"), sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.request(abort=True)
    sim.log.clear()
    sim.run(until=lambda s: s.revisions[v2].replicas == 0)
    assert sim.status.phase == Phase.DEGRADED
    assert "aborted" in sim.status.message
    assert sim.revisions[v1].replicas == 5
    # The stable scale-up came before any canary scale-down.
    up = next(i for i, a in enumerate(sim.log) if f"'{v1}', replicas=5" in a)
    down = next(i for i, a in enumerate(sim.log) if f"'{v2}'" in a and "ScaleRevision" in a)
    assert up < down
    assert sim.services["demo-canary"] == v1


def test_retry_restarts_from_step_zero_and_revert_ends_healthy_without_steps() -> None:
    sim = deployed_v1()
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.request(abort=True)
    sim.run(until=lambda s: s.status.phase == Phase.DEGRADED)
    sim.request(abort=False)
    sim.step()
    assert sim.status.current_step_index == 0 and sim.status.phase == Phase.PROGRESSING
    sim.request(abort=True)
    sim.run(until=lambda s: s.status.phase == Phase.DEGRADED)
    sim.set_image("demo:v1")
    sim.run(until=healthy)
    assert sim.status.stable_revision == sim.revision_of("demo:v1")
    assert "RolledBack" in [h.reason for h in sim.status.history]


def test_never_ready_canary_hits_the_progress_deadline_and_rolls_back() -> None:
    sim = Sim(make_rollout(progressDeadlineSeconds=10))
    sim.run(until=healthy)
    v1, v3 = sim.revision_of("demo:v1"), sim.revision_of("demo:v3")
    sim.never_ready.add(v3)
    sim.set_image("demo:v3")
    start = sim.now
    sim.run(until=lambda s: s.status.abort)
    assert timedelta(seconds=10) <= sim.now - start <= timedelta(seconds=12)
    sim.run(until=lambda s: s.revisions[v3].replicas == 0)
    assert sim.status.phase == Phase.DEGRADED
    assert "progress deadline exceeded" in sim.status.abort_message
    assert sim.revisions[v1].replicas == 5
    assert sim.status.canary.weights is not None
    assert sim.status.canary.weights.canary.weight == 0


def test_new_revision_mid_rollout_supersedes_the_canary() -> None:
    sim = deployed_v1()
    v1, v2, v3 = (sim.revision_of(f"demo:{v}") for v in ("v1", "v2", "v3"))
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.set_image("demo:v3")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    assert sim.revisions[v2].replicas == 0
    assert sim.status.current_revision == v3 and sim.status.stable_revision == v1
    sim.promote()
    sim.run(until=healthy)
    assert sim.status.stable_revision == v3


def test_ten_replicas_reach_full_size_after_the_last_step() -> None:
    """Regression: the canary's growth after the last step was capped by maxSurge while the old
    stable kept its pods, so with more than maxSurge stable pods it never reached full size."""
    sim = Sim(make_rollout(replicas=10))
    sim.run(until=healthy)
    v1, v2 = sim.revision_of("demo:v1"), sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.promote()
    sim.run(seconds=20, until=healthy)
    assert sim.status.stable_revision == v2
    assert sim.revisions[v2].replicas == 10
    assert sim.revisions[v1].replicas > 0  # still inside the scale-down delay


def test_promote_full_from_the_first_step_reaches_healthy() -> None:
    sim = deployed_v1()
    sim.set_image("demo:v2")
    sim.step()
    sim.request(promote_full=True)
    sim.run(seconds=20, until=healthy)
    assert sim.status.stable_revision == sim.revision_of("demo:v2")
    assert "PromotedFull" in [h.reason for h in sim.status.history]


@pytest.mark.parametrize("routed", [False, True], ids=["services", "router"])
def test_healthy_is_said_only_once_traffic_is_on_the_new_stable(routed: bool) -> None:
    """Status is written before the actions run: the decision that makes v2 stable also moves
    the stable Service (and with a router, the weight), so it must not say Healthy yet. A CI job
    waiting for Healthy would go on while the stable Service still selects v1."""
    rollout = make_rollout(strategy__canary__trafficRouting=ROUTING) if routed else make_rollout()
    sim = Sim(rollout, traffic_routing=routed)
    sim.run(until=healthy)
    v2 = sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.phase == Phase.PAUSED and s.status.current_step_index == 3)
    sim.promote()
    while sim.status.stable_revision != v2:
        decision = sim.step()
    assert PinService("demo-stable", v2) in decision.actions
    assert decision.status.phase == Phase.PROGRESSING
    sim.step()  # the Service's watch event (or the route's read-back) brings it back
    assert sim.status.phase == Phase.HEALTHY
    assert sim.services == {"demo-stable": v2, "demo-canary": v2}
