"""Analysis end to end: sandbox + controller + a real Prometheus scraping a traffic simulator
that serves v1/v2 with configurable error rates and follows the weights the controller sets."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.kube.kinds import ANALYSIS_TEMPLATES
from rollout.models.time import parse_time
from tests.analysis.prometheus_server import PrometheusServer, start_scraping_prometheus
from tests.e2e.harness import NS, Cluster
from tests.e2e.traffic import TrafficSimulator, wait_for_scrape

pytestmark = [pytest.mark.usefixtures("controller"), pytest.mark.e2e]

INTERVAL = 5  # seconds between measurements

ERROR_RATIO = (
    'sum(rate(http_requests_total{revision="{{args.revision}}",code="500"}[10s]))'
    ' / sum(rate(http_requests_total{revision="{{args.revision}}"}[10s]))'
)


@pytest.fixture
def traffic(
    cluster: Cluster, tmp_path: Path
) -> Iterator[tuple[TrafficSimulator, PrometheusServer]]:
    sim = TrafficSimulator(cluster.kube, "app").start()
    prometheus = start_scraping_prometheus([sim.target], tmp_path)
    try:
        wait_for_scrape(prometheus.url)
        yield sim, prometheus
    finally:
        prometheus.stop()
        sim.stop()


def template(address: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "error-ratio"},
        "spec": {
            "args": [{"name": "revision"}],
            "metrics": [
                {
                    "name": "error-ratio",
                    "provider": {"prometheus": {"address": address, "query": ERROR_RATIO}},
                    "interval": f"{INTERVAL}s",
                    "initialDelay": "6s",
                    "count": 3,
                    "successCondition": "result < 0.02",
                    "failureCondition": "result >= 0.05",
                }
            ],
        },
    }


STEPS = [
    {"setWeight": 40},
    {
        "analysis": {
            "templates": [{"templateName": "error-ratio"}],
            "args": [
                {
                    "name": "revision",
                    "valueFrom": {"fieldRef": {"fieldPath": "status.currentRevision"}},
                }
            ],
        }
    },
]


def release(cluster: Cluster, steps: list[dict[str, Any]] = STEPS, **spec: Any) -> None:
    cluster.create("app", steps=steps, **spec)
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")


def run_of(cluster: Cluster, name: str) -> dict[str, Any]:
    runs = cluster.status("app").get("analysisRuns") or []
    return next(r for r in runs if r["name"] == name)


def test_a_good_v2_completes_and_a_bad_v2_is_rolled_back_within_two_intervals(
    cluster: Cluster, traffic: tuple[TrafficSimulator, PrometheusServer]
) -> None:
    sim, prometheus = traffic
    cluster.kube.create(ANALYSIS_TEMPLATES, template(prometheus.url), namespace=NS)
    release(cluster)
    done = cluster.wait_phase("app", "Healthy", timeout=60)
    assert done["status"]["currentRevision"] == done["status"]["stableRevision"]
    good = run_of(cluster, "step-1")
    assert good["phase"] == "Successful"
    values = [float(m["value"]) for m in good["metrics"][0]["measurements"]]
    assert len(values) == 3 and all(0.0005 < v < 0.002 for v in values), values

    sim.canary_errors = 0.20  # v3 is bad
    cluster.api.set_image(NS, "app", "app", "app:v3")
    aborted = cluster.wait(
        "app", lambda r: bool((r.get("status") or {}).get("abort")), timeout=60, what="abort"
    )
    status = aborted["status"]
    bad = run_of(cluster, "step-1")
    assert bad["phase"] == "Failed"
    first = bad["metrics"][0]["measurements"][0]
    assert first["phase"] == "Failed" and 0.1 < float(first["value"]) < 0.3
    # Rolled back within two analysis intervals of the analysis' first possible measurement.
    started = parse_time(bad["startedAt"])
    aborted_at: datetime = parse_time(status["abortedAt"])
    assert (aborted_at - started).total_seconds() <= 6 + 2 * INTERVAL
    assert "error-ratio" in status["abortMessage"] and "result >= 0.05" in status["abortMessage"]
    cluster.wait_phase("app", "Degraded", timeout=30)


SLO = {
    "name": "availability",
    "objective": 99,
    "window": "28d",
    "sli": {
        "bad": 'sum(increase(http_requests_total{code="500"}[$window]))',
        "total": "sum(increase(http_requests_total[$window]))",
    },
    "canarySli": {
        "bad": 'sum(increase(http_requests_total{revision="$revision",code="500"}[$window]))',
        "total": 'sum(increase(http_requests_total{revision="$revision"}[$window]))',
    },
    "stableSli": {
        "bad": 'sum(increase(http_requests_total{revision="$stable",code="500"}[$window]))',
        "total": 'sum(increase(http_requests_total{revision="$stable"}[$window]))',
    },
}


def test_the_slo_gates_open_the_release_and_roll_back_a_canary_that_burns_budget(
    cluster: Cluster, traffic: tuple[TrafficSimulator, PrometheusServer]
) -> None:
    sim, prometheus = traffic
    sim.canary_errors = 0.20
    analysis = {
        "prometheus": {"address": prometheus.url},
        "slos": [SLO],
        # The default retry, with a short cool-off: the first failed verdict withdraws the
        # canary, the retried step fails again (the regression is real) and rolls back. The
        # cool-off is longer than the retry takes to fail (a few 5s intervals): a failure
        # retryAfter or more into the retry would count as a new incident.
        "gates": {
            "release": {"interval": "5s"},
            "step": {"interval": f"{INTERVAL}s", "retryAfter": "30s"},
        },
    }
    release(
        cluster,
        steps=[{"setWeight": 40}, {"pause": {"duration": "60s"}}],
        analysis=analysis,
    )

    def withdrawn_at_zero(r: dict[str, Any]) -> bool:
        status = r.get("status") or {}
        weights = (status.get("canary") or {}).get("weights") or {}
        canary = weights.get("canary") or {}
        return bool(status.get("withdrawal")) and canary.get("weight") == 0

    withdrawn = cluster.wait("app", withdrawn_at_zero, timeout=90, what="canary withdrawn")
    assert withdrawn["status"]["phase"] == "Progressing"
    assert not withdrawn["status"].get("abort")
    aborted = cluster.wait(
        "app", lambda r: bool((r.get("status") or {}).get("abort")), timeout=90, what="abort"
    )
    status = aborted["status"]
    assert [r["name"] for r in status.get("analysisRuns", [])] == ["release-gate", "step-gate"], (
        status["abortMessage"],
        status.get("analysisRuns"),
    )
    gate = run_of(cluster, "release-gate")
    assert gate["phase"] == "Successful"
    assert "error budget remaining" in gate["metrics"][0]["measurements"][-1]["message"]
    step_gate = run_of(cluster, "step-gate")
    assert step_gate["phase"] == "Failed"
    assert status["abortMessage"].startswith("step gate:")
    assert "again, after 1 withdrawal and retry" in status["abortMessage"]
    history = [h["reason"] for h in status["history"]]
    assert "ReleaseGateOpen" in history and "RolloutAborted" in history
    order = [r for r in history if r in ("CanaryWithdrawn", "StepRetried", "RolloutAborted")]
    assert order == ["CanaryWithdrawn", "StepRetried", "RolloutAborted"], history
