"""Metrics never break reconciling: instruments that raise are logged once and ignored, and a
metrics port that cannot be bound leaves a controller that works, without /metrics."""

from __future__ import annotations

import logging
import socket
from typing import Any

import pytest

from rollout.kube import Kube
from rollout.metrics import ControllerMetrics
from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster
from tests.metrics.scrape import scrape


class Broken:
    """Stands in for a prometheus-client metric: every use raises."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"broken instrument: {name}")


def test_instruments_that_raise_are_logged_once_and_reconciling_goes_on(
    cluster: Cluster, metered: Controller, caplog: pytest.LogCaptureFixture
) -> None:
    metrics = metered.metrics
    for instrument in ("_reconcile", "_api_requests", "_decisions", "_runs", "_retries"):
        setattr(metrics, instrument, Broken())
    with caplog.at_level(logging.DEBUG, logger="rollout.metrics"):
        cluster.create("app")
        cluster.wait_phase("app", "Healthy")
        cluster.api.set_image(NS, "app", "app", "app:v2")
        cluster.wait_step("app", 3)
        cluster.api.promote(NS, "app")
        done = cluster.wait_phase("app", "Healthy")
    assert done["status"]["stableRevision"] == done["status"]["currentRevision"]
    first = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert all(r.exc_info for r in first)
    failed = [
        r.getMessage().removeprefix("metrics: recording ").split()[0]
        for r in first
        if r.getMessage().endswith("failed (further failures logged at debug)")
    ]
    assert len(failed) == len(first) == len(set(failed)), "each logged once, with a traceback"
    # (a conflict with the test's own writes may add a retry)
    assert (
        {"reconciled", "api_request", "decided"}
        <= set(failed)
        <= {
            "reconciled",
            "api_request",
            "decided",
            "retried",
        }
    )
    assert any(r.levelno == logging.DEBUG for r in caplog.records)  # the later ones
    # What does not depend on the broken instruments is still served.
    found = scrape(metered.metrics_port)
    assert [s.labels["phase"] for s in found.series("rollout_info", name="app")] == ["Healthy"]


def test_a_metrics_port_in_use_is_logged_and_the_controller_works_without_it(
    cluster: Cluster, caplog: pytest.LogCaptureFixture
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        kube = Kube(cluster.sandbox.api_client())
        controller = Controller(kube, workers=2, metrics_port=port, metrics_address="127.0.0.1")
        with caplog.at_level(logging.ERROR, logger="rollout.reconciler.controller"):
            controller.start()
        try:
            assert controller.metrics_port is None
            (record,) = caplog.records
            assert record.getMessage().startswith(f"metrics: cannot serve on 127.0.0.1:{port}")
            assert "running without /metrics" in record.getMessage()
            cluster.create("app")
            cluster.wait_phase("app", "Healthy")
            # Kept all the same, in the registry.
            assert controller.metrics.value("rollout_decisions_total", {"reason": "Deployed"}) == 1
        finally:
            controller.stop()
            kube.close()


def test_without_a_port_nothing_is_served_but_everything_is_kept(cluster: Cluster) -> None:
    kube = Kube(cluster.sandbox.api_client())
    controller = Controller(kube, workers=2)
    controller.start()
    try:
        assert controller.metrics_port is None
        cluster.create("app")
        cluster.wait_phase("app", "Healthy")
        assert controller.metrics.value("rollout_decisions_total", {"reason": "Deployed"}) == 1
        count = controller.metrics.value("rollout_reconcile_duration_seconds_count")
        assert count is not None and count >= 1
    finally:
        controller.stop()
        kube.close()


def test_recording_a_value_that_cannot_be_a_label_is_swallowed() -> None:
    metrics = ControllerMetrics()
    metrics.api_request("get", "rollouts", "", 200)
    metrics.measured("Step", "web")  # type: ignore[call-arg]  # one label short
    assert (
        metrics.value(
            "rollout_api_requests_total",
            {"verb": "GET", "resource": "rollouts", "subresource": "", "code": "200"},
        )
        == 1
    )
