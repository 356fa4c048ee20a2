"""From measurements to a metric's phase and a run's phase, and when to measure next. Pure.

The limits (also in rollout.models.analysis and the README), with N the limit's value:
- Failed when more than `failureLimit` measurements failed (N tolerated, the (N+1)-th fails;
  -1: never on count), or when `consecutiveFailureLimit` failures come in a row.
- Error when more than `consecutiveErrorLimit` errors come in a row (N tolerated).
- Inconclusive when more than `inconclusiveLimit` measurements were inconclusive (NoData counts
  here under the default `noData: Inconclusive` policy, as a failure under `noData: Failed`).
- Successful when `count` measurements are done (errors are retried and not counted), or, for a
  metric without a count, when its run ends. **Never without one Successful measurement**: a
  metric whose every measurement had no data ends Inconclusive, not Successful.
A run takes the worst phase among its metrics, in the order Failed > Error > Inconclusive >
Running > Successful; dry-run metrics are measured and shown but never count.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from rollout.models.analysis import Metric, NoDataPolicy
from rollout.models.analysis_status import (
    MEASUREMENT_LIMIT,
    AnalysisPhase,
    AnalysisRun,
    Measurement,
    MeasurementPhase,
    MetricResult,
)

ERROR_RETRY_SECONDS = 10
"""An errored measurement is retried this soon (or at the interval, if shorter)."""


def record(metric: Metric, result: MetricResult, measurement: Measurement) -> MetricResult:
    """The metric's result with `measurement` added (or replacing the Running one it finishes)."""
    result = result.detached()
    last = result.last
    if last is not None and last.phase is MeasurementPhase.RUNNING:
        result.measurements = result.measurements[:-1]
    result.measurements = [*result.measurements, measurement][-MEASUREMENT_LIMIT:]
    phase = measurement.phase
    if phase is not MeasurementPhase.RUNNING:
        _count(metric, result, phase)
    result.dry_run = metric.dry_run
    result.phase, result.message = metric_phase(metric, result, ended=False)
    return result


def _count(metric: Metric, result: MetricResult, phase: MeasurementPhase) -> None:
    if phase is MeasurementPhase.ERROR:
        result.error += 1
        result.consecutive_error += 1
        return
    result.count += 1
    result.consecutive_error = 0
    failed = phase is MeasurementPhase.FAILED or (
        phase is MeasurementPhase.NO_DATA and metric.no_data is NoDataPolicy.FAILED
    )
    result.consecutive_failed = result.consecutive_failed + 1 if failed else 0
    if phase is MeasurementPhase.SUCCESSFUL:
        result.successful += 1
    elif phase is MeasurementPhase.FAILED:
        result.failed += 1
    elif phase is MeasurementPhase.INCONCLUSIVE:
        result.inconclusive += 1
    elif phase is MeasurementPhase.NO_DATA:
        result.no_data += 1


def _planned(metric: Metric) -> int | None:
    """Measurements to take; None: until the run ends."""
    if metric.count is not None:
        return metric.count
    return None if metric.interval is not None else 1


def metric_phase(metric: Metric, result: MetricResult, *, ended: bool) -> tuple[AnalysisPhase, str]:
    """The phase and why. `ended`: the run is over (a metric without a count stops here)."""
    failures = result.failed + (result.no_data if metric.no_data is NoDataPolicy.FAILED else 0)
    grey = result.inconclusive + (
        result.no_data if metric.no_data is NoDataPolicy.INCONCLUSIVE else 0
    )
    last = result.last.message if result.last else ""
    if metric.failure_limit >= 0 and failures > metric.failure_limit:
        return (
            AnalysisPhase.FAILED,
            f"{failures} failed measurement(s), more than failureLimit {metric.failure_limit}"
            f" (last: {last})",
        )
    limit = metric.consecutive_failure_limit
    if limit is not None and result.consecutive_failed >= limit:
        return (
            AnalysisPhase.FAILED,
            f"{result.consecutive_failed} failed in a row, consecutiveFailureLimit {limit}"
            f" (last: {last})",
        )
    if result.consecutive_error > metric.consecutive_error_limit:
        return (
            AnalysisPhase.ERROR,
            f"{result.consecutive_error} errors in a row, more than consecutiveErrorLimit "
            f"{metric.consecutive_error_limit} (last: {last})",
        )
    if metric.inconclusive_limit >= 0 and grey > metric.inconclusive_limit:
        return (
            AnalysisPhase.INCONCLUSIVE,
            f"{grey} inconclusive/no-data measurement(s), more than inconclusiveLimit "
            f"{metric.inconclusive_limit} (last: {last})",
        )
    planned = _planned(metric)
    if ended or (planned is not None and result.count >= planned):
        if result.successful == 0:
            return (
                AnalysisPhase.INCONCLUSIVE,
                f"no successful measurement in {result.count} (no data is never a pass)",
            )
        return AnalysisPhase.SUCCESSFUL, f"{result.successful}/{result.count} successful"
    if result.count == 0 and result.error == 0 and not result.measurements:
        return AnalysisPhase.PENDING, "waiting for the first measurement"
    return AnalysisPhase.RUNNING, f"{result.successful}/{result.count} successful so far"


def next_due(metric: Metric, result: MetricResult, started_at: datetime) -> datetime | None:
    """When this metric should be measured next; None when it is done."""
    if result.phase.done:
        return None
    last = result.last
    if last is None:
        return started_at + timedelta(seconds=metric.initial_delay)
    if last.phase is MeasurementPhase.RUNNING:
        # A Job: look again soon; its own duration is the Job's business.
        return last.started_at + timedelta(seconds=max(5, min(metric.interval or 5, 30)))
    finished = last.finished_at or last.started_at
    if last.phase is MeasurementPhase.ERROR:
        return finished + timedelta(seconds=min(ERROR_RETRY_SECONDS, metric.interval or 10))
    return finished + timedelta(seconds=metric.interval or 0)


_SEVERITY = {
    AnalysisPhase.FAILED: 5,
    AnalysisPhase.ERROR: 4,
    AnalysisPhase.INCONCLUSIVE: 3,
    AnalysisPhase.RUNNING: 2,
    AnalysisPhase.PENDING: 2,
    AnalysisPhase.SUCCESSFUL: 1,
}


def run_phase(
    metrics: Sequence[Metric], run: AnalysisRun, *, ended: bool = False
) -> tuple[AnalysisPhase, str]:
    """The run's phase: its worst counting metric's, with that metric named in the message."""
    worst: tuple[int, AnalysisPhase, str] = (0, AnalysisPhase.SUCCESSFUL, "")
    for metric in metrics:
        if metric.dry_run:
            continue
        result = run.metric(metric.name) or MetricResult(name=metric.name)
        phase, why = metric_phase(metric, result, ended=ended)
        severity = _SEVERITY[phase]
        if severity > worst[0]:
            worst = (severity, phase, f"{metric.name}: {why}")
    if worst[0] == 0:
        return AnalysisPhase.SUCCESSFUL, "only dry-run metrics"
    phase = AnalysisPhase.RUNNING if worst[1] is AnalysisPhase.PENDING else worst[1]
    return phase, worst[2]
