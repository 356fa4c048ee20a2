"""Analysis in the metrics: measurements by run kind, provider and phase, and finished runs by
phase, against the sandbox with a `web` metric served from 127.0.0.1 (a good v2, a bad v3)."""

from __future__ import annotations

from typing import Any

from rollout.kube.kinds import ANALYSIS_TEMPLATES
from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster
from tests.http_far import serving
from tests.metrics.grafana import expressions
from tests.metrics.promql import label_names
from tests.metrics.scrape import Scrape, scrape_until

STEPS = [{"setWeight": 20}, {"analysis": {"templates": [{"templateName": "quality"}]}}]


def template(url: str) -> dict[str, Any]:
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "quality"},
        "spec": {
            "metrics": [
                {
                    "name": "error-ratio",
                    "provider": {"web": {"url": url, "jsonPath": "$.ratio"}},
                    "interval": "1s",
                    "count": 2,
                    "successCondition": "result < 0.05",
                    "failureCondition": "result >= 0.05",
                }
            ]
        },
    }


def step_run(cluster: Cluster) -> dict[str, Any]:
    return next(r for r in cluster.status("app")["analysisRuns"] if r["name"] == "step-1")


def measured(found: Scrape, phase: str) -> float:
    return found.value(
        "rollout_analysis_measurements_total", kind="Step", provider="web", phase=phase
    )


def finished(found: Scrape, phase: str) -> float:
    return found.value("rollout_analysis_runs_total", kind="Step", phase=phase)


def test_measurements_and_finished_runs_are_counted_by_phase(
    cluster: Cluster, metered: Controller
) -> None:
    with serving() as far:
        url = far.answer("/quality", {"ratio": 0.01})
        cluster.kube.create(ANALYSIS_TEMPLATES, template(url), namespace=NS)
        cluster.create("app", steps=STEPS)
        cluster.wait_phase("app", "Healthy")
        cluster.api.set_image(NS, "app", "app", "app:v2")
        cluster.wait(
            "app",
            lambda r: (
                r["status"]["stableRevision"] == r["status"]["currentRevision"]
                and bool(r["status"].get("analysisRuns"))
            ),
            what="v2 promoted",
            timeout=30,
        )
        good = step_run(cluster)
        assert good["phase"] == "Successful" and good["metrics"][0]["successful"] == 2
        after_good = scrape_until(
            metered.metrics_port, lambda s: finished(s, "Successful") == 1, what="run counted"
        )
        assert measured(after_good, "Successful") == 2
        assert measured(after_good, "Failed") == 0
        assert finished(after_good, "Failed") == 0

        far.answer("/quality", {"ratio": 0.5})
        cluster.api.set_image(NS, "app", "app", "app:v3")
        cluster.wait_phase("app", "Degraded", timeout=30)
        bad = step_run(cluster)
        assert bad["phase"] == "Failed" and bad["metrics"][0]["failed"] == 1
        found = scrape_until(
            metered.metrics_port, lambda s: finished(s, "Failed") == 1, what="failed run counted"
        )
    assert measured(found, "Failed") == 1
    assert measured(found, "Successful") == 2  # the good release's, still counted
    assert finished(found, "Successful") == 1  # a finished run is counted once, not per write
    assert found.value("rollout_decisions_total", reason="RolloutAborted") == 1
    # The dashboard's analysis panels select and group by labels these series really have.
    for title, expr in expressions():
        for metric, used in label_names(expr).items():
            if "analysis" in metric:
                known = set().union(*(s.labels for s in found.series(metric)))
                assert used <= known, f"{title}: {metric} has no label {used - known}"
