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
    with pytest.raises(ValidationError, match="needs stableService, canaryService and baselineS"):
        make_rollout(
            strategy__canary__baseline=True,
            strategy__canary__trafficRouting={"istio": {"virtualService": {"name": "vs"}}},
        )
    subsets = {"name": "dr", "stableSubsetName": "stable", "canarySubsetName": "canary"}
    with pytest.raises(ValidationError, match=r"needs destinationRule\.baselineSubsetName"):
        make_rollout(
            strategy__canary__baseline=True,
            strategy__canary__trafficRouting={
                "istio": {"virtualService": {"name": "vs"}, "destinationRule": subsets}
            },
        )
    with pytest.raises(ValidationError, match="baselineSubsetName must differ"):
        make_rollout(
            strategy__canary__trafficRouting={
                "istio": {
                    "virtualService": {"name": "vs"},
                    "destinationRule": {**subsets, "baselineSubsetName": "canary"},
                }
            },
        )
    with pytest.raises(ValidationError, match="baselineService: only with baseline: true"):
        make_rollout(strategy__canary__baselineService="demo-baseline")
    with pytest.raises(ValidationError, match="baselineService must differ"):
        make_rollout(
            strategy__canary__baseline=True, strategy__canary__baselineService="demo-canary"
        )


ROUTING = {"gatewayAPI": {"httpRoute": "demo"}}


def routed() -> Sim:
    sim = Sim(
        make_rollout(
            strategy__canary__steps=STEPS,
            strategy__canary__baseline=True,
            strategy__canary__baselineService="demo-baseline",
            strategy__canary__trafficRouting=ROUTING,
        ),
        traffic_routing=True,
    )
    sim.services["demo-baseline"] = None
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")
    return sim


def test_behind_a_router_the_baseline_takes_the_canarys_weight_from_its_own_service() -> None:
    sim = routed()
    v1, v2 = sim.revision_of("demo:v1"), sim.revision_of("demo:v2")
    baseline = f"{v1}-baseline"
    sim.run(until=lambda s: s.status.current_step_index == 1)
    # The stable stays at full size (an abort is one weight write); the twins have 1 pod each.
    assert {r: s.replicas for r, s in sim.revisions.items()} == {v1: 5, v2: 1, baseline: 1}
    weights = sim.status.canary.weights
    assert weights is not None and weights.baseline is not None
    assert (weights.stable.weight, weights.canary.weight, weights.baseline.weight) == (60, 20, 20)
    assert weights.baseline.revision == baseline
    assert sim.services["demo-baseline"] == baseline
    assert sim.services["demo-stable"] == v1 and sim.services["demo-canary"] == v2
    # The baseline never got weight before it had a pod.
    assert sim.baseline_writes and all(pods > 0 for w, pods in sim.baseline_writes if w > 0)

    sim.promote()
    sim.run(until=lambda s: s.status.current_step_index == 3)
    weights = sim.status.canary.weights
    assert weights is not None and weights.baseline is not None
    assert (weights.stable.weight, weights.canary.weight, weights.baseline.weight) == (20, 40, 40)
    assert sim.revisions[baseline].replicas == 2

    sim.promote()
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    weights = sim.status.canary.weights
    assert weights is not None and (weights.baseline is None or weights.baseline.weight == 0)
    assert weights.stable.revision == v2 and weights.stable.weight == 100
    sim.run(seconds=40)
    assert baseline not in sim.revisions
    assert sim.services["demo-baseline"] == v2  # at rest: on the stable, with no weight


def test_behind_a_router_an_abort_takes_the_baselines_weight_before_its_pods() -> None:
    sim = routed()
    v1 = sim.revision_of("demo:v1")
    baseline = f"{v1}-baseline"
    sim.run(until=lambda s: s.status.current_step_index == 1)
    sim.request(abort=True)
    sim.step()
    # In the abort's first reconcile the weights go to the stable, and the baseline's pods
    # are still there (they go once the baseline reads 0%).
    assert sim.weights is not None and sim.weights.baseline is None
    assert sim.weights.stable.weight == 100 and sim.revisions[baseline].available == 1
    sim.run(seconds=60)
    assert baseline not in sim.revisions or sim.revisions[baseline].replicas == 0
    assert sim.status.phase == Phase.DEGRADED
