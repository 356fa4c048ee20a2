"""Analysis steps, background analysis and the SLO gates through the pure engine.

The provider's answers are scripted (the far side); everything from there on is the product:
CEL conditions, limits, run phases, and what the rollout does about them.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from rollout.analysis.gates import release_gate_metrics, step_gate_metrics
from rollout.analysis.provider import Observation, Outcome
from rollout.engine.analysis import AnalysisInputs
from rollout.engine.gating import PREFLIGHT_RECHECK_SECONDS
from rollout.models import Phase
from rollout.models.analysis import Metric
from rollout.models.analysis_status import AnalysisPhase, MeasurementPhase
from rollout.models.status import PauseReason
from tests.engine.sim import Sim, make_rollout

STEPS: list[dict[str, Any]] = [
    {"setWeight": 20},
    {"analysis": {"templates": [{"templateName": "success-rate"}]}},
    {"setWeight": 50},
    {"pause": {"duration": "1s"}},
]


def success_rate(**overrides: Any) -> Metric:
    doc: dict[str, Any] = {
        "name": "success-rate",
        "provider": {"prometheus": {"address": "http://prometheus:9090", "query": "q"}},
        "interval": "10s",
        "count": 3,
        "successCondition": "result >= 0.99",
    }
    doc.update(overrides)
    return Metric.model_validate(doc)


def value(v: float) -> Observation:
    return Observation(Outcome.VALUE, value=v, display=repr(v))


NO_DATA = Observation(Outcome.NO_DATA, message="empty vector: no series matched")


def started(steps: list[dict[str, Any]] = STEPS, **spec: Any) -> Sim:
    sim = Sim(make_rollout(strategy__canary__steps=steps, **spec))
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")
    return sim


def scripted(values: list[Observation]) -> Any:
    seen: list[Observation] = []

    def observe(run: str, metric: str, now: datetime) -> Observation:
        observation = values[min(len(seen), len(values) - 1)]
        seen.append(observation)
        return observation

    return observe


def test_a_successful_analysis_step_moves_on_and_records_the_values() -> None:
    sim = started()
    sim.metrics = {"step-1": (success_rate(),)}
    sim.observe = scripted([value(0.995), value(0.999), value(0.992)])
    sim.run(seconds=120, until=lambda s: s.status.phase == Phase.HEALTHY)
    # The last update's runs stay in status (for `rollout get`) until the next update starts.
    (run,) = sim.status.analysis_runs
    assert run.phase is AnalysisPhase.SUCCESSFUL
    assert [m.value for m in run.metrics[0].measurements] == ["0.995", "0.999", "0.992"]
    entry = next(h for h in sim.status.history if h.reason == "AnalysisSuccessful")
    assert "3/3 successful" in entry.message
    assert sim.status.stable_revision == sim.revision_of("demo:v2")


def test_the_run_and_its_measurements_are_kept_in_status_while_it_runs() -> None:
    sim = started()
    sim.metrics = {"step-1": (success_rate(),)}
    sim.observe = scripted([value(0.995)])
    sim.run(
        seconds=15,
        until=lambda s: bool(
            s.status.analysis_runs
            and s.status.analysis_runs[0].metrics
            and s.status.analysis_runs[0].metrics[0].count >= 2
        ),
    )
    (run,) = sim.status.analysis_runs
    assert run.name == "step-1" and run.phase is AnalysisPhase.RUNNING and run.step == 1
    result = run.metrics[0]
    assert [m.value for m in result.measurements] == ["0.995", "0.995"]
    assert result.measurements[0].phase is MeasurementPhase.SUCCESSFUL
    assert "successCondition `result >= 0.99` holds" in result.measurements[0].message
    gap = result.measurements[1].started_at - result.measurements[0].started_at
    assert gap >= timedelta(seconds=10)  # the interval
    assert sim.status.current_step_index == 1


def test_a_failed_measurement_rolls_back_with_the_value_and_threshold() -> None:
    sim = started()
    sim.metrics = {"step-1": (success_rate(),)}
    sim.observe = scripted([value(0.93)])
    sim.run(seconds=60, until=lambda s: s.status.abort)
    assert "0.93" in sim.status.abort_message
    assert "result >= 0.99" in sim.status.abort_message
    sim.run(seconds=5)
    assert sim.status.phase == Phase.DEGRADED
    v2 = sim.revision_of("demo:v2")
    assert sim.revisions[v2].replicas == 0 or sim.weights is None or sim.weights.canary.weight == 0


def test_failure_limit_tolerates_n_failures_and_fails_at_n_plus_one() -> None:
    sim = started()
    sim.metrics = {"step-1": (success_rate(failureLimit=1, count=5),)}
    sim.observe = scripted([value(0.9), value(0.999), value(0.9), value(0.999)])
    sim.run(
        seconds=15,
        until=lambda s: bool(
            s.status.analysis_runs and s.status.analysis_runs[0].metrics[0].count == 1
        ),
    )
    assert not sim.status.abort  # one failure tolerated
    sim.run(seconds=60, until=lambda s: s.status.abort)
    result = sim.status.analysis_runs[0].metrics[0]
    assert (result.failed, result.count) == (2, 3)
    assert "more than failureLimit 1" in sim.status.abort_message


def test_no_data_pauses_as_inconclusive_and_never_passes() -> None:
    sim = started()
    sim.metrics = {"step-1": (success_rate(count=1),)}
    sim.observe = scripted([NO_DATA])
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert [c.reason for c in sim.status.pause_conditions] == [PauseReason.INCONCLUSIVE_ANALYSIS]
    assert "no series matched" in sim.status.message
    assert not sim.status.abort and sim.status.current_step_index == 1
    sim.run(seconds=60)
    assert sim.status.current_step_index == 1  # it waits for a person

    sim.promote()  # a person accepts it
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.HEALTHY)


def test_an_inconclusive_pause_rolls_back_after_the_timeout() -> None:
    sim = started(analysis={"inconclusiveTimeout": "30s"})
    sim.metrics = {"step-1": (success_rate(count=1),)}
    sim.observe = scripted([NO_DATA])
    sim.run(seconds=20, until=lambda s: s.status.phase == Phase.PAUSED)
    paused_at = sim.now
    sim.run(seconds=90, until=lambda s: s.status.abort)
    assert sim.now - paused_at >= timedelta(seconds=29)
    assert "inconclusiveTimeout" in sim.status.abort_message


def test_no_data_policy_failed_rolls_back() -> None:
    sim = started()
    sim.metrics = {"step-1": (success_rate(count=1, noData="Failed"),)}
    sim.observe = scripted([NO_DATA])
    sim.run(seconds=30, until=lambda s: s.status.abort)


def test_errors_are_retried_and_roll_back_past_the_consecutive_limit() -> None:
    sim = started()
    error = Observation(Outcome.ERROR, message="connection refused")
    sim.metrics = {"step-1": (success_rate(consecutiveErrorLimit=2),)}
    sim.observe = scripted([error])
    sim.run(seconds=120, until=lambda s: s.status.abort)
    result = sim.status.analysis_runs[0].metrics[0]
    assert result.consecutive_error == 3
    assert "connection refused" in sim.status.abort_message


def test_a_missing_template_rolls_back_with_the_reason() -> None:
    sim = started()
    # The reconciler reports a run whose metrics cannot be resolved as an error.
    original = sim.inputs

    def inputs() -> Any:
        got = original()
        return type(got)(
            **{
                **got.__dict__,
                "analysis": AnalysisInputs(
                    errors={"step-1": "AnalysisTemplate success-rate not found"}
                ),
            }
        )

    sim.inputs = inputs  # type: ignore[method-assign]
    sim.run(seconds=30, until=lambda s: s.status.abort)
    assert "AnalysisTemplate success-rate not found" in sim.status.abort_message


def test_promote_skips_a_running_analysis_and_stops_its_job() -> None:
    sim = started()
    job = Metric.model_validate({"name": "smoke", "provider": {"job": {"spec": {"template": {}}}}})
    sim.metrics = {"step-1": (job,)}
    sim.observe = scripted([Observation(Outcome.RUNNING, metadata={"job": "demo-smoke-1"})])
    sim.run(seconds=30, until=lambda s: bool(s.status.analysis_runs))
    sim.run(seconds=5)
    sim.promote()
    sim.run(seconds=5)
    assert sim.status.current_step_index is not None and sim.status.current_step_index >= 2
    assert sim.terminated == ["step-1/smoke"]


def test_an_abort_stops_a_job_metric_whose_running_measurement_never_reached_the_status() -> None:
    """The provider created the Job, then the status write recording it lost to the abort's
    409: nothing Running is on record, and the abort still asks for the metric to be stopped
    (the provider then finds the Job by its labels). A metric already finished is not."""
    sim = started()
    provider = {"job": {"spec": {"template": {}}}}
    # `smoke` is not due yet, which is all the engine sees of a measurement whose record was
    # lost; `quick` measures once and is done.
    job = Metric.model_validate({"name": "smoke", "initialDelay": "1h", "provider": provider})
    done = Metric.model_validate({"name": "quick", "count": 1, "provider": provider})
    sim.metrics = {"step-1": (job, done)}
    sim.observe = scripted([Observation(Outcome.SUCCEEDED)])
    sim.run(seconds=30, until=lambda s: bool(s.status.analysis_runs))
    sim.run(seconds=2)
    (run,) = sim.status.analysis_runs
    assert [(m.name, m.phase.done, len(m.measurements)) for m in run.metrics] == [
        ("smoke", False, 0),
        ("quick", True, 1),
    ]
    sim.request(abort=True)
    decision = sim.step()
    assert sim.status.abort
    assert [(t.run, t.metric, t.measurement) for t in decision.terminations] == [
        ("step-1", "smoke", None)
    ]


BACKGROUND = {"templates": [{"templateName": "error-rate"}], "startingStep": 1}


def test_background_analysis_failing_mid_update_rolls_back() -> None:
    steps = [{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 50}]
    sim = started(steps, strategy__canary__analysis=BACKGROUND)
    sim.metrics = {"background": (success_rate(count=None, interval="5s"),)}
    sim.observe = scripted([value(0.999), value(0.999), value(0.95)])
    sim.run(seconds=60, until=lambda s: s.status.abort)
    assert sim.status.current_step_index == 1
    assert "background" in sim.status.abort_message and "0.95" in sim.status.abort_message


def test_background_analysis_with_no_successful_measurement_blocks_promotion() -> None:
    steps = [{"setWeight": 20}]
    sim = started(steps, strategy__canary__analysis={"templates": [{"templateName": "x"}]})
    sim.metrics = {"background": (success_rate(count=None, interval="60s", initialDelay="30s"),)}
    sim.observe = scripted([value(0.999)])
    sim.run(seconds=20)
    assert sim.status.stable_revision == sim.revision_of("demo:v1")
    assert "waiting for background analysis" in sim.status.message
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.status.stable_revision == sim.revision_of("demo:v2")


SLO = {
    "prometheus": {"address": "http://prometheus:9090"},
    "slos": [
        {
            "name": "availability",
            "objective": 99.9,
            "sli": {"bad": "sum(increase(bad[$window]))", "total": "sum(increase(all[$window]))"},
            "canarySli": {"bad": "b{v='$revision'}[$window]", "total": "t{v='$revision'}[$window]"},
        }
    ],
}


def gated(**analysis: Any) -> Sim:
    sim = started([{"setWeight": 20}, {"pause": {"duration": "30s"}}], analysis={**SLO, **analysis})
    spec = sim.rollout.spec
    sim.metrics = {"release-gate": release_gate_metrics(spec), "step-gate": step_gate_metrics(spec)}
    return sim


CLOSED = Observation(
    Outcome.FAILED,
    message="error budget remaining 4.0% < 10%",
    metadata={"budgetRemaining": "0.04"},
)
OPEN = Observation(Outcome.SUCCEEDED, message="error budget remaining 80.0% >= 10%")


def test_a_closed_release_gate_deploys_nothing_and_opens_by_itself() -> None:
    sim = gated()
    answers = {"release-gate": CLOSED, "step-gate": OPEN}
    sim.observe = lambda run, metric, now: answers[run]
    sim.run(seconds=150)
    v2 = sim.revision_of("demo:v2")
    assert sim.status.phase == Phase.PAUSED
    assert [c.reason for c in sim.status.pause_conditions] == [PauseReason.ERROR_BUDGET]
    assert "error budget remaining 4.0% < 10%" in sim.status.message
    paused = next(c for c in sim.status.conditions if c.type == "Paused")
    assert paused.reason == "ErrorBudgetExhausted" and "4.0% < 10%" in paused.message
    assert sim.revisions.get(v2) is None or sim.revisions[v2].replicas == 0
    gate = sim.status.analysis_runs[0]
    assert gate.metrics[0].count >= 2  # checked again every interval (60s)

    answers["release-gate"] = OPEN
    sim.run(seconds=200, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert "ReleaseGateOpen" in [h.reason for h in sim.status.history]


def test_skip_gates_starts_the_update_and_is_audited() -> None:
    sim = gated()
    sim.observe = lambda run, metric, now: CLOSED if run == "release-gate" else OPEN
    sim.run(seconds=5)
    sim.request(skip_gates="hotfix for INC-42")
    sim.run(seconds=200, until=lambda s: s.status.phase == Phase.HEALTHY)
    entry = next(h for h in sim.status.history if h.reason == "GatesSkipped")
    assert "hotfix for INC-42" in entry.message and "4.0%" in entry.message


def test_the_step_gate_rolls_back_a_canary_that_burns_fast() -> None:
    # retries 0: the first failed verdict rolls back (the retry: test_step_gate_retry.py).
    sim = gated(gates={"step": {"retries": 0}})
    burn = Observation(Outcome.FAILED, message="canary error ratio lower bound 5.1% > 1.44%")
    sim.observe = lambda run, metric, now: OPEN if run == "release-gate" else burn
    sim.run(seconds=200, until=lambda s: s.status.abort)
    assert sim.status.abort_message.startswith("step gate:")
    assert "1.44%" in sim.status.abort_message


def test_failing_preflight_checks_deploy_nothing() -> None:
    sim = started()
    sim.preflight = ("ConfigMap default/app-config (volume 'config') not found",)
    sim.run(seconds=30)
    v2 = sim.revision_of("demo:v2")
    assert sim.status.phase == Phase.PAUSED
    assert "app-config" in sim.status.message
    assert sim.revisions.get(v2) is None or sim.revisions[v2].replicas == 0
    sim.preflight = ()
    sim.metrics = {"step-1": (success_rate(count=1),)}
    sim.observe = scripted([value(0.999)])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.HEALTHY)


def test_failing_preflight_checks_are_looked_at_again_soon_not_only_at_the_deadline() -> None:
    """What they read is not watched: the rollout asks to be reconciled again within
    PREFLIGHT_RECHECK_SECONDS, so an object created meanwhile lets it start."""
    sim = started()
    sim.preflight = ("ConfigMap default/app-config (volume 'config') not found",)
    sim.run(seconds=5)
    decision = sim.step()
    assert decision.requeue_at is not None
    wait = (decision.requeue_at - sim.now).total_seconds()
    assert 0 < wait <= PREFLIGHT_RECHECK_SECONDS < sim.rollout.spec.preflight.timeout


def test_promote_accepts_an_inconclusive_background_analysis() -> None:
    steps = [{"setWeight": 20}, {"pause": {"duration": "60s"}}]
    sim = started(steps, strategy__canary__analysis={"templates": [{"templateName": "x"}]})
    sim.metrics = {"background": (success_rate(count=None, interval="5s"),)}
    sim.observe = scripted([NO_DATA])
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert [c.reason for c in sim.status.pause_conditions] == [PauseReason.INCONCLUSIVE_ANALYSIS]
    sim.promote()
    sim.run(seconds=120, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert "AnalysisAccepted" in [h.reason for h in sim.status.history]


def test_each_run_keeps_a_keptn_style_quality_score() -> None:
    sim = started()
    latency = Metric.model_validate(
        {
            "name": "latency",
            "provider": {"prometheus": {"address": "http://p:9090", "query": "q"}},
            "successCondition": "result < 200",
            "failureCondition": "result > 400",
            "inconclusiveLimit": 5,
            "count": 3,
            "interval": "10s",
            "weight": 2,
        }
    )
    sim.metrics = {"step-1": (success_rate(), latency)}
    answers = {"success-rate": value(0.999), "latency": value(300.0)}  # latency: a warning
    sim.observe = lambda run, metric, now: answers[metric]
    sim.run(seconds=25)
    (run,) = sim.status.analysis_runs
    assert run.score is not None
    # success-rate passes (weight 1), latency is in the warning band (weight 2, half credit).
    assert run.score.total == 66.7 and run.score.result == "fail"
