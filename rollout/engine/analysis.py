"""Analysis runs inside a decision: start them, fold in new measurements, end them. Pure.

The reconciler measures what is due (I/O) and hands the new measurements in `Inputs.analysis`;
here they become part of the status, so the measurement that decides a rollback and the
rollback itself are one status write.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from rollout.analysis.assess import metric_phase, next_due, record, run_phase
from rollout.analysis.score import ObjectiveResult, ObjectiveStatus, score
from rollout.engine.draft import Draft, Termination
from rollout.models.analysis import Metric
from rollout.models.analysis_status import (
    AnalysisPhase,
    AnalysisRun,
    Measurement,
    MeasurementPhase,
    MetricResult,
    RunKind,
    Score,
)


@dataclass(frozen=True)
class AnalysisInputs:
    metrics: Mapping[str, tuple[Metric, ...]] = field(default_factory=dict)
    """Run name -> its metrics (resolved from templates, or the SLO gates' synthetic ones)."""
    errors: Mapping[str, str] = field(default_factory=dict)
    """Run name -> why its metrics could not be resolved (a missing template, a bad arg)."""
    measurements: Mapping[tuple[str, str], Measurement] = field(default_factory=dict)
    """(run, metric) -> the measurement taken for this decision."""


TEMPLATE_RUNS = frozenset(
    {RunKind.STEP, RunKind.BACKGROUND, RunKind.PRE_PROMOTION, RunKind.POST_PROMOTION}
)
"""Runs of the user's analysis templates (the SLO gates' runs have figures of their own)."""


def find(draft: Draft, name: str) -> AnalysisRun | None:
    return next((r for r in draft.status.analysis_runs if r.name == name), None)


def _store(draft: Draft, run: AnalysisRun) -> None:
    runs = [r for r in draft.status.analysis_runs if r.name != run.name]
    draft.status.analysis_runs = [*runs, run]


def advance(
    analysis: AnalysisInputs,
    draft: Draft,
    name: str,
    kind: RunKind,
    *,
    step: int | None = None,
) -> AnalysisRun:
    """The run `name` of the current revision: started if new, with this round's measurements
    folded in and its phase brought up to date. A finished run is returned as it is."""
    revision = draft.status.current_revision or ""
    run = find(draft, name)
    if run is None or run.revision != revision:
        run = AnalysisRun(name=name, kind=kind, revision=revision, step=step, started_at=draft.now)
    if run.phase.done:
        return run
    run = run.detached()
    if name in analysis.errors:
        run.phase, run.message = AnalysisPhase.ERROR, analysis.errors[name]
        run.finished_at = draft.now
        _store(draft, run)
        return run
    metrics = analysis.metrics.get(name, ())
    if not metrics:
        # Never a pass by default: a run nobody could resolve metrics for cannot be judged.
        run.phase, run.message = AnalysisPhase.ERROR, "no metrics were resolved for this run"
        run.finished_at = draft.now
        _store(draft, run)
        return run
    results = {m.name: m for m in run.metrics}
    for metric in metrics:
        result = results.get(metric.name) or MetricResult(name=metric.name, dry_run=metric.dry_run)
        new = analysis.measurements.get((name, metric.name))
        if new is not None:
            result = record(metric, result, new)
        results[metric.name] = result
    run.metrics = [results[m.name] for m in metrics]
    run.phase, run.message = run_phase(metrics, run)
    # Scored like a Keptn quality gate: template runs only (the SLO gates have their figures).
    run.score = quality(metrics, run) if kind in TEMPLATE_RUNS else None
    if run.phase.done:
        run.finished_at = draft.now
    _store(draft, run)
    return run


def end(
    analysis: AnalysisInputs, draft: Draft, name: str, *, reason: str = ""
) -> tuple[AnalysisRun | None, list[Termination]]:
    """End a run now (its step is left, the update promoted or aborted). Metrics without a
    count get their final phase; Running measurements are returned to be stopped."""
    run = find(draft, name)
    if run is None:
        return None, []
    running = [
        r
        for r in run.metrics
        if r.last is not None
        and r.last.phase is MeasurementPhase.RUNNING
        and r.last.finished_at is None
    ]
    if run.phase.done and run.finished_at is not None and not running and not reason:
        return run, []
    run = run.detached()
    metrics = {m.name: m for m in analysis.metrics.get(name, ())}
    stops: list[Termination] = []
    for result in run.metrics:
        last = result.last
        if last is not None and last.phase is MeasurementPhase.RUNNING and last.finished_at is None:
            stops.append(Termination(name, result.name, last))
            # Marked finished so it is stopped once; it stays Running in the record because it
            # never reached a verdict.
            last.finished_at = draft.now
            last.message = (
                f"stopped: the run ended ({last.message})"
                if last.message
                else ("stopped: the run ended")
            )
    if not run.phase.done:
        # A measurement the provider started (a Job) but whose Running record never reached
        # the status (the write lost to a 409, e.g. the very `abort` that ends the run here)
        # is invisible above; without a stop, its Job would test the canary for its whole
        # length after the abort. The provider finds it by its labels.
        stopping = {s.metric for s in stops}
        results = {r.name: r for r in run.metrics}
        for metric_name in dict.fromkeys([*metrics, *results]):
            known = results.get(metric_name)
            if metric_name not in stopping and (known is None or not known.phase.done):
                stops.append(Termination(name, metric_name, None))
        for result in run.metrics:
            metric = metrics.get(result.name)
            if metric is not None:
                result.phase, result.message = metric_phase(metric, result, ended=True)
        run.phase, run.message = run_phase(list(metrics.values()), run, ended=True)
    if reason:
        run.message = f"{reason}; {run.message}" if run.message else reason
    run.finished_at = run.finished_at or draft.now
    _store(draft, run)
    return run, stops


_STATUS: dict[AnalysisPhase, ObjectiveStatus] = {
    AnalysisPhase.SUCCESSFUL: "pass",
    AnalysisPhase.INCONCLUSIVE: "warning",
    AnalysisPhase.FAILED: "fail",
    AnalysisPhase.ERROR: "fail",
}


_LAST: dict[MeasurementPhase, ObjectiveStatus] = {
    MeasurementPhase.SUCCESSFUL: "pass",
    MeasurementPhase.INCONCLUSIVE: "warning",
    MeasurementPhase.FAILED: "fail",
    MeasurementPhase.ERROR: "fail",
}


def quality(metrics: tuple[Metric, ...] | list[Metric], run: AnalysisRun) -> Score | None:
    """The Keptn-style score of a run's metrics as they stand (a summary: decisions come from
    the limits). A metric still running counts by its last measurement."""
    objectives: list[ObjectiveResult] = []
    for metric in metrics:
        if metric.dry_run:
            continue
        result = run.metric(metric.name)
        last = result.last if result is not None else None
        if result is None or last is None:
            status: ObjectiveStatus = "no-data"
        elif result.phase in _STATUS:
            status = _STATUS[result.phase]
        else:
            status = _LAST.get(last.phase, "no-data")
        value = last.value if last is not None else None
        objectives.append(
            ObjectiveResult(metric.name, value, status, weight=metric.weight, key=metric.key)
        )
    if not objectives:
        return None
    scored = score(objectives)
    return Score(total=round(scored.total, 1), result=scored.result, message=scored.message)


def due(analysis: AnalysisInputs, draft: Draft) -> datetime | None:
    """The soonest time a running run's metric should be measured."""
    times: list[datetime] = []
    for run in draft.status.analysis_runs:
        if run.phase.done:
            continue
        results = {m.name: m for m in run.metrics}
        for metric in analysis.metrics.get(run.name, ()):
            result = results.get(metric.name) or MetricResult(name=metric.name)
            at = next_due(metric, result, run.started_at)
            if at is not None:
                times.append(at)
    return min(times, default=None)


def summary(run: AnalysisRun) -> str:
    """One line for history and messages: the run, its phase, and the values that decided."""
    return f"analysis {run.name} {run.phase.value}: {run.message}"
