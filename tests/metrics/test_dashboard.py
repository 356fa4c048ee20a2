"""The Grafana dashboard (dashboards/grafana/rollouts.json): a dashboard Grafana can load, whose
every query names only metrics (and labels) the controller really exports, and which a real
Prometheus scraping a real controller answers."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from rollout.reconciler.controller import Controller
from tests.analysis.prometheus_server import start_scraping_prometheus
from tests.e2e.harness import NS, Cluster
from tests.metrics.grafana import dashboard, expressions, panels
from tests.metrics.promql import label_names, metric_names
from tests.metrics.scrape import scrape

DATASOURCE = "${datasource}"
# The panels the issue asks for: a word of the title -> a metric it must show.
REQUIRED = {
    "by phase": "rollout_info",
    "canary weight": "rollout_canary_weight",
    "rollbacks": "rollout_decisions_total",
    "analysis failures": "rollout_analysis_measurements_total",
    "reconcile latency": "rollout_reconcile_duration_seconds_bucket",
    "api requests by code": "rollout_api_requests_total",
    "work queue": "rollout_workqueue_depth",
}
# What Grafana substitutes before it sends a query.
GRAFANA_VARIABLES = {"$__rate_interval": "10s", "$namespace": ".*"}


def test_the_dashboard_has_what_grafana_needs_and_the_panels_asked_for() -> None:
    board = dashboard()
    for field in ("title", "uid", "panels", "templating", "time", "schemaVersion"):
        assert field in board, field
    assert board["schemaVersion"] >= 39
    assert len(board["uid"]) <= 40  # Grafana's limit
    (source,) = [v for v in board["templating"]["list"] if v["type"] == "datasource"]
    assert source["query"] == "prometheus" and f"${{{source['name']}}}" == DATASOURCE
    ids = [p["id"] for p in board["panels"]]
    assert len(ids) == len(set(ids)), "panel ids repeat"
    for panel in board["panels"]:
        grid = panel["gridPos"]
        assert all(isinstance(grid.get(k), int) for k in "hwxy"), panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
    for panel in panels():
        assert panel["datasource"] == {"type": "prometheus", "uid": DATASOURCE}, panel["title"]
        assert panel["targets"], panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert len(refs) == len(set(refs)), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == DATASOURCE and target["expr"].strip()
    for word, metric in REQUIRED.items():
        shown = [p for p in panels() if word in p["title"].lower()]
        assert shown, f"no panel titled with {word!r}"
        used = {n for p in shown for t in p["targets"] for n in metric_names(t["expr"])}
        assert metric in used, f"{word}: {used}"


def test_metric_names_are_found_in_promql() -> None:
    expr = (
        'histogram_quantile(0.99, sum by (le) (rate(a_bucket{job="x", le!="1"}[5m] offset 1m)))'
        " / on (instance) group_left (pod) b_total + count(c) * 1e3 - sum without (d) (d:rec)"
    )
    assert metric_names(expr) == {"a_bucket", "b_total", "c", "d:rec"}
    assert label_names('sum by (code) (rate(x{verb="PUT"}[$__rate_interval]))') == {
        "x": {"verb", "code"}
    }
    with pytest.raises(ValueError, match="unclosed"):
        metric_names("sum(rate(x[5m])")
    with pytest.raises(ValueError, match="no metric name"):
        metric_names("vector(1)")


def test_every_metric_and_label_the_dashboard_uses_is_exported(
    cluster: Cluster, metered: Controller
) -> None:
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")  # a real reconcile: every per-rollout gauge is there
    exported = scrape(metered.metrics_port)
    names = exported.names()
    for title, expr in expressions():
        for metric, labels in label_names(expr).items():
            assert metric in names, f"{title}: {metric} is not exported"
            samples = exported.series(metric)
            if samples:  # a labelled counter nobody incremented yet shows no labels
                known = set().union(*(s.labels for s in samples))
                assert labels <= known, f"{title}: {metric} has no label {labels - known}"


def query(url: str, expr: str) -> list[dict[str, Any]]:
    for variable, value in GRAFANA_VARIABLES.items():
        expr = expr.replace(variable, value)
    answer = httpx.get(f"{url}/api/v1/query", params={"query": expr}, timeout=10).json()
    assert answer["status"] == "success", f"{expr}: {answer}"
    result: list[dict[str, Any]] = answer["data"]["result"]
    return result


@pytest.mark.e2e
def test_a_real_prometheus_scraping_the_controller_answers_the_panels(
    cluster: Cluster, metered: Controller, tmp_path: Path
) -> None:
    prometheus = start_scraping_prometheus([f"127.0.0.1:{metered.metrics_port}"], tmp_path)
    try:
        cluster.create("app")
        cluster.wait_phase("app", "Healthy")
        cluster.api.set_image(NS, "app", "app", "app:v2")
        cluster.wait_step("app", 1)
        cluster.api.abort(NS, "app")
        cluster.wait_phase("app", "Degraded")
        deadline = time.monotonic() + 30
        while not query(prometheus.url, 'rollout_info{phase="Degraded"}'):
            assert time.monotonic() < deadline, "Prometheus never scraped the abort"
            time.sleep(0.5)
        time.sleep(2)  # two more scrapes: rates need two samples in their window
        answered = {}
        for title, expr in expressions():
            answered[(title, expr)] = query(prometheus.url, expr)  # valid PromQL, all of it
        empty = [
            (title, expr)
            for (title, expr), result in answered.items()
            if not result and "analysis" not in expr and "errors" not in title.lower()
        ]
        assert not empty, f"no data for: {empty}"
        by_phase = query(prometheus.url, 'sum by (phase) (rollout_info{namespace=~".*"})')
        assert {r["metric"]["phase"]: r["value"][1] for r in by_phase} == {"Degraded": "1"}
    finally:
        prometheus.stop()
