"""The step gate's withdraw-and-retry: a failed verdict with a retry left takes the canary's
traffic away for retryAfter (its pods kept), then runs the step again with a fresh test; a
second failure rolls back. Transient bursts on one canary pod pass the second look."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollout.analysis.gates import release_gate_metrics, step_gate_metrics
from rollout.analysis.provider import Observation, Outcome
from rollout.analysis.run_names import STEP_GATE_RUN
from rollout.models import Phase
from rollout.models.analysis_status import AnalysisPhase
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_analysis_flow import OPEN, SLO

ROUTING = {"istio": {"virtualService": {"name": "vs"}}}
STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"pause": {"duration": "120s"}},
    {"setWeight": 50},
]
FOREVER = datetime(2100, 1, 1, tzinfo=UTC)
WORSE = Observation(
    Outcome.FAILED,
    message="canary excess bad events 41 > allowance 12.5",
    metadata={"verdict": "rollback", "reason": "CanaryWorseThanStable"},
)


def gated(
    *,
    routed: bool = True,
    gate: dict[str, Any] | None = None,
    steps: list[dict[str, Any]] = STEPS,
    **spec: Any,
) -> Sim:
    analysis = {**SLO, "gates": {"step": {"retryAfter": "300s", **(gate or {})}}}
    extra = {"strategy__canary__trafficRouting": ROUTING} if routed else {}
    sim = Sim(
        make_rollout(strategy__canary__steps=steps, analysis=analysis, **extra, **spec),
        traffic_routing=routed,
    )
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    spec_ = sim.rollout.spec
    sim.metrics = {
        "release-gate": release_gate_metrics(spec_),
        "step-gate": step_gate_metrics(spec_),
    }
    sim.observe = lambda run, metric, now: OPEN
    sim.set_image("demo:v2")
    return sim


def failing_from(start: datetime, until: datetime | None = None) -> Any:
    """The step gate fails from `start` (until `until`, then passes); the release gate is open."""

    def observe(run: str, metric: str, now: datetime) -> Observation:
        if run == "release-gate":
            return OPEN
        bad = start <= now < (until or FOREVER)
        return WORSE if bad else OPEN

    return observe


def reasons(sim: Sim) -> list[str]:
    return [h.reason for h in sim.status.history]


def test_a_failed_verdict_withdraws_the_canary_keeps_its_pods_and_retries_the_step() -> None:
    sim = gated()
    v2 = sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    sim.observe = failing_from(sim.now, until=FOREVER)
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    withdrawn_at = sim.now
    sim.run(seconds=5)

    assert not sim.status.abort
    assert sim.weights is not None and sim.weights.canary.weight == 0
    assert sim.revisions[v2].available == 1, "the canary keeps its pods while withdrawn"
    assert sim.status.phase == Phase.PROGRESSING
    progressing = next(c for c in sim.status.conditions if c.type == "Progressing")
    assert progressing.reason == "CanaryWithdrawn"
    entry = next(h for h in sim.status.history if h.reason == "CanaryWithdrawn")
    assert "41 > allowance 12.5" in entry.message and "retry 1 of 1 at this step" in entry.message
    assert "canary withdrawn (weight 0)" in sim.status.message

    # Still withdrawn just before retryAfter; the step starts again after it, and the second
    # failed verdict rolls back, saying it was the second.
    sim.run(seconds=290, tick=5)
    assert sim.status.withdrawal is not None and not sim.status.abort
    sim.run(seconds=120, tick=1, until=lambda s: s.status.abort)
    retried = next(h for h in sim.status.history if h.reason == "StepRetried")
    assert (retried.time - withdrawn_at).total_seconds() >= 300
    assert reasons(sim).count("CanaryWithdrawn") == 1
    assert "again, after 1 withdrawal and retry at this step" in sim.status.abort_message
    assert sim.status.withdrawal is None


def test_a_failure_long_into_the_retry_is_a_new_incident_once_and_the_next_rolls_back() -> None:
    # A longer pause, so the retried step runs past retryAfter (60s) before failing again.
    long_pause: list[dict[str, Any]] = [
        {"setWeight": 20},
        {"pause": {"duration": "600s"}},
        {"setWeight": 50},
    ]
    sim = gated(gate={"retryAfter": "60s"}, steps=long_pause)
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    sim.observe = failing_from(sim.now, until=sim.now + timedelta(minutes=3))
    sim.run(seconds=200, tick=5, until=lambda s: s.status.withdrawal is not None)
    sim.run(seconds=200, tick=5, until=lambda s: s.status.withdrawal is None)
    began = sim.now
    # 70s into the retry (later than retryAfter): a second, separate burst.
    sim.observe = failing_from(began + timedelta(seconds=70), until=began + timedelta(minutes=4))
    sim.run(seconds=200, tick=5, until=lambda s: s.status.withdrawal is not None or s.status.abort)

    assert not sim.status.abort, "a failure long into the retry is a new incident"
    second = [h for h in sim.status.history if h.reason == "CanaryWithdrawn"][-1]
    assert (second.time - began).total_seconds() >= 60
    assert "a new incident" in second.message
    assert sim.status.gate_withdrawals == 2 and sim.status.gate_retries == 1

    # The retries came back once: the next failed verdict at this step rolls back, however
    # late into its retry it comes.
    sim.run(seconds=200, tick=5, until=lambda s: s.status.withdrawal is None)
    began = sim.now
    sim.observe = failing_from(began + timedelta(seconds=70))
    sim.run(seconds=300, tick=5, until=lambda s: s.status.abort)
    assert sim.status.abort
    assert reasons(sim).count("CanaryWithdrawn") == 2
    assert "again, after 2 withdrawals and retries at this step" in sim.status.abort_message


def test_each_step_starts_with_no_withdrawals() -> None:
    sim = gated()
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    sim.observe = failing_from(sim.now, until=sim.now + timedelta(minutes=3))
    sim.run(seconds=900, tick=5, until=lambda s: s.status.current_step_index == 2)
    assert sim.status.gate_withdrawals == 0 and sim.status.gate_retries == 0


def test_a_transient_failure_passes_on_the_retry_and_the_update_completes() -> None:
    sim = gated()
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    sim.observe = failing_from(sim.now, until=sim.now + timedelta(minutes=3))
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    sim.run(seconds=900, tick=5, until=lambda s: s.status.phase == Phase.HEALTHY)

    assert sim.status.stable_revision == sim.revision_of("demo:v2")
    assert "CanaryWithdrawn" in reasons(sim) and "StepRetried" in reasons(sim)
    # The retried step waited its whole pause again, from the retry on.
    retried = next(h for h in sim.status.history if h.reason == "StepRetried")
    done = next(h for h in sim.status.history if h.reason == "StepCompleted" and h.step == 1)
    assert (done.time - retried.time).total_seconds() >= 120
    # A fresh step-gate run after the retry: it started when the cool-off ended.
    gate_runs = [r for r in sim.status.analysis_runs if r.name == STEP_GATE_RUN]
    assert len(gate_runs) == 1 and gate_runs[0].started_at >= retried.time


def test_each_step_has_its_own_retries() -> None:
    sim = gated()
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    # A burst at step 1 (the pause): withdrawn, retried, passed.
    sim.observe = failing_from(sim.now, until=sim.now + timedelta(minutes=3))
    sim.run(seconds=900, tick=5, until=lambda s: s.status.current_step_index == 2)
    assert reasons(sim).count("CanaryWithdrawn") == 1 and sim.status.gate_retries == 0
    # Another at step 2 withdraws again instead of rolling back.
    sim.observe = failing_from(sim.now, until=sim.now + timedelta(minutes=3))
    sim.run(seconds=120, tick=5, until=lambda s: s.status.withdrawal is not None)
    assert not sim.status.abort and reasons(sim).count("CanaryWithdrawn") == 2
    assert sim.status.withdrawal is not None and sim.status.withdrawal.step == 2
    sim.run(seconds=900, tick=5, until=lambda s: s.status.phase == Phase.HEALTHY)


def test_retries_zero_rolls_back_on_the_first_failed_verdict() -> None:
    sim = gated(gate={"retries": 0})
    sim.observe = failing_from(sim.now)
    sim.run(seconds=200, until=lambda s: s.status.abort)
    assert "CanaryWithdrawn" not in reasons(sim)
    assert sim.status.abort_message.startswith("step gate:")
    assert "again" not in sim.status.abort_message


def test_an_error_from_the_gate_rolls_back_without_a_retry() -> None:
    sim = gated()
    broken = Observation(Outcome.ERROR, message="prometheus: 503 Service Unavailable")

    def observe(run: str, metric: str, now: datetime) -> Observation:
        return OPEN if run == "release-gate" else broken

    sim.observe = observe
    sim.run(seconds=600, tick=2, until=lambda s: s.status.abort)
    assert "CanaryWithdrawn" not in reasons(sim)
    assert "503" in sim.status.abort_message


def test_abort_while_withdrawn_rolls_back_at_once() -> None:
    sim = gated()
    sim.observe = failing_from(sim.now)
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    sim.request(abort=True, abort_message="rolled back by hand")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert sim.status.withdrawal is None
    assert sim.status.abort_message == "rolled back by hand"


def test_promote_ends_the_cool_off_early() -> None:
    sim = gated()
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    sim.observe = failing_from(sim.now, until=FOREVER)
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    sim.observe = lambda run, metric, now: OPEN
    withdrawn_at = sim.now
    sim.promote()
    sim.run(seconds=30, until=lambda s: s.status.withdrawal is None)
    assert (sim.now - withdrawn_at).total_seconds() < 30
    retried = next(h for h in sim.status.history if h.reason == "StepRetried")
    assert "ended early by promote" in retried.message
    sim.run(seconds=200, until=lambda s: s.status.phase == Phase.HEALTHY)


def test_without_a_router_the_withdrawn_canary_scales_to_zero_and_comes_back() -> None:
    sim = gated(routed=False)
    v1, v2 = sim.revision_of("demo:v1"), sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.current_step_index == 1)
    sim.observe = failing_from(sim.now, until=FOREVER)
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    sim.run(seconds=10)
    # Traffic follows pods without a router: no canary pod, the stable at full size.
    assert sim.revisions[v2].replicas == 0
    assert sim.revisions[v1].available == 5
    sim.observe = lambda run, metric, now: OPEN
    sim.run(seconds=400, tick=5, until=lambda s: s.status.withdrawal is None)
    sim.run(seconds=30)
    assert sim.revisions[v2].available == 1  # the step's 20% of 5 pods again


def test_a_new_revision_gets_its_own_retries() -> None:
    sim = gated()
    sim.observe = failing_from(sim.now)
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    assert sim.status.gate_retries == 1
    sim.set_image("demo:v3")
    sim.step()
    assert sim.status.withdrawal is None and sim.status.gate_retries == 0
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    assert not sim.status.abort


def test_the_withdrawn_step_gate_run_shows_why() -> None:
    sim = gated()
    sim.observe = failing_from(sim.now)
    sim.run(seconds=120, until=lambda s: s.status.withdrawal is not None)
    run = next(r for r in sim.status.analysis_runs if r.name == STEP_GATE_RUN)
    assert run.phase is AnalysisPhase.FAILED
    assert run.message.startswith("canary withdrawn")
