"""`detached()`, the engine's deep copy of a status (dump, then validate again), is equal to the
original and shares nothing mutable with it, for every status whole rollouts go through:
steps, analysis runs with their measurements, an abort, blue-green."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from rollout.models import Phase, RolloutStatus
from rollout.models.base import StatusModel
from tests.engine.sim import Sim
from tests.engine.test_analysis_flow import scripted, success_rate, value
from tests.engine.test_analysis_flow import started as canary_started
from tests.engine.test_bluegreen_flow import ANALYSIS
from tests.engine.test_bluegreen_flow import started as blue_green_started
from tests.engine.test_echo_skip import FLOWS, through


def analysis_step_then_abort() -> Sim:
    sim = canary_started()
    sim.metrics = {"step-1": (success_rate(count=3),)}
    sim.observe = scripted([value(0.999), value(0.5)])
    sim.run(seconds=120, until=lambda s: s.status.phase == Phase.DEGRADED)
    return sim


def blue_green_pre_promotion() -> Sim:
    sim = blue_green_started(autoPromotionEnabled=True, prePromotionAnalysis=ANALYSIS)
    sim.metrics = {"pre-promotion": (success_rate(count=2, interval="5s"),)}
    sim.observe = scripted([value(0.999)])
    sim.run(seconds=120, until=lambda s: s.status.phase == Phase.HEALTHY)
    return sim


def event_driven() -> Sim:
    """The background-analysis flows, with the sim kept for its decisions."""
    sims: list[Sim] = []
    for flow, outcome in FLOWS.values():

        def kept(flow: Callable[[], Sim] = flow) -> Sim:
            sim = flow()
            sims.append(sim)
            return sim

        through(kept, outcome, lambda inputs, decision: True)
    merged = sims[0]
    for other in sims[1:]:
        merged.decisions += other.decisions
    return merged


def statuses(sim: Sim) -> Iterator[RolloutStatus]:
    for decision in sim.decisions:
        yield decision.status


def parts(model: StatusModel) -> Iterator[StatusModel]:
    """The model and every status model inside it."""
    yield model
    for name in type(model).model_fields:
        value: Any = getattr(model, name)
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, StatusModel):
                yield from parts(item)


@pytest.mark.parametrize("flow", [analysis_step_then_abort, blue_green_pre_promotion, event_driven])
def test_detached_equals_the_original_and_shares_nothing(flow: Callable[[], Sim]) -> None:
    sim = flow()
    seen = {"runs": 0, "measurements": 0}
    for status in statuses(sim):
        for model in parts(status):
            copy = model.detached()
            assert copy == model
            assert copy.to_dict() == model.to_dict()
            for name in type(model).model_fields:
                original = getattr(model, name)
                if isinstance(original, list | dict | StatusModel):
                    assert getattr(copy, name) is not original, name
        seen["runs"] += len(status.analysis_runs)
        seen["measurements"] += sum(
            len(result.measurements) for run in status.analysis_runs for result in run.metrics
        )
    # The flows did reach the parts worth copying.
    assert seen["runs"] and seen["measurements"], seen
