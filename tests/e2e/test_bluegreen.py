"""Blue-green end to end: the real controller against the sandbox API server, asserting on the
Services' selectors, the revisions' Deployments, the Rollout's status and history, and the
sandbox's request log (which writes reached the API server, and when).

Cluster state is read by polling: each poll reads the Services first, then the Deployments, so a
Service seen on a revision is checked against pods read after it."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from rollout.engine import revision_hash
from rollout.kube import ROLLOUTS
from rollout.kube.client import Obj
from rollout.kube.kinds import ANALYSIS_TEMPLATES, JOBS
from rollout.models import Rollout
from rollout.sandbox.faults import RequestRecord
from tests.e2e.harness import NS, Cluster, ControllerProcess, blue_green_doc
from tests.e2e.test_canary import rev as canary_rev

pytestmark = pytest.mark.e2e

ACTIVE, PREVIEW = "app-active", "app-preview"
# What an uninterrupted v1 -> v2 release with auto-promotion records, in order.
BG_HISTORY = ["Deployed", "NewRevision", "PromotionApproved", "ActiveSwitched", "Promoted"]
WRITES = ("create", "update", "patch", "delete")
NEVER_READY = {"sandbox.rollout.dev/never-ready": "true"}

# (active revision, preview revision, revision -> (desired, available))
Sample = tuple[str | None, str | None, dict[str, tuple[int, int]]]


def rev(image: str, annotations: dict[str, str] | None = None, name: str = "app") -> str:
    """The revision the controller computes: the hash of the normalized template."""
    template = Rollout.model_validate(blue_green_doc(name, image, annotations=annotations))
    assert template.spec.template is not None
    return revision_hash(template.spec.template.to_dict())


def writes_to(cluster: Cluster, resource: str, name: str, *, since: float) -> list[RequestRecord]:
    """The successful writes to one object the API server received after `since` (wall time)."""
    return [
        r
        for r in cluster.sandbox.requests.entries()
        if r.resource == resource
        and r.name == name
        and r.subresource is None
        and r.verb in WRITES
        and 200 <= r.status < 300
        and r.started >= since
    ]


def reasons(cluster: Cluster, name: str = "app") -> list[str]:
    return [h["reason"] for h in cluster.status(name).get("history") or []]


def phase_is(cluster: Cluster, phase: str, **fields: Any) -> bool:
    status = cluster.status("app")
    return status.get("phase") == phase and all(status.get(k) == v for k, v in fields.items())


def start_release(cluster: Cluster, **kwargs: Any) -> float:
    """v1 Healthy behind both Services, then the image set to app:v2; returns when (wall)."""
    cluster.create_blue_green("app", **kwargs)
    cluster.wait_phase("app", "Healthy")
    since = time.time()
    cluster.api.set_image(NS, "app", "app", "app:v2")
    return since


def watch_until(
    cluster: Cluster, done: Callable[[], bool], *, timeout: float = 20, what: str = ""
) -> list[Sample]:
    """Poll the Services and the Deployments until `done()`; every sample taken."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    while True:
        active, preview = cluster.blue_green_pins("app")
        samples.append((active, preview, cluster.replicas("app")))
        if done():
            return samples
        if time.monotonic() > deadline:
            status = cluster.status("app")
            raise AssertionError(
                f"timed out waiting for {what}: {status.get('phase')}, {status.get('message')}"
            )
        time.sleep(0.02)


def assert_active_always_served(samples: list[Sample]) -> None:
    """At every poll the active Service selected a revision with available pods."""
    for active, _, replicas in samples:
        assert active is not None and replicas.get(active, (0, 0))[1] > 0, (active, replicas)


def set_template(cluster: Cluster, image: str, annotations: dict[str, str] | None = None) -> None:
    template = cluster.rollout("app")["spec"]["template"]
    template["metadata"]["annotations"] = dict(annotations or {})
    template["spec"]["containers"][0]["image"] = image
    cluster.kube.patch(ROLLOUTS, "app", {"spec": {"template": template}}, namespace=NS)


# -- analyses: the job provider (the sandbox runs the Job; an annotation passes or fails it) ----


def smoke_template(outcome: str, duration: str) -> Obj:
    """An AnalysisTemplate `smoke` whose one metric is a Job that succeeds or fails."""
    annotations = {
        "sandbox.rollout.dev/job-outcome": outcome,
        "sandbox.rollout.dev/job-duration": duration,
        "sandbox.rollout.dev/log": "GET http://{{args.service}}/healthz\\nstatus 503",
    }
    job = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"annotations": annotations},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "smoke", "image": "curl"}],
            },
        },
    }
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke"},
        "spec": {
            "args": [{"name": "service"}],
            "metrics": [{"name": "smoke", "provider": {"job": {"spec": job}}}],
        },
    }


def smoke(service: str) -> Obj:
    """A pre- or post-promotion analysis: the `smoke` Job against `service`."""
    return {
        "templates": [{"templateName": "smoke"}],
        "args": [{"name": "service", "value": service}],
    }


def run_of(cluster: Cluster, name: str) -> Obj | None:
    runs = cluster.status("app").get("analysisRuns") or []
    return next((dict(r) for r in runs if r["name"] == name), None)


def measuring(cluster: Cluster, name: str) -> bool:
    """The analysis run `name` exists and its Job is running."""
    run = run_of(cluster, name)
    return run is not None and any(
        (m.get("measurements") or [{}])[-1].get("phase") == "Running" for m in run["metrics"]
    )


def jobs(cluster: Cluster) -> list[Obj]:
    items, _ = cluster.kube.list(JOBS, namespace=NS)
    return items


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
    # One write each: the preview pinned to v2, the active switched to v2.
    assert len(writes_to(cluster, "services", PREVIEW, since=since)) == 1
    assert len(writes_to(cluster, "services", ACTIVE, since=since)) == 1
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
    cluster.wait("app", lambda r: (r.get("status") or {}).get("stableRevision") == v2, what="v2")
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
