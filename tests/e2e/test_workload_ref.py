"""A Rollout that takes its pod template from a Deployment (`workloadRef`), end to end: taking
over a running Deployment without dropping capacity, releasing the Deployment's new template as
a canary, and refusing a reference to a Deployment that does not exist."""

from __future__ import annotations

import time

import pytest

from rollout import labels
from rollout.engine import revision_hash
from rollout.kube import DEPLOYMENTS, ROLLOUTS, SERVICES
from rollout.kube.client import Obj
from tests.e2e.harness import NS, Cluster, DeploymentRecorder, rollout_doc

pytestmark = pytest.mark.usefixtures("controller")

WEB_TEMPLATE: Obj = {
    "metadata": {"labels": {"app": "web"}},
    "spec": {"containers": [{"name": "app", "image": "web:v1"}]},
}


def create_web(cluster: Cluster, name: str = "web") -> Obj:
    """The user's own Deployment, as it runs before any Rollout exists."""
    return cluster.kube.create(
        DEPLOYMENTS,
        {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "metadata": {"name": name},
            "spec": {
                "replicas": 3,
                "selector": {"matchLabels": {"app": "web"}},
                "template": WEB_TEMPLATE,
            },
        },
        namespace=NS,
    )


def create_rollout(cluster: Cluster, name: str, target: str) -> Obj:
    """A Rollout of 3 replicas whose template is Deployment `target`'s, with its Services."""
    for svc in (f"{name}-stable", f"{name}-canary"):
        cluster.kube.create(
            SERVICES,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": svc},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            },
            namespace=NS,
        )
    doc = rollout_doc(name, "unused", replicas=3)
    del doc["spec"]["template"]
    doc["spec"]["selector"] = {"matchLabels": {"app": "web"}}
    doc["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": "Deployment", "name": target}
    return cluster.kube.create(ROLLOUTS, doc, namespace=NS)


def web(cluster: Cluster, name: str = "web") -> Obj:
    return cluster.kube.get(DEPLOYMENTS, name, namespace=NS)


def wait_available(cluster: Cluster, name: str, replicas: int) -> None:
    deadline = time.monotonic() + 10
    while (web(cluster, name).get("status") or {}).get("availableReplicas") != replicas:
        assert time.monotonic() < deadline, f"Deployment {name} never had {replicas} pods"
        time.sleep(0.05)


def test_a_workload_ref_takes_over_a_running_deployment_then_releases_its_changes(
    cluster: Cluster,
) -> None:
    create_web(cluster)
    wait_available(cluster, "web", 3)
    recorder = DeploymentRecorder(cluster)
    try:
        create_rollout(cluster, "web", "web")
        healthy = cluster.wait_phase("web", "Healthy")
        v1 = revision_hash(web(cluster)["spec"]["template"])
        assert healthy["status"]["stableRevision"] == v1
        cluster.wait("web", lambda _: web(cluster)["spec"]["replicas"] == 0, what="web scaled to 0")
    finally:
        recorder.stop()
    # The rollout's stable revision runs the Deployment's template...
    (revision,) = cluster.revisions("web").values()
    assert revision["spec"]["template"]["spec"] == WEB_TEMPLATE["spec"]
    assert revision["metadata"]["labels"][labels.REVISION] == v1
    assert cluster.replicas("web") == {v1: (3, 3)}
    assert cluster.pins("web") == (v1, v1)
    # ...and `web` lost its pods only once that revision could carry everything.
    web_emptied = next(
        i for i, (rev, desired, _) in enumerate(recorder.events) if rev == "?" and desired == 0
    )
    assert any(rev == v1 and available == 3 for rev, _, available in recorder.events[:web_emptied])
    assert [h["reason"] for h in cluster.status("web")["history"]] == ["Deployed"]

    # A new template on the Deployment is a new revision, released through the steps.
    cluster.kube.patch(
        DEPLOYMENTS,
        "web",
        {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "web:v2"}]}}}},
        namespace=NS,
    )
    v2 = revision_hash(web(cluster)["spec"]["template"])
    paused = cluster.wait_step("web", 3)["status"]
    assert (paused["stableRevision"], paused["currentRevision"]) == (v1, v2)
    assert cluster.pins("web") == (v1, v2)
    canary = cluster.revisions("web")[v2]["spec"]["template"]["spec"]["containers"][0]
    assert canary["image"] == "web:v2"
    assert web(cluster)["spec"]["replicas"] == 0  # the referenced Deployment stays empty

    cluster.api.promote(NS, "web")
    assert cluster.wait_phase("web", "Healthy")["status"]["stableRevision"] == v2
    assert cluster.pins("web") == (v2, v2)
    assert web(cluster)["spec"]["replicas"] == 0


def test_a_workload_ref_to_a_missing_deployment_is_invalid_and_creates_nothing(
    cluster: Cluster,
) -> None:
    cluster.sandbox.requests.clear()
    create_rollout(cluster, "web", "missing")
    failed = cluster.wait_phase("web", "Degraded")["status"]
    (invalid,) = [c for c in failed["conditions"] if c["type"] == "InvalidSpec"]
    assert invalid["status"] == "True"
    assert invalid["reason"] == "WorkloadRefNotFound"
    assert invalid["message"] == "workloadRef: Deployment missing not found"
    assert failed["message"] == "workloadRef: Deployment missing not found"
    assert [h["reason"] for h in failed["history"]] == ["WorkloadRefNotFound"]
    events = cluster.api.events(NS, "web")
    assert [(e["type"], e["reason"]) for e in events] == [("Warning", "WorkloadRefNotFound")]

    time.sleep(0.3)  # room for any write that should not happen
    writes = [
        (r.verb, r.resource)
        for r in cluster.sandbox.requests.entries()
        if r.resource in ("deployments", "services")
        and r.verb in ("create", "update", "patch", "delete")
    ]
    assert writes == [("create", "services"), ("create", "services")]  # the test's own
    assert cluster.revisions("web") == {}
    assert cluster.pins("web") == (None, None)

    # Once the Deployment exists, the Rollout takes it over without being touched.
    create_web(cluster, "missing")
    healthy = cluster.wait_phase("web", "Healthy")["status"]
    assert not [c for c in healthy["conditions"] if c["type"] == "InvalidSpec"]
    assert healthy["stableRevision"] == revision_hash(web(cluster, "missing")["spec"]["template"])
