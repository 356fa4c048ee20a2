"""The analysis decisions on each deterministic scenario, end to end below the controller: the
real Prometheus (scenario data) -> the prometheus provider -> CEL conditions -> limits -> the
run's phase. The templates are the ones a user would write (examples/analysis)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rollout.analysis.assess import record, run_phase
from rollout.analysis.conditions import classify
from rollout.analysis.providers.prometheus import PrometheusProvider
from rollout.models.analysis import Metric
from rollout.models.analysis_status import (
    AnalysisPhase,
    AnalysisRun,
    Measurement,
    MetricResult,
    RunKind,
)
from tests.analysis.prometheus_server import LoadedPrometheus
from tests.analysis.provider_tools import context

SEL = 'scenario="{s}",version="canary"'
ERROR_RATIO = (
    'sum(rate(http_requests_total{{{sel},code="500"}}[5m]))'
    " / sum(rate(http_requests_total{{{sel}}}[5m]))"
)
P99 = (
    "histogram_quantile(0.99, sum by (le) "
    "(rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))"
)


def metrics(scenario: str, address: str) -> tuple[Metric, ...]:
    sel = SEL.format(s=scenario)
    common = {"interval": "1m", "count": 3}
    return (
        Metric.model_validate(
            {
                "name": "error-ratio",
                "provider": {
                    "prometheus": {"address": address, "query": ERROR_RATIO.format(sel=sel)}
                },
                "successCondition": "result < 0.005",
                "failureCondition": "result >= 0.02",
                "inconclusiveLimit": 1,
                **common,
            }
        ),
        Metric.model_validate(
            {
                "name": "p99",
                "provider": {"prometheus": {"address": address, "query": P99.format(sel=sel)}},
                "successCondition": "result <= 0.2",
                "failureCondition": "result > 0.22",
                **common,
            }
        ),
    )


def judge(scenario: str, prometheus: LoadedPrometheus, minutes_before_end: int) -> AnalysisRun:
    """Three measurements a minute apart, ending `minutes_before_end` before the data ends."""
    provider = PrometheusProvider(object())
    start = prometheus.before(60 * (minutes_before_end + 2))
    run = AnalysisRun(name="step-1", kind=RunKind.STEP, revision="r", started_at=start)
    found = metrics(scenario, prometheus.url)
    results = {m.name: MetricResult(name=m.name) for m in found}
    try:
        for i in range(3):
            at = start + timedelta(minutes=i)
            for metric in found:
                seen = provider.measure(metric.provider.prometheus, context(at), None)  # type: ignore[arg-type]
                phase, why = classify(metric, seen)
                taken = Measurement(
                    phase=phase, value=seen.display, message=why, started_at=at, finished_at=at
                )
                results[metric.name] = record(metric, results[metric.name], taken)
    finally:
        provider.close()
    run.metrics = list(results.values())
    run.phase, run.message = run_phase(found, run)
    return run


@pytest.mark.parametrize(
    ("scenario", "minutes_before_end", "phase", "because"),
    [
        ("healthy", 0, AnalysisPhase.SUCCESSFUL, ""),
        ("errors-1pp", 0, AnalysisPhase.INCONCLUSIVE, "error-ratio"),  # 1.1 %: the grey zone
        ("errors-5pp", 0, AnalysisPhase.FAILED, "error-ratio"),
        ("latency", 0, AnalysisPhase.FAILED, "p99"),  # 225 ms against a 220 ms bar
        ("no-traffic", 0, AnalysisPhase.INCONCLUSIVE, "NaN"),  # idle: never a pass, no rollback
        ("nan", 0, AnalysisPhase.INCONCLUSIVE, "NaN"),
        ("flapping", 33, AnalysisPhase.INCONCLUSIVE, "empty vector"),  # inside the scrape gap
        ("flapping", 0, AnalysisPhase.SUCCESSFUL, ""),  # after it: healthy again
    ],
)
def test_the_decision_on_each_scenario(
    prometheus: LoadedPrometheus,
    scenario: str,
    minutes_before_end: int,
    phase: AnalysisPhase,
    because: str,
) -> None:
    run = judge(scenario, prometheus, minutes_before_end)
    assert run.phase is phase, run.message
    assert because in run.message
