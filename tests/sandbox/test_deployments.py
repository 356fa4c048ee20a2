"""The simulated Deployment controller.

Expected behaviour: the Deployments concept page ("Deployment status":
Progressing/Available conditions, their reasons, observedGeneration,
"Failed Deployment" with progressDeadlineSeconds -> Progressing=False,
reason ProgressDeadlineExceeded), plus the sandbox's documented knobs
(``sandbox.rollout.dev/ready-after`` and ``sandbox.rollout.dev/never-ready``).
"""

from __future__ import annotations

import time
from typing import Any

from kubernetes import client, watch

from .helpers import deployment, wait_until

READY_AFTER = "sandbox.rollout.dev/ready-after"
NEVER_READY = "sandbox.rollout.dev/never-ready"


def conditions(dep: client.V1Deployment) -> dict[str, Any]:
    return {c.type: c for c in (dep.status.conditions or [])}


def observed(apps: client.AppsV1Api, ns: str, name: str) -> client.V1Deployment | None:
    dep = apps.read_namespaced_deployment(name, ns)
    ok = dep.status is not None and dep.status.observed_generation == dep.metadata.generation
    return dep if ok else None


def available(apps: client.AppsV1Api, ns: str, name: str, count: int) -> client.V1Deployment | None:
    dep = observed(apps, ns, name)
    return dep if dep is not None and (dep.status.available_replicas or 0) == count else None


def test_ready_immediately(apps: client.AppsV1Api, ns: str) -> None:
    # Deployment status: a complete rollout reports all replicas updated/ready/available,
    # Available=True (MinimumReplicasAvailable), Progressing=True (NewReplicaSetAvailable).
    apps.create_namespaced_deployment(ns, deployment("fast", replicas=3))
    dep = wait_until(lambda: available(apps, ns, "fast", 3))
    s = dep.status
    assert (s.replicas, s.updated_replicas, s.ready_replicas, s.available_replicas) == (3, 3, 3, 3)
    assert not s.unavailable_replicas
    conds = conditions(dep)
    assert (conds["Available"].status, conds["Available"].reason) == (
        "True",
        "MinimumReplicasAvailable",
    )
    assert (conds["Progressing"].status, conds["Progressing"].reason) == (
        "True",
        "NewReplicaSetAvailable",
    )
    assert conds["Progressing"].last_update_time is not None
    assert conds["Progressing"].last_transition_time is not None
    assert "has successfully progressed" in conds["Progressing"].message


def test_ready_after_annotation(apps: client.AppsV1Api, ns: str) -> None:
    started = time.monotonic()
    apps.create_namespaced_deployment(
        ns, deployment("slow", replicas=2, annotations={READY_AFTER: "0.8"})
    )
    dep = wait_until(lambda: observed(apps, ns, "slow"))
    if time.monotonic() - started < 0.6:  # still inside the readiness delay
        assert not dep.status.available_replicas
        assert dep.status.unavailable_replicas == 2
        conds = conditions(dep)
        assert (conds["Progressing"].status, conds["Progressing"].reason) == (
            "True",
            "ReplicaSetUpdated",
        )
        assert (conds["Available"].status, conds["Available"].reason) == (
            "False",
            "MinimumReplicasUnavailable",
        )
    wait_until(lambda: available(apps, ns, "slow", 2))
    assert time.monotonic() - started >= 0.75


def test_never_ready_exceeds_progress_deadline(apps: client.AppsV1Api, ns: str) -> None:
    # "Failed Deployment": after progressDeadlineSeconds without progress the controller sets
    # Progressing=False with reason ProgressDeadlineExceeded. The knob may sit on the template.
    apps.create_namespaced_deployment(
        ns,
        deployment(
            "stuck", replicas=2, template_annotations={NEVER_READY: "true"}, progress_deadline=1
        ),
    )

    def exceeded() -> client.V1Deployment | None:
        dep = observed(apps, ns, "stuck")
        cond = conditions(dep).get("Progressing") if dep else None
        return dep if cond is not None and cond.reason == "ProgressDeadlineExceeded" else None

    dep = wait_until(exceeded, timeout=5)
    assert conditions(dep)["Progressing"].status == "False"
    assert "timed out progressing" in conditions(dep)["Progressing"].message
    assert conditions(dep)["Available"].status == "False"
    assert not dep.status.available_replicas
    assert dep.status.unavailable_replicas == 2


