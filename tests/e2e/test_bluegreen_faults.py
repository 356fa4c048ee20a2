"""Blue-green end to end, under faults and edges: abort at every phase, a SIGKILLed controller,
the rollback window, invalid specs. Tools and conventions: bluegreen_tools.py."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rollout.kube import ROLLOUTS
from rollout.kube.client import Obj
from rollout.kube.kinds import ANALYSIS_TEMPLATES
from tests.e2e.bluegreen_tools import (
    ACTIVE,
    BG_HISTORY,
    NEVER_READY,
    PREVIEW,
    WRITES,
    assert_active_always_served,
    jobs,
    measuring,
    phase_is,
    reasons,
    rev,
    set_template,
    smoke,
    smoke_template,
    watch_until,
    writes_to,
)
from tests.e2e.harness import NS, Cluster, ControllerProcess, blue_green_doc
from tests.e2e.test_canary import rev as canary_rev

pytestmark = pytest.mark.e2e


# -- 5. abort at every phase ---------------------------------------------------------------------


@pytest.mark.parametrize("moment", ["preview-starting", "paused", "pre-analysis", "post-analysis"])
def test_abort_at_every_phase_keeps_the_active_on_a_revision_with_pods(
    cluster: Cluster, controller: object, moment: str
) -> None:
    v1 = rev("app:v1")
    annotations = NEVER_READY if moment == "preview-starting" else None
    v2 = rev("app:v2", annotations)
    # A Job that outlives the test: the abort lands while it runs.
    cluster.kube.create(ANALYSIS_TEMPLATES, smoke_template("succeed", "60s"), namespace=NS)
    settings: dict[str, Obj] = {
        "preview-starting": {},
        "paused": {"autoPromotionEnabled": False},
        "pre-analysis": {"prePromotionAnalysis": smoke(PREVIEW)},
        "post-analysis": {"postPromotionAnalysis": smoke(ACTIVE)},
    }
    blue_green = settings[moment]
    # No abort scale-down delay: the switch back and v2's scale-down come in one decision,
    # so only their order keeps the active Service on pods.
    cluster.create_blue_green("app", blue_green={**blue_green, "abortScaleDownDelaySeconds": 0})
    cluster.wait_phase("app", "Healthy")
    since = time.time()
    set_template(cluster, "app:v2", annotations)
    reached: Callable[[Obj], bool] = {
        "preview-starting": lambda r: v2 in cluster.replicas("app"),
        "paused": lambda r: (r.get("status") or {}).get("phase") == "Paused",
        "pre-analysis": lambda r: measuring(cluster, "pre-promotion"),
        "post-analysis": lambda r: measuring(cluster, "post-promotion"),
    }[moment]
    cluster.wait("app", reached, what=moment)
    if moment == "preview-starting":
        time.sleep(0.3)
        assert cluster.replicas("app")[v2] == (3, 0)  # never ready
    assert (
        cluster.blue_green_pins("app")
        == {
            "preview-starting": (v1, v1),
            "paused": (v1, v2),
            "pre-analysis": (v1, v2),
            "post-analysis": (v2, v2),
        }[moment]
    )
    assert len(jobs(cluster)) == (1 if "analysis" in moment else 0)

    cluster.api.abort(NS, "app")
    samples = watch_until(
        cluster,
        lambda: phase_is(cluster, "Degraded") and cluster.replicas("app")[v2][0] == 0,
        what="Degraded, v2 at 0",
    )
    assert_active_always_served(samples)
    status = cluster.status("app")
    assert status["abort"] is True and "aborted by request" in status["abortMessage"]
    assert status["stableRevision"] == v1
    assert status["blueGreen"]["activeRevision"] == v1
    assert cluster.blue_green_pins("app") == (v1, v1)
    assert cluster.replicas("app") == {v1: (3, 3), v2: (0, 0)}
    # The active Service moved only if it had switched: back to v1 in one write, sent before
    # v2 lost a pod (the two come in one decision here, too fast for the polls to see).
    active_writes = writes_to(cluster, "services", ACTIVE, since=since)
    if moment == "post-analysis":
        switch, back = active_writes
        (v2_down,) = writes_to(cluster, "deployments", f"app-{v2}", since=switch.started)
        assert back.started <= v2_down.started
    else:
        assert active_writes == []
    if "analysis" in moment:  # the running Job is stopped
        cluster.wait("app", lambda r: jobs(cluster) == [], timeout=5, what="the Job deleted")


# -- 6. the controller killed and restarted ------------------------------------------------------


def finished(cluster: Cluster, name: str) -> bool:
    status = cluster.status(name)
    return (
        status.get("phase") == "Healthy"
        and status.get("stableRevision") == rev("app:v2", name=name)
        and cluster.replicas(name).get(rev("app:v1", name=name), (0, 0))[0] == 0
    )


def watching(cluster: Cluster, since: int) -> bool:
    """The controller started at request-log position `since` has opened its watches."""
    watched = {r.resource for r in cluster.sandbox.requests.entries()[since:] if r.verb == "watch"}
    return {"rollouts", "deployments", "services"} <= watched


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2])
def test_controller_killed_at_random_points_ends_as_an_uninterrupted_run(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    cluster = Cluster(ready_delay=0.5)
    kubeconfig = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(kubeconfig)
    controller = ControllerProcess(kubeconfig)
    names = [f"bg{i}" for i in range(4)]
    try:
        controller.start()
        for name in names:
            cluster.create_blue_green(name, blue_green={"previewReplicaCount": 1})
        for name in names:
            cluster.wait_phase(name, "Healthy")
        since = time.time()
        # The releases start staggered, so the kills land at different points of each one;
        # each kill comes at a random moment after the restarted controller opened its watches.
        pending = list(names)
        kills = 0
        next_kill: float | None = None
        booted_from = 0  # request-log position at the current controller's start
        next_release = time.monotonic()
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            if pending and time.monotonic() >= next_release:
                cluster.api.set_image(NS, pending.pop(0), "app", "app:v2")
                next_release = time.monotonic() + rng.uniform(0.4, 1.4)
            if next_kill is None and kills < 4 and watching(cluster, booted_from):
                next_kill = time.monotonic() + rng.uniform(0.05, 0.8)
            if next_kill is not None and time.monotonic() >= next_kill:
                controller.kill()
                kills += 1
                time.sleep(rng.uniform(0.0, 0.3))
                booted_from = len(cluster.sandbox.requests.entries())
                controller.start()
                next_kill = None
            if not pending and kills == 4 and all(finished(cluster, n) for n in names):
                break
            time.sleep(0.05)
        assert kills == 4
        for name in names:
            v1, v2 = rev("app:v1", name=name), rev("app:v2", name=name)
            status = cluster.status(name)
            assert status["phase"] == "Healthy", (name, status.get("message"))
            assert status["stableRevision"] == status["currentRevision"] == v2
            assert status["blueGreen"]["activeRevision"] == v2
            assert cluster.replicas(name) == {v2: (3, 3), v1: (0, 0)}
            assert cluster.blue_green_pins(name) == (v2, v2)
            assert reasons(cluster, name) == BG_HISTORY, name
            # A restart decides again, it does not switch again: one write to the active.
            assert len(writes_to(cluster, "services", f"{name}-active", since=since)) == 1
    finally:
        controller.kill()
        cluster.close()


# -- 7. the rollback window ----------------------------------------------------------------------


def test_rollback_window_switches_back_in_one_write_without_analysis(
    cluster: Cluster, controller: object
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    # Checks that fail: had the way back run either, it would have been aborted.
    cluster.kube.create(ANALYSIS_TEMPLATES, smoke_template("fail", "0.2s"), namespace=NS)
    analyses = {"prePromotionAnalysis": smoke(PREVIEW), "postPromotionAnalysis": smoke(ACTIVE)}
    cluster.create_blue_green(
        "app",
        blue_green={**analyses, "scaleDownDelaySeconds": 20},
        rollbackWindow={"revisions": 2},
    )
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    # v2 goes out past both checks by `rollout promote` (each skips the running analysis).
    for run in ("pre-promotion", "post-promotion"):

        def running(r: Obj, run: str = run) -> bool:
            return measuring(cluster, run)

        cluster.wait("app", running, what=run)
        cluster.api.promote(NS, "app")
    promoted = cluster.wait_phase("app", "Healthy")
    assert promoted["status"]["stableRevision"] == v2
    runs = [r["name"] for r in promoted["status"]["analysisRuns"]]
    assert runs == ["pre-promotion", "post-promotion"]
    assert cluster.replicas("app")[v1] == (3, 3)  # within its scale-down delay

    since = time.time()
    before = len(cluster.status("app")["history"])
    cluster.api.set_image(NS, "app", "app", "app:v1")
    samples = watch_until(
        cluster, lambda: phase_is(cluster, "Healthy", stableRevision=v1), what="back on v1"
    )
    assert len(writes_to(cluster, "services", ACTIVE, since=since)) == 1
    assert cluster.blue_green_pins("app") == (v1, v1)
    assert_active_always_served(samples)
    assert all(r[v1][0] == 3 for _, _, r in samples)  # its pods were there: nothing to wait for
    status = cluster.status("app")
    assert status.get("analysisRuns") in (None, [])
    created_jobs = [
        r
        for r in cluster.sandbox.requests.entries()
        if r.resource == "jobs" and r.verb == "create" and r.started >= since
    ]
    assert created_jobs == []
    # Straight to the switch: no approval, no analysis.
    after = [h["reason"] for h in status["history"][before:]]
    assert after == ["NewRevision", "RollbackWindow", "ActiveSwitched", "Promoted"], after


def test_rollback_window_for_a_canary_runs_no_steps(cluster: Cluster, controller: object) -> None:
    v1, v2 = canary_rev("app:v1"), canary_rev("app:v2")
    cluster.create("app", canary={"scaleDownDelaySeconds": 20}, rollbackWindow={"revisions": 2})
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_step("app", 3)
    cluster.api.promote(NS, "app")
    # Healthy, not just stableRevision: the stable Service's move to v2 is an action after the
    # status write, and must not land in the window counted below.
    cluster.wait(
        "app",
        lambda r: (
            (r.get("status") or {}).get("stableRevision") == v2
            and (r.get("status") or {}).get("phase") == "Healthy"
        ),
        what="v2 Healthy",
    )
    assert cluster.replicas("app")[v1][0] > 0  # within its scale-down delay: it keeps its pods

    since = time.time()
    before = len(cluster.status("app")["history"])
    cluster.api.set_image(NS, "app", "app", "app:v1")
    done = cluster.wait(
        "app",
        lambda r: (
            (r.get("status") or {}).get("stableRevision") == v1
            and (r.get("status") or {}).get("phase") == "Healthy"
        ),
        what="back on v1",
    )
    assert len(writes_to(cluster, "services", "app-stable", since=since)) == 1
    assert cluster.pins("app") == (v1, v1)
    after = [h["reason"] for h in done["status"]["history"][before:]]
    assert after == ["NewRevision", "RollbackWindow", "Promoted"], after  # no StepCompleted


# -- 8. invalid specs ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "field", "reason"),
    [
        (
            {"blueGreen": {"previewService": ACTIVE}},
            "spec.strategy.blueGreen.previewService",
            "must differ from activeService",
        ),
        (
            {"blueGreen": {"previewReplicaCount": 4}},
            "spec.strategy.blueGreen.previewReplicaCount",
            "4 is more than replicas (3)",
        ),
        (
            {"canary": {"steps": [{"setWeight": 50}]}},
            "spec.strategy",
            "give exactly one strategy: canary or blueGreen (found both)",
        ),
    ],
    ids=["same-services", "preview-above-replicas", "two-strategies"],
)
def test_an_invalid_spec_gets_invalid_spec_and_nothing_is_created(
    cluster: Cluster, controller: object, change: Obj, field: str, reason: str
) -> None:
    for svc in (ACTIVE, PREVIEW):
        cluster.create_service(svc, app="app")
    doc = blue_green_doc("app", "app:v1")
    strategy = doc["spec"]["strategy"]
    for key, value in change.items():
        strategy[key] = {**strategy.get(key, {}), **value}
    since = time.time()
    cluster.kube.create(ROLLOUTS, doc, namespace=NS)
    failed = cluster.wait_phase("app", "Degraded")
    invalid = next(c for c in failed["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert invalid["status"] == "True" and invalid["reason"] == "InvalidSpec"
    assert f"{field}: " in invalid["message"] and reason in invalid["message"], invalid
    time.sleep(0.5)  # time enough for any write that was coming
    writes = [
        r
        for r in cluster.sandbox.requests.entries()
        if r.resource in ("deployments", "services", "jobs")
        and r.verb in WRITES
        and r.started >= since
    ]
    assert writes == []
    assert cluster.revisions("app") == {}
    assert cluster.blue_green_pins("app") == (None, None)
    assert cluster.status("app").get("stableRevision") is None
