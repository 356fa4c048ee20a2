"""Engine invariants under random sequences of what people and the cluster do (hypothesis).

Each example deploys v1, then applies a random program of operations: new images, abort,
retry, promote, promote --full, pause/resume, revisions whose pods never become ready, pods
that fail, and time passing. After every reconcile the invariants are checked against the world
the decision was made from.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout.engine import PinService, SetWeight
from rollout.models import Phase
from tests.engine.sim import Sim, make_rollout

OPS = st.one_of(
    st.tuples(st.just("image"), st.sampled_from(["v1", "v2", "v3", "v4"])),
    st.tuples(st.just("never_ready"), st.sampled_from(["v2", "v3", "v4"])),
    st.tuples(st.just("slow"), st.sampled_from(["v2", "v3", "v4"])),
    st.tuples(st.just("abort"), st.none()),
    st.tuples(st.just("retry"), st.none()),
    st.tuples(st.just("promote"), st.none()),
    st.tuples(st.just("promote_full"), st.none()),
    st.tuples(st.just("pause"), st.booleans()),
    st.tuples(st.just("lose_pod"), st.none()),
    st.tuples(st.just("wait"), st.integers(min_value=1, max_value=40)),
)


def apply_op(sim: Sim, op: tuple[str, object]) -> set[str]:
    """Apply one operation; returns what kind of change people made (for the phase rule)."""
    kind, arg = op
    if kind == "image":
        sim.set_image(f"demo:{arg}")
        return {"new_revision"}
    if kind == "never_ready":
        revision = sim.revision_of(f"demo:{arg}")
        sim.never_ready.add(revision)
        if revision in sim.revisions and sim.revisions[revision].available:
            return {"pods_lost"}  # its running pods stop being ready
    elif kind == "slow":
        sim.slow.add(sim.revision_of(f"demo:{arg}"))
    elif kind == "abort":
        sim.request(abort=True)
    elif kind == "retry":
        sim.request(abort=False)
        return {"retry"}
    elif kind == "promote":
        sim.promote()
    elif kind == "promote_full":
        sim.request(promote_full=True)
    elif kind == "pause":
        spec = sim.rollout.spec.model_copy(update={"paused": arg})
        sim.rollout = sim.rollout.model_copy(update={"spec": spec})
        return {"pause"}
    elif kind == "lose_pod":
        stable = sim.status.stable_revision
        if stable in sim.revisions and sim.revisions[stable].available:
            state = sim.revisions[stable]
            sim.revisions[stable] = replace(state, available=state.available - 1)
            return {"pods_lost"}
    elif kind == "wait":
        assert isinstance(arg, int)
        sim.now += timedelta(seconds=arg)
    return set()


def check_invariants(
    sim: Sim,
    *,
    changes: set[str],
    prev_phase: Phase | None,
    prev_canary_weight: int | None,
    prev_aborted: bool,
    world_available: dict[str, int],
) -> None:
    status = sim.status
    weights = status.canary.weights
    if weights is not None:
        assert 0 <= weights.canary.weight <= 100 and 0 <= weights.stable.weight <= 100
        twin = weights.baseline
        assert weights.canary.weight + weights.stable.weight + (twin.weight if twin else 0) == 100
        if twin is not None and twin.weight > 0 and not world_available.get(twin.revision, 0):
            fixes = [
                a
                for a in sim.decisions[-1].actions
                if isinstance(a, SetWeight) and (a.baseline is None or a.baseline.weight == 0)
            ]
            assert fixes, "traffic left on a baseline with no available pods"
        if weights.canary.weight > 0 and not world_available.get(weights.canary.revision, 0):
            # Pods died under traffic: this very decision must take the traffic away.
            # A weight back to 0, or (blue-green's selector switch) the stable / active Service
            # back on the stable revision.
            fixes = [
                a
                for a in sim.decisions[-1].actions
                if (isinstance(a, SetWeight) and a.weight == 0)
                or (isinstance(a, PinService) and a.revision == status.stable_revision)
            ]
            assert fixes, "traffic left on a revision with no available pods"
    for action in sim.decisions[-1].actions:
        if isinstance(action, SetWeight) and action.weight > 0:
            assert world_available.get(action.canary_revision, 0) > 0, "weight to no pods"
        if isinstance(action, SetWeight) and action.baseline is not None:
            assert action.baseline.weight > 0, "a baseline at 0% is sent as no baseline"
            assert world_available.get(action.baseline.revision, 0) > 0, "weight to no pods"
    # An aborted rollout never raises the canary's weight: neither what it asks the router
    # for, nor (from one aborted decision to the next) what it records.
    aborted = status.abort and status.current_revision != status.stable_revision
    if aborted:
        for action in sim.decisions[-1].actions:
            if isinstance(action, SetWeight):
                assert action.weight == 0, f"weight {action.weight} asked while aborted"
                assert action.baseline is None, "baseline weight asked while aborted"
    if aborted and prev_aborted and prev_canary_weight is not None and weights is not None:
        assert weights.canary.weight <= prev_canary_weight
    # Terminal phases are left only by a new revision or a retry (and Healthy by losing pods
    # or a pause).
    if prev_phase == Phase.DEGRADED and status.abort and status.phase != Phase.DEGRADED:
        raise AssertionError(f"left Degraded without retry/new revision: {status.phase}")
    if prev_phase == Phase.DEGRADED and status.phase != Phase.DEGRADED:
        assert changes & {"new_revision", "retry"} or not status.deadline_exceeded
    if prev_phase == Phase.HEALTHY and status.phase != Phase.HEALTHY:
        assert changes & {"new_revision", "pods_lost", "pause"}, (
            f"left Healthy for {status.phase} with no cause: {status.message}"
        )
    # Replica counts are never negative and the stable is never scaled below what is needed
    # while an update is aborted.
    assert all(s.replicas >= 0 for s in sim.revisions.values())


Check = Callable[[Sim, dict[str, int], dict[str, str | None]], None]
"""An extra invariant: (sim after the step, available pods and Service pins before it)."""


def drive(sim: Sim, program: list[tuple[str, object]], *, extra: Check | None = None) -> None:
    """Apply the program to a Healthy rollout, checking the invariants after every step."""
    for op in program:
        changes = apply_op(sim, op)
        for _ in range(3):  # a few reconciles between operations, time moving a little
            prev_phase = sim.status.phase
            prev_weight = (
                sim.status.canary.weights.canary.weight if sim.status.canary.weights else None
            )
            world_available = {r: s.available for r, s in sim.revisions.items()}
            pins = dict(sim.services)
            prev_aborted = (
                sim.status.abort
                and sim.status.aborted_at is not None
                and sim.status.current_revision != sim.status.stable_revision
            )
            sim.step()
            check_invariants(
                sim,
                changes=changes,
                prev_phase=prev_phase,
                prev_canary_weight=prev_weight,
                prev_aborted=prev_aborted,
                world_available=world_available,
            )
            if extra is not None:
                extra(sim, world_available, pins)
            sim.now += timedelta(seconds=1)


def run_program(
    program: list[tuple[str, object]], *, traffic_routing: bool, baseline: bool = False
) -> None:
    spec: dict[str, object] = {"progressDeadlineSeconds": 15}
    if baseline:
        spec.update(
            strategy__canary__baseline=True, strategy__canary__baselineService="demo-baseline"
        )
        if traffic_routing:
            spec["strategy__canary__trafficRouting"] = {"gatewayAPI": {"httpRoute": "demo"}}
    sim = Sim(make_rollout(**spec), traffic_routing=traffic_routing)
    if baseline:
        sim.services["demo-baseline"] = None
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    drive(sim, program)


PROGRAMS = st.lists(OPS, min_size=1, max_size=25)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_invariants_without_a_traffic_router(program: list[tuple[str, object]]) -> None:
    run_program(program, traffic_routing=False)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_invariants_with_a_traffic_router(program: list[tuple[str, object]]) -> None:
    run_program(program, traffic_routing=True)


@settings(max_examples=60, deadline=None)
@given(PROGRAMS)
def test_every_program_converges_once_people_stop(program: list[tuple[str, object]]) -> None:
    """Whatever happened, once people stop acting (and promote through manual pauses), the
    rollout ends Healthy or Degraded, never stuck Progressing."""
    sim = Sim(make_rollout(progressDeadlineSeconds=15))
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    for op in program:
        apply_op(sim, op)
        sim.step()
    spec = sim.rollout.spec.model_copy(update={"paused": False})
    sim.rollout = sim.rollout.model_copy(update={"spec": spec})

    def settled(s: Sim) -> bool:
        if s.status.phase == Phase.PAUSED:
            s.promote()
        return s.status.phase in (Phase.HEALTHY, Phase.DEGRADED)

    sim.run(seconds=600, tick=1, until=settled)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_invariants_with_a_baseline_behind_a_traffic_router(
    program: list[tuple[str, object]],
) -> None:
    run_program(program, traffic_routing=True, baseline=True)
