"""Limits, counts and scheduling: exactly what rollout.analysis.assess documents."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollout.analysis.assess import metric_phase, next_due, record
from rollout.models.analysis import Metric
from rollout.models.analysis_status import (
    MEASUREMENT_LIMIT,
    AnalysisPhase,
    Measurement,
    MeasurementPhase,
    MetricResult,
)

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def metric(**fields: Any) -> Metric:
    doc = {
        "name": "m",
        "provider": {"prometheus": {"address": "http://p:9090", "query": "q"}},
        "successCondition": "result > 0",
        "interval": "10s",
        **fields,
    }
    return Metric.model_validate(doc)


def feed(m: Metric, phases: list[MeasurementPhase]) -> MetricResult:
    result = MetricResult(name=m.name)
    for i, phase in enumerate(phases):
        at = T0 + timedelta(seconds=10 * i)
        result = record(m, result, Measurement(phase=phase, started_at=at, finished_at=at))
    return result


S, F, INC, E, N = (
    MeasurementPhase.SUCCESSFUL,
    MeasurementPhase.FAILED,
    MeasurementPhase.INCONCLUSIVE,
    MeasurementPhase.ERROR,
    MeasurementPhase.NO_DATA,
)


def test_failure_limit_n_tolerates_n_failures() -> None:
    m = metric(count=10, failureLimit=2)
    assert feed(m, [F, S, F]).phase is AnalysisPhase.RUNNING
    assert feed(m, [F, S, F, F]).phase is AnalysisPhase.FAILED


def test_the_default_failure_limit_fails_at_the_first_failure() -> None:
    assert feed(metric(count=5), [S, F]).phase is AnalysisPhase.FAILED


def test_failure_limit_minus_one_never_fails_on_count() -> None:
    assert feed(metric(count=4, failureLimit=-1), [F, F, F, S]).phase is AnalysisPhase.SUCCESSFUL


def test_consecutive_failure_limit_counts_only_runs_of_failures() -> None:
    m = metric(count=10, failureLimit=-1, consecutiveFailureLimit=3)
    assert feed(m, [F, F, S, F, F, S]).phase is AnalysisPhase.RUNNING
    assert feed(m, [F, F, S, F, F, F]).phase is AnalysisPhase.FAILED


def test_errors_are_consecutive_and_reset_by_a_measurement() -> None:
    m = metric(count=10, consecutiveErrorLimit=2)
    assert feed(m, [E, E, S, E, E]).phase is AnalysisPhase.RUNNING
    result = feed(m, [E, E, S, E, E, E])
    assert result.phase is AnalysisPhase.ERROR and result.consecutive_error == 3
    assert result.count == 1  # errors are retried, not counted toward `count`


def test_no_data_counts_as_inconclusive_by_default_and_as_failure_when_asked() -> None:
    assert feed(metric(count=5), [S, N]).phase is AnalysisPhase.INCONCLUSIVE
    assert feed(metric(count=5, inconclusiveLimit=1), [S, N]).phase is AnalysisPhase.RUNNING
    assert feed(metric(count=5, noData="Failed"), [S, N]).phase is AnalysisPhase.FAILED


def test_a_metric_never_passes_without_a_successful_measurement() -> None:
    m = metric(count=2, inconclusiveLimit=5)
    result = feed(m, [N, INC])
    assert result.phase is AnalysisPhase.INCONCLUSIVE
    assert "no data is never a pass" in result.message


def test_a_metric_without_count_runs_until_its_run_ends() -> None:
    m = metric()
    result = feed(m, [S] * 20)
    assert result.phase is AnalysisPhase.RUNNING
    assert metric_phase(m, result, ended=True)[0] is AnalysisPhase.SUCCESSFUL
    assert len(result.measurements) == MEASUREMENT_LIMIT and result.count == 20


def test_scheduling_initial_delay_interval_and_error_retry() -> None:
    m = metric(count=3, initialDelay="30s", interval="60s")
    empty = MetricResult(name="m")
    assert next_due(m, empty, T0) == T0 + timedelta(seconds=30)
    one = record(m, empty, Measurement(phase=S, started_at=T0, finished_at=T0))
    assert next_due(m, one, T0) == T0 + timedelta(seconds=60)
    errored = record(m, one, Measurement(phase=E, started_at=T0, finished_at=T0))
    assert next_due(m, errored, T0) == T0 + timedelta(seconds=10)
    done = feed(m, [S, S, S])
    assert next_due(m, done, T0) is None


def test_a_running_measurement_is_replaced_by_its_result() -> None:
    job = Metric.model_validate({"name": "smoke", "provider": {"job": {"spec": {}}}})
    running = Measurement(phase=MeasurementPhase.RUNNING, started_at=T0)
    result = record(job, MetricResult(name="smoke"), running)
    assert result.phase is AnalysisPhase.RUNNING and result.count == 0
    done = Measurement(phase=S, started_at=T0, finished_at=T0 + timedelta(seconds=40))
    result = record(job, result, done)
    assert [x.phase for x in result.measurements] == [S]
    assert result.phase is AnalysisPhase.SUCCESSFUL
