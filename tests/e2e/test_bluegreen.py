"""Blue-green end to end: the real controller against the sandbox API server, asserting on the
Services' selectors, the revisions' Deployments, the Rollout's status and history, and the
sandbox's request log (which writes reached the API server, and when).

Cluster state is read by polling: each poll reads the Services first, then the Deployments, so a
Service seen on a revision is checked against pods read after it."""

from __future__ import annotations

import time

import pytest

from rollout.kube.kinds import ANALYSIS_TEMPLATES
from tests.e2e.bluegreen_tools import (
    ACTIVE,
    BG_HISTORY,
    PREVIEW,
    assert_active_always_served,
    phase_is,
    reasons,
    rev,
    run_of,
    smoke,
    smoke_template,
    start_release,
    watch_until,
    writes_to,
)
from tests.e2e.harness import NS, Cluster

pytestmark = pytest.mark.e2e


# -- 1. auto-promotion ---------------------------------------------------------------------------


@pytest.mark.ready_delay(0.5)  # each size of v2 lasts 0.5 s, so the polls see every one
def test_auto_promotion_previews_then_switches_once_fully_available(
    cluster: Cluster, controller: object
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    since = start_release(cluster, blue_green={"previewReplicaCount": 1})
    samples = watch_until(
        cluster, lambda: phase_is(cluster, "Healthy", stableRevision=v2), what="v2 promoted"
    )
    promoted_at = time.monotonic()
    assert cluster.replicas("app")[v1] == (3, 3)  # the old revision keeps its pods for now
    # v2 started at previewReplicaCount (1 pod), with neither Service on it yet ...
    assert any(a == p == v1 and r.get(v2) == (1, 0) for a, p, r in samples), samples
    # ... then the preview Service moved to v2 and v2 grew to 3 pods, the active still on v1 ...
    growing = [
        i for i, (a, p, r) in enumerate(samples) if a == v1 and p == v2 and r[v2][0] == 3 > r[v2][1]
    ]
    assert growing, samples
    # ... and the active Service selected v2 only once all three were available, with v1 still
    # at full size, after the preview (polls are in order).
    switched = [i for i, (a, _, _) in enumerate(samples) if a == v2]
    assert switched and min(switched) > min(growing), samples
    assert all(samples[i][2][v2] == (3, 3) and samples[i][2][v1] == (3, 3) for i in switched)
    assert_active_always_served(samples)
    # One write each, the preview first: pinned to v2, then the active switched to v2.
    (preview_write,) = writes_to(cluster, "services", PREVIEW, since=since)
    (active_write,) = writes_to(cluster, "services", ACTIVE, since=since)
    assert preview_write.started < active_write.started
    status = cluster.status("app")
    assert status["blueGreen"]["activeRevision"] == status["blueGreen"]["previewRevision"] == v2
    assert cluster.blue_green_pins("app") == (v2, v2)
    assert reasons(cluster) == BG_HISTORY
    switch = next(h for h in status["history"] if h["reason"] == "ActiveSwitched")
    assert "(3/3 available)" in switch["message"]
    # The old revision goes to 0 after scaleDownDelaySeconds (1 s), not before.
    cluster.wait("app", lambda r: cluster.replicas("app")[v1][0] == 0, timeout=10, what="v1 at 0")
    assert time.monotonic() - promoted_at >= 0.7
    assert cluster.replicas("app") == {v1: (0, 0), v2: (3, 3)}
    assert cluster.blue_green_pins("app") == (v2, v2)


# -- 2. manual promotion -------------------------------------------------------------------------


def test_manual_promotion_waits_paused_then_switches_on_promote(
    cluster: Cluster, controller: object
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    since = start_release(cluster, blue_green={"autoPromotionEnabled": False})
    paused = cluster.wait_phase("app", "Paused")
    assert cluster.blue_green_pins("app") == (v1, v2)
    assert cluster.replicas("app") == {v1: (3, 3), v2: (3, 3)}
    assert "waiting for promote" in paused["status"]["message"]
    assert paused["status"]["blueGreen"]["promotionApproved"] is False
    time.sleep(1.0)  # it waits: nothing moves by itself
    assert cluster.status("app")["phase"] == "Paused"
    assert cluster.blue_green_pins("app") == (v1, v2)
    assert writes_to(cluster, "services", ACTIVE, since=since) == []

    cluster.api.promote(NS, "app")
    done = cluster.wait_phase("app", "Healthy")
    assert done["status"]["stableRevision"] == v2
    assert cluster.blue_green_pins("app") == (v2, v2)
    assert len(writes_to(cluster, "services", ACTIVE, since=since)) == 1
    approved = next(h for h in done["status"]["history"] if h["reason"] == "PromotionApproved")
    assert "rollout promote" in approved["message"]
    assert reasons(cluster) == BG_HISTORY
    cluster.wait("app", lambda r: cluster.replicas("app")[v1][0] == 0, timeout=10, what="v1 at 0")
    assert cluster.replicas("app")[v2] == (3, 3)


# -- 3. pre-promotion analysis fails -------------------------------------------------------------


def test_failed_pre_promotion_analysis_never_switches_and_tears_the_preview_down(
    cluster: Cluster, controller: object
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    cluster.kube.create(ANALYSIS_TEMPLATES, smoke_template("fail", "0.2s"), namespace=NS)
    since = start_release(cluster, blue_green={"prePromotionAnalysis": smoke(PREVIEW)})
    samples = watch_until(cluster, lambda: bool(cluster.status("app").get("abort")), what="abort")
    aborted = time.monotonic()
    # The preview was under test (pinned to v2) while the Job ran; after the abort v2 keeps its
    # pods for abortScaleDownDelaySeconds (1 s), then goes.
    assert any(a == v1 and p == v2 and r[v2] == (3, 3) for a, p, r in samples), samples
    assert cluster.replicas("app")[v2][0] == 3
    samples += watch_until(
        cluster,
        lambda: phase_is(cluster, "Degraded") and cluster.replicas("app")[v2][0] == 0,
        what="Degraded, v2 at 0",
    )
    assert time.monotonic() - aborted >= 0.7
    # The active Service was never written to during the release (so never named v2).
    assert writes_to(cluster, "services", ACTIVE, since=since) == []
    assert all(a == v1 for a, _, _ in samples)
    assert_active_always_served(samples)
    # The preview: pinned to v2, then back to v1.
    assert len(writes_to(cluster, "services", PREVIEW, since=since)) == 2
    assert cluster.blue_green_pins("app") == (v1, v1)
    assert cluster.replicas("app") == {v1: (3, 3), v2: (0, 0)}
    status = cluster.status("app")
    assert status["stableRevision"] == v1 and status["abort"] is True
    assert "pre-promotion analysis" in status["abortMessage"]
    run = run_of(cluster, "pre-promotion")
    assert run is not None and run["phase"] == "Failed"
    assert (
        "GET http://app-preview/healthz"
        in run["metrics"][0]["measurements"][-1]["metadata"]["logs"]
    )
    history = reasons(cluster)
    assert "RolloutAborted" in history
    assert "PromotionApproved" not in history and "ActiveSwitched" not in history


# -- 4. post-promotion analysis fails ------------------------------------------------------------


def test_failed_post_promotion_analysis_switches_back_in_one_write(
    cluster: Cluster, controller: object
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    cluster.kube.create(ANALYSIS_TEMPLATES, smoke_template("fail", "0.2s"), namespace=NS)
    since = start_release(cluster, blue_green={"postPromotionAnalysis": smoke(ACTIVE)})
    samples = watch_until(cluster, lambda: cluster.pinned(ACTIVE) == v2, what="the switch")
    # Not promoted while the post-promotion analysis runs.
    assert cluster.status("app")["stableRevision"] == v1
    samples += watch_until(
        cluster,
        lambda: phase_is(cluster, "Degraded") and cluster.replicas("app")[v2][0] == 0,
        what="Degraded, v2 at 0",
    )
    # After the switch, exactly one write to the active Service: the one back to v1, made
    # before v2 lost a pod.
    switch, *after = writes_to(cluster, "services", ACTIVE, since=since)
    assert len(after) == 1, after
    (v2_down,) = writes_to(cluster, "deployments", f"app-{v2}", since=switch.started)
    assert after[0].started <= v2_down.started
    assert cluster.blue_green_pins("app") == (v1, v1)
    assert_active_always_served(samples)
    # v1 was never scaled below full size: no write to its Deployment, 3/3 at every poll.
    assert writes_to(cluster, "deployments", f"app-{v1}", since=since) == []
    assert all(r[v1] == (3, 3) for _, _, r in samples)
    assert cluster.replicas("app") == {v1: (3, 3), v2: (0, 0)}
    status = cluster.status("app")
    assert status["stableRevision"] == v1 and status["blueGreen"]["activeRevision"] == v1
    assert "post-promotion analysis" in status["abortMessage"]
    run = run_of(cluster, "post-promotion")
    assert run is not None and run["phase"] == "Failed"
    history = reasons(cluster)
    assert history.index("RolloutAborted") > history.index("ActiveSwitched")
    assert "Promoted" not in history
