"""Skipping the reconcile that our own status write's watch event brings (`settled`) never
stalls a rollout.

The other engine tests reconcile on a fixed tick, which would hide a stall. Here a reconcile
happens only when the controller would get one: the world changed (a Deployment or Service
watch event), `requeue_at` came (a timer), or the status was written and `settled` said the
write's echo is needed. Each flow must end as it does when every echo is reconciled.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from rollout.engine import Decision, Inputs
from rollout.models import Phase
from rollout.reconciler.reconcile import settled
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_analysis_flow import BACKGROUND, scripted, success_rate, value
from tests.engine.test_bluegreen_flow import ACTIVE, PREVIEW, blue_green

Echo = Callable[[Inputs, Decision], bool]
"""Given a reconcile's inputs and decision: does its status write's echo bring a reconcile?"""


def run_on_events(sim: Sim, echo: Echo, *, seconds: float, until: Callable[[Sim], bool]) -> int:
    """Reconcile only on the controller's triggers; returns the reconciles made. Fails when
    the rollout stops moving before `until` (nothing left to wake it) or time runs out."""
    end = sim.now + timedelta(seconds=seconds)
    reconciles, due, wake_at = 0, True, None
    while sim.now < end:
        if due or (wake_at is not None and sim.now >= wake_at):
            before, inputs = sim.world(), sim.inputs()
            decision = sim.step()  # persists the status, applies the actions, pods get ready
            reconciles += 1
            written = decision.status != inputs.status
            due = sim.world() != before or (written and echo(inputs, decision))
            wake_at = decision.requeue_at
            if until(sim):
                return reconciles
            assert due or wake_at is not None, f"stalled: {sim.status.message}"
        sim.now += timedelta(seconds=0.25)
    raise AssertionError(f"not reached in {seconds}s: {sim.status.message}")


def canary_with_background() -> Sim:
    steps: list[dict[str, Any]] = [
        {"setWeight": 20},
        {"pause": {"duration": "10s"}},
        {"analysis": {"templates": [{"templateName": "success-rate"}]}},
        {"pause": {"duration": "5s"}},
        {"setWeight": 50},
    ]
    sim = Sim(make_rollout(strategy__canary__steps=steps, strategy__canary__analysis=BACKGROUND))
    metric = success_rate(count=2, interval="5s")
    sim.metrics = {"background": (success_rate(count=None, interval="5s"),), "step-2": (metric,)}
    sim.observe = scripted([value(0.999)])
    return sim


def routed_background_fails() -> Sim:
    """Behind a router, background analysis from step 1, then a pause nobody ends: only the
    run that starts at step 1 (and fails) ends the update. Reaching step 1 is a status write
    with nothing else to wake the rollout: the weight was already read back."""
    steps: list[dict[str, Any]] = [{"setWeight": 20}, {"pause": {}}]
    rollout = make_rollout(strategy__canary__steps=steps, strategy__canary__analysis=BACKGROUND)
    sim = Sim(rollout, traffic_routing=True)
    sim.metrics = {"background": (success_rate(count=None, interval="5s"),)}
    sim.observe = scripted([value(0.95)])
    return sim


def blue_green_with_analysis() -> Sim:
    analysis = {"templates": [{"templateName": "success-rate"}]}
    strategy = blue_green(autoPromotionEnabled=True, prePromotionAnalysis=analysis)
    sim = Sim(make_rollout(strategy=strategy), services={ACTIVE: None, PREVIEW: None})
    sim.metrics = {"pre-promotion": (success_rate(count=2, interval="5s"),)}
    sim.observe = scripted([value(0.999)])
    return sim


def healthy_on(image: str) -> Callable[[Sim], bool]:
    def check(sim: Sim) -> bool:
        return sim.status.phase == Phase.HEALTHY and sim.status.stable_revision == (
            sim.revision_of(image)
        )

    return check


def rolled_back(sim: Sim) -> bool:
    return sim.status.abort and sim.status.phase == Phase.DEGRADED


FLOWS = {
    "canary, background analysis and an analysis step": (canary_with_background, "v2"),
    "routed, failing background analysis from step 1": (routed_background_fails, "rollback"),
    "blue-green, pre-promotion analysis": (blue_green_with_analysis, "v2"),
}


def through(flow: Callable[[], Sim], outcome: str, echo: Echo) -> int:
    """v1 to Healthy, then v2 to `outcome`: the reconciles the update took."""
    sim = flow()
    run_on_events(sim, echo, seconds=120, until=healthy_on("demo:v1"))
    sim.set_image("demo:v2")
    done = healthy_on("demo:v2") if outcome == "v2" else rolled_back
    reconciles = run_on_events(sim, echo, seconds=300, until=done)
    history = [e.reason for e in sim.status.history]
    assert ("Promoted" in history) == (outcome == "v2")
    assert ("RolloutAborted" in history) == (outcome == "rollback")
    return reconciles


@pytest.mark.parametrize("name", FLOWS)
def test_a_rollout_whose_settled_echoes_are_skipped_ends_as_with_every_echo(name: str) -> None:
    flow, outcome = FLOWS[name]
    every = through(flow, outcome, lambda inputs, decision: True)
    skipping = through(flow, outcome, _needed)
    # Never more reconciles. (Fewer where a status write is not also a Deployment event; in
    # this world pods are ready at once, so that is mostly the canary's pauses.)
    assert skipping <= every


def test_settled_skips_some_echoes_of_a_canary() -> None:
    flow, outcome = FLOWS["canary, background analysis and an analysis step"]
    assert through(flow, outcome, _needed) < through(flow, outcome, lambda i, d: True)


def test_skipping_every_echo_would_stall_a_background_analysis_started_at_a_step() -> None:
    """Why `settled` decides again rather than trusting every write: the decision that reaches
    step 1 runs the gates before it moves the step, so the run that starts there is left to
    the next decision. This runner catches the stall that skipping its echo causes."""
    flow, outcome = FLOWS["routed, failing background analysis from step 1"]
    with pytest.raises(AssertionError, match="stalled"):
        through(flow, outcome, lambda inputs, decision: False)


def _needed(inputs: Inputs, decision: Decision) -> bool:
    return not settled(inputs, decision)
