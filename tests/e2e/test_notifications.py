"""Notifications end to end: the controller tells a real receiver on 127.0.0.1 about a release
and an abort as they happen; a dead receiver changes nothing about the rollout."""

from __future__ import annotations

import json
import socket
import time

import pytest

from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster
from tests.http_far import Far

pytestmark = pytest.mark.e2e


def events(far: Far, path: str) -> list[str]:
    return [json.loads(s.body)["event"] for s in far.seen if s.path == path]


def test_a_release_and_an_abort_are_told_in_order(
    cluster: Cluster, controller: Controller, far: Far
) -> None:
    url = far.answer("/n", {})
    notifications = [{"name": "audit", "webhook": {"url": url}}]
    cluster.create("app", steps=[{"setWeight": 50}, {"pause": {}}], notifications=notifications)
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_phase("app", "Paused")
    cluster.api.promote(NS, "app")
    cluster.wait_phase("app", "Healthy")
    assert controller.notifier.flush()
    assert events(far, "/n") == [
        "Completed",  # v1 deployed
        "Started",
        "StepCompleted",
        "Paused",
        "StepCompleted",
        "Promoted",
        "Completed",
    ]
    cluster.api.set_image(NS, "app", "app", "app:v3")
    cluster.wait_phase("app", "Paused")
    cluster.api.abort(NS, "app")
    cluster.wait_phase("app", "Degraded")
    assert controller.notifier.flush()
    told = [json.loads(s.body) for s in far.seen if s.path == "/n"][7:]
    assert [t["event"] for t in told] == ["Started", "StepCompleted", "Paused", "Aborted"]
    assert told[-1]["message"].startswith("aborted by request")
    assert told[-1]["images"] == ["app:v3"] and told[-1]["namespace"] == NS


def test_a_dead_receiver_does_not_hold_up_the_rollout(
    cluster: Cluster, controller: Controller
) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/n"
    notifications = [{"name": "gone", "slack": {"url": dead}}]
    cluster.create("quiet", steps=[{"setWeight": 50}], notifications=notifications)
    cluster.wait_phase("quiet", "Healthy")
    started = time.monotonic()
    cluster.api.set_image(NS, "quiet", "app", "app:v2")
    cluster.wait(
        "quiet",
        lambda r: (
            (r.get("status") or {}).get("stableRevision")
            == (r.get("status") or {}).get("currentRevision")
            and (r.get("status") or {}).get("phase") == "Healthy"
            and r["metadata"]["generation"] == (r.get("status") or {}).get("observedGeneration")
        ),
        timeout=20,
        what="v2 released",
    )
    assert time.monotonic() - started < 10
    stats = controller.notifier.stats
    assert stats.sent == 0 and (stats.retries > 0 or stats.failed > 0)
