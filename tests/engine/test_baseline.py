"""The optional baseline: fresh pods of the stable revision beside the canary, as many as the
canary (so, without a router, the same share of traffic), gone when the update ends."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from rollout.models import Phase
from tests.engine.sim import Sim, make_rollout

STEPS = [{"setWeight": 20}, {"pause": {}}, {"setWeight": 40}, {"pause": {}}]


def released() -> Sim:
    sim = Sim(make_rollout(strategy__canary__steps=STEPS, strategy__canary__baseline=True))
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")
    return sim


def test_the_baseline_runs_the_stable_template_at_the_canarys_size() -> None:
    sim = released()
    v1, v2 = sim.revision_of("demo:v1"), sim.revision_of("demo:v2")
    baseline = f"{v1}-baseline"
    sim.run(until=lambda s: s.status.current_step_index == 1)
    assert {r: s.replicas for r, s in sim.revisions.items()} == {v1: 3, v2: 1, baseline: 1}
    assert sim.templates[baseline] == sim.templates[v1]  # same version as the stable
    # Weights follow pods: the canary 1 of 5; the baseline serves on the stable's side.
    assert sim.status.canary.weights is not None
    assert sim.status.canary.weights.canary.weight == 20
    assert sim.services["demo-stable"] == v1  # the stable Service excludes the baseline

    sim.promote()
    sim.run(until=lambda s: s.status.current_step_index == 3)
    assert {r: s.replicas for r, s in sim.revisions.items()} == {v1: 1, v2: 2, baseline: 2}
    sim.promote()
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.run(seconds=40)
    assert baseline not in sim.revisions  # deleted once idle: no revision to go back to
    assert sim.revisions[v2].replicas == 5


def test_an_abort_removes_the_baseline_with_the_canary() -> None:
    sim = released()
    v1 = sim.revision_of("demo:v1")
    sim.run(until=lambda s: s.status.current_step_index == 1)
    sim.request(abort=True)
    sim.run(seconds=60)
    assert sim.status.phase == Phase.DEGRADED
    assert f"{v1}-baseline" not in sim.revisions or sim.revisions[f"{v1}-baseline"].replicas == 0
    assert sim.revisions[v1].replicas == 5


def test_baseline_rules() -> None:
    with pytest.raises(ValidationError, match="leaves no room for a baseline"):
        make_rollout(strategy__canary__steps=[{"setWeight": 60}], strategy__canary__baseline=True)
    with pytest.raises(ValidationError, match="not yet supported with trafficRouting"):
        make_rollout(
            strategy__canary__baseline=True,
            strategy__canary__trafficRouting={"istio": {"virtualService": {"name": "vs"}}},
        )