def test_scale_up_and_down(apps: client.AppsV1Api, ns: str) -> None:
    # New replicas need the readiness delay; existing ones stay ready; scale-down is immediate.
    apps.create_namespaced_deployment(
        ns, deployment("scaler", replicas=2, annotations={READY_AFTER: "0.5"})
    )
    wait_until(lambda: available(apps, ns, "scaler", 2))
    apps.patch_namespaced_deployment("scaler", ns, {"spec": {"replicas": 4}})
    dep = wait_until(lambda: observed(apps, ns, "scaler"))
    assert dep.status.replicas == 4
    assert dep.status.available_replicas in (2, 4)
    wait_until(lambda: available(apps, ns, "scaler", 4))
    apps.patch_namespaced_deployment("scaler", ns, {"spec": {"replicas": 1}})
    dep = wait_until(lambda: available(apps, ns, "scaler", 1), timeout=2)
    assert dep.status.replicas == 1


def test_template_change_restarts_readiness(apps: client.AppsV1Api, ns: str) -> None:
    # A new pod template is a new rollout: observedGeneration follows, replicas become ready again.
    # (Simplified: every replica restarts at once instead of a surge-limited rolling update.)
    apps.create_namespaced_deployment(
        ns, deployment("roll", replicas=2, annotations={READY_AFTER: "0.6"})
    )
    wait_until(lambda: available(apps, ns, "roll", 2), timeout=3)
    started = time.monotonic()
    patched = apps.patch_namespaced_deployment(
        "roll",
        ns,
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "nginx:2"}]}}}},
    )
    assert patched.metadata.generation == 2
    dep = wait_until(lambda: observed(apps, ns, "roll"))
    assert dep.status.observed_generation == 2
    if time.monotonic() - started < 0.5:
        assert not dep.status.available_replicas
    wait_until(lambda: available(apps, ns, "roll", 2))
    assert time.monotonic() - started >= 0.55


def test_no_status_writes_when_nothing_changes(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("quiet"))
    dep = wait_until(lambda: available(apps, ns, "quiet", 2))
    time.sleep(0.2)  # let any last write land before taking the reference version
    rv = apps.read_namespaced_deployment("quiet", ns).metadata.resource_version
    events = list(
        watch.Watch().stream(
            apps.list_namespaced_deployment, ns, resource_version=rv, timeout_seconds=1
        )
    )
    assert events == []
    assert dep.metadata.name == "quiet"


def test_paused_deployment(apps: client.AppsV1Api, ns: str) -> None:
    # Deployment status: a paused Deployment reports Progressing=Unknown, DeploymentPaused.
    body = deployment("paused")
    body["spec"]["paused"] = True
    apps.create_namespaced_deployment(ns, body)
    dep = wait_until(lambda: observed(apps, ns, "paused"))
    assert (conditions(dep)["Progressing"].status, conditions(dep)["Progressing"].reason) == (
        "Unknown",
        "DeploymentPaused",
    )


def test_defaults_applied(apps: client.AppsV1Api, ns: str) -> None:
    # API defaulting: replicas 1, RollingUpdate 25%/25%, progressDeadlineSeconds 600.
    body = deployment("defaults")
    del body["spec"]["replicas"]
    dep = apps.create_namespaced_deployment(ns, body)
    assert dep.spec.replicas == 1
    assert dep.spec.progress_deadline_seconds == 600
    assert dep.spec.strategy.type == "RollingUpdate"
    assert dep.spec.strategy.rolling_update.max_surge == "25%"
