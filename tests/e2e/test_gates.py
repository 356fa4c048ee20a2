"""Webhook and approval gates end to end: controller + sandbox + a real HTTP receiver on
127.0.0.1 that is down, slow or failing. Each case is handled by its policy, recorded in the
Rollout's status, and never holds up another rollout."""

from __future__ import annotations

import json
import socket
import time
from typing import Any

import pytest

from rollout.kube import SERVICES
from tests.e2e.harness import NS, Cluster
from tests.http_far import Far

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("controller")]


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def hook(name: str, kind: str, url: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "url": url, "interval": 1, "timeout": 1, **fields}


def released(cluster: Cluster, name: str, steps: list[Any], hooks: list[Any]) -> None:
    cluster.create(name, steps=steps, webhooks=hooks)
    cluster.wait_phase(name, "Healthy")
    cluster.api.set_image(NS, name, "app", "app:v2")


def run(cluster: Cluster, name: str, run_name: str) -> dict[str, Any]:
    runs = cluster.status(name).get("analysisRuns") or []
    return next(r for r in runs if r["name"] == run_name)


def test_an_approval_webhook_that_is_down_times_out_and_rolls_back(cluster: Cluster) -> None:
    url = f"http://127.0.0.1:{closed_port()}/approve"
    released(
        cluster,
        "down",
        [{"setWeight": 20}, {"confirm": {"timeout": "4s", "onTimeout": "Abort"}}],
        [hook("change-board", "approval", url)],
    )
    cluster.wait_phase("down", "Paused")
    degraded = cluster.wait_phase("down", "Degraded", timeout=20)
    assert "not approved within 4s (onTimeout: Abort)" in degraded["status"]["abortMessage"]
    measurements = run(cluster, "down", "approval-1")["metrics"][0]["measurements"]
    assert len(measurements) >= 2  # it kept asking while it waited
    assert all(m["phase"] == "Error" for m in measurements)
    assert "cannot connect to" in measurements[-1]["message"]


def test_a_slow_approval_webhook_waits_by_policy_without_holding_other_rollouts(
    cluster: Cluster, far: Far
) -> None:
    url = far.answer("/approve", {"ok": True}, delay=3)
    released(
        cluster,
        "slow",
        [{"confirm": {"timeout": "2s", "onTimeout": "Wait"}}],
        [hook("change-board", "approval", url)],
    )
    cluster.wait_phase("slow", "Paused")
    # Another rollout, meanwhile, goes all the way through its release.
    released(cluster, "other", [{"setWeight": 50}], [])
    cluster.wait_phase("other", "Healthy", timeout=30)
    slow = cluster.wait(
        "slow",
        lambda r: "overdue since" in (r.get("status") or {}).get("message", ""),
        timeout=20,
        what="the approval overdue",
    )
    assert slow["status"]["phase"] == "Paused"
    last = run(cluster, "slow", "approval-0")["metrics"][0]["measurements"][-1]
    assert last["phase"] == "Error" and "did not answer within 1s" in last["message"]
    cluster.api.promote(NS, "slow")
    cluster.wait_phase("slow", "Healthy", timeout=20)


def test_an_approval_webhook_that_fails_then_approves_opens_the_step(
    cluster: Cluster, far: Far
) -> None:
    url = far.answer("/approve", b"change window closed", status=500, content_type="text/plain")
    released(cluster, "flaky", [{"confirm": {}}], [hook("change-board", "approval", url)])
    paused = cluster.wait_phase("flaky", "Paused")
    assert "waiting for approval" in paused["status"]["message"]
    cluster.wait(
        "flaky",
        lambda r: "HTTP 500: change window closed" in (r.get("status") or {}).get("message", ""),
        timeout=10,
        what="the refusal shown",
    )
    far.answer("/approve", {"approved": True})
    done = cluster.wait_phase("flaky", "Healthy", timeout=20)
    approved = [h for h in done["status"]["history"] if h["reason"] == "Approved"]
    assert approved and "approval webhooks change-board" in approved[0]["message"]
    body = json.loads(far.seen[-1].body)
    assert body["name"] == "flaky" and body["namespace"] == NS and body["type"] == "approval"


def test_a_pre_rollout_webhook_that_keeps_failing_rolls_back_with_nothing_deployed(
    cluster: Cluster, far: Far
) -> None:
    url = far.answer("/ready", b"load tester busy", status=503, content_type="text/plain")
    released(
        cluster, "pre", [{"setWeight": 20}], [hook("load-tests", "pre-rollout", url, retries=1)]
    )
    degraded = cluster.wait_phase("pre", "Degraded", timeout=20)
    assert "HTTP 503: load tester busy" in degraded["status"]["abortMessage"]
    assert len([s for s in far.seen if s.path == "/ready"]) == 2  # one try, one retry
    new = degraded["status"]["currentRevision"]
    assert cluster.replicas("pre").get(new, (0, 0)) == (0, 0)


def test_a_rollout_whose_service_selects_another_app_is_invalid_until_fixed(
    cluster: Cluster,
) -> None:
    cluster.create("shop")
    cluster.wait_phase("shop", "Healthy")
    svc = cluster.kube.get(SERVICES, "shop-canary", namespace=NS)
    svc["spec"]["selector"] = {"app": "payments"}
    cluster.kube.replace(SERVICES, svc, namespace=NS)
    invalid = cluster.wait(
        "shop",
        lambda r: any(
            c["type"] == "InvalidSpec" and c["status"] == "True"
            for c in (r.get("status") or {}).get("conditions", [])
        ),
        what="InvalidSpec",
    )
    condition = next(c for c in invalid["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert (
        "spec.strategy.canary.canaryService: Service shop-canary selects app=payments"
        in (condition["message"])
    )
    cluster.api.set_image(NS, "shop", "app", "app:v2")
    time.sleep(1)
    assert len(cluster.revisions("shop")) == 1  # nothing was created for v2
    assert "InvalidSpec" in [c["type"] for c in cluster.status("shop")["conditions"]]
    svc = cluster.kube.get(SERVICES, "shop-canary", namespace=NS)
    svc["spec"]["selector"] = {"app": "shop"}
    cluster.kube.replace(SERVICES, svc, namespace=NS)
    cluster.wait_step("shop", 3, timeout=20)  # the release goes on by itself
