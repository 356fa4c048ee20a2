"""Notification deliveries are counted in the controller's metrics, by sink and outcome, with
the retries; scraped over HTTP from a controller releasing against the sandbox."""

from __future__ import annotations

import pytest

from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster
from tests.http_far import Far
from tests.metrics.scrape import scrape

pytestmark = pytest.mark.e2e


def test_sent_retried_and_failed_notifications_are_counted(
    cluster: Cluster, metered: Controller, far: Far
) -> None:
    ok = far.answer("/ok", {})
    busy = far.answer("/busy", b"busy", status=503, content_type="text/plain")  # for ever
    cluster.create(
        "app",
        steps=[{"setWeight": 50}],
        notifications=[
            {"name": "audit", "events": ["Started", "Completed"], "webhook": {"url": ok}},
            {"name": "chat", "events": ["Started"], "slack": {"url": busy}},
        ],
    )
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait(
        "app",
        lambda r: (
            (r.get("status") or {}).get("stableRevision")
            == (r.get("status") or {}).get("currentRevision")
            and (r.get("status") or {}).get("phase") == "Healthy"
            and (r.get("status") or {}).get("observedGeneration") == r["metadata"]["generation"]
        ),
        what="v2 released",
    )
    assert metered.notifier.flush(timeout=15)  # chat: 5 attempts over 0.5 + 1 + 2 + 4 s
    got = scrape(metered.metrics_port)
    # Completed (v1), Started, Completed (v2) to the webhook; Started to Slack, refused 5 times.
    assert got.value("rollout_notifications_total", sink="webhook", outcome="sent") == 3
    assert got.value("rollout_notifications_total", sink="slack", outcome="failed") == 1
    assert got.value("rollout_notifications_total", sink="slack", outcome="sent") == 0
    assert got.value("rollout_notification_retries_total") == 4
    assert len([s for s in far.seen if s.path == "/busy"]) == 5
