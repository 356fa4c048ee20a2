"""A Rollout with a traffic router, end to end through the controller (Istio VirtualService):
exact weights read back into status, abort order, a missing routing object, and the
finalizer restoring routing on deletion."""

from __future__ import annotations

import time
from typing import Any

import pytest

from rollout.cli.render import describe
from rollout.errors import NotFoundError
from rollout.kube import ROLLOUTS, Kind
from tests.e2e.harness import Cluster
from tests.e2e.test_canary import rev
from tests.meshes import upstream

VIRTUAL_SERVICES = Kind("networking.istio.io", "v1", "virtualservices", "VirtualService")
ROUTING = {"istio": {"virtualService": {"name": "app-vs", "routes": ["primary"]}}}
STEPS = [{"setWeight": 20}, {"pause": {}}]

pytestmark = pytest.mark.usefixtures("controller")


def virtual_service() -> dict[str, Any]:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app-vs"},
        "spec": {
            "hosts": ["app"],
            "http": [
                {
                    "name": "primary",
                    "retries": {"attempts": 3},
                    "route": [
                        {"destination": {"host": "app-stable"}, "weight": 100},
                        {"destination": {"host": "app-canary"}, "weight": 0},
                    ],
                }
            ],
        },
    }


def weights(cluster: Cluster) -> dict[str, int]:
    vs = cluster.kube.get(VIRTUAL_SERVICES, "app-vs", namespace="default")
    return {d["destination"]["host"]: d.get("weight", 0) for d in vs["spec"]["http"][0]["route"]}


def start(cluster: Cluster, *, with_vs: bool = True) -> None:
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    if with_vs:
        cluster.kube.create(VIRTUAL_SERVICES, virtual_service(), namespace="default")
    cluster.create(
        "app", steps=STEPS, canary={"trafficRouting": ROUTING, "abortScaleDownDelaySeconds": 1}
    )


def test_weights_are_exact_and_verified_and_abort_puts_traffic_back_on_stable(
    cluster: Cluster,
) -> None:
    """(The order of an abort's writes is proven in tests/engine/test_routes.py.)"""
    start(cluster)
    cluster.wait_phase("app", "Healthy")
    v1, v2 = rev("app:v1"), rev("app:v2")
    cluster.api.set_image("default", "app", "app", "app:v2")
    cluster.wait_step("app", 1)
    assert weights(cluster) == {"app-stable": 80, "app-canary": 20}
    status = cluster.status("app")
    assert status["canary"]["weights"]["canary"] == {"revision": v2, "weight": 20}
    assert cluster.replicas("app")[v1] == (5, 5)  # the stable stays at full size
    shown = describe(cluster.rollout("app"), cluster.api.revisions("default", "app"), [])
    assert "canary (traffic routed by istio)" in shown
    assert "canary 20% (" in shown
    vs = cluster.kube.get(VIRTUAL_SERVICES, "app-vs", namespace="default")
    assert vs["spec"]["http"][0]["retries"] == {"attempts": 3}
    upstream.validate(vs)

    cluster.api.abort("default", "app")
    cluster.wait(
        "app",
        lambda r: cluster.replicas("app").get(v2, (1, 0))[0] == 0,
        what="canary scaled down",
    )
    assert weights(cluster) == {"app-stable": 100, "app-canary": 0}
    assert cluster.status("app")["phase"] == "Degraded"


def test_a_missing_virtual_service_is_named_and_recovers_once_created(
    cluster: Cluster,
) -> None:
    start(cluster, with_vs=False)
    failed = cluster.wait_phase("app", "Degraded")
    condition = next(c for c in failed["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert condition["reason"] == "RoutingObjectNotFound"
    assert "app-vs" in condition["message"]
    assert cluster.revisions("app") == {}  # nothing written
    cluster.kube.create(VIRTUAL_SERVICES, virtual_service(), namespace="default")
    cluster.wait_phase("app", "Healthy", timeout=30)


def test_deleting_the_rollout_restores_routing_to_stable(cluster: Cluster) -> None:
    start(cluster)
    cluster.wait_phase("app", "Healthy")
    assert "rollout.dev/routing" in cluster.rollout("app")["metadata"]["finalizers"]
    cluster.api.set_image("default", "app", "app", "app:v2")
    cluster.wait_step("app", 1)
    assert weights(cluster)["app-canary"] == 20
    cluster.kube.delete(ROLLOUTS, "app", namespace="default")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            cluster.rollout("app")
        except NotFoundError:
            break
        time.sleep(0.1)
    else:
        raise AssertionError("the Rollout was not released by its finalizer")
    assert weights(cluster) == {"app-stable": 100, "app-canary": 0}


def test_a_routing_conflict_is_read_again_and_retried(cluster: Cluster) -> None:
    """409s on the VirtualService: the controller re-reads and decides again; the weights and
    the user's own fields come out right (no stale merge)."""
    start(cluster)
    cluster.wait_phase("app", "Healthy")
    cluster.sandbox.faults.add(verb="update", resource="virtualservices", code=409, count=3)
    cluster.api.set_image("default", "app", "app", "app:v2")
    cluster.wait_step("app", 1)
    injected = [
        r
        for r in cluster.sandbox.requests.entries()
        if r.injected and r.resource == "virtualservices"
    ]
    assert len(injected) == 3
    vs = cluster.kube.get(VIRTUAL_SERVICES, "app-vs", namespace="default")
    assert weights(cluster) == {"app-stable": 80, "app-canary": 20}
    assert vs["spec"]["http"][0]["retries"] == {"attempts": 3}
    assert cluster.status("app")["canary"]["weights"]["canary"]["weight"] == 20


def test_a_baseline_behind_istio_gets_the_canarys_weight_through_its_own_service(
    cluster: Cluster,
) -> None:
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    cluster.kube.create(VIRTUAL_SERVICES, virtual_service(), namespace="default")
    cluster.create_service("app-baseline", app="app")
    cluster.create(
        "app",
        steps=STEPS,
        canary={
            "trafficRouting": ROUTING,
            "baseline": True,
            "baselineService": "app-baseline",
            "abortScaleDownDelaySeconds": 1,
        },
    )
    cluster.wait_phase("app", "Healthy")
    v1, v2 = rev("app:v1"), rev("app:v2")
    baseline = f"{v1}-baseline"
    cluster.api.set_image("default", "app", "app", "app:v2")
    cluster.wait_step("app", 1)
    assert weights(cluster) == {"app-stable": 60, "app-canary": 20, "app-baseline": 20}
    status = cluster.status("app")
    assert status["canary"]["weights"]["baseline"] == {"revision": baseline, "weight": 20}
    assert status["canary"]["weights"]["stable"] == {"revision": v1, "weight": 60}
    assert cluster.replicas("app") == {v1: (5, 5), v2: (1, 1), baseline: (1, 1)}
    assert cluster.pinned("app-baseline") == baseline
    shown = describe(cluster.rollout("app"), cluster.api.revisions("default", "app"), [])
    assert f"canary 20% ({v2})  baseline 20% ({baseline})" in shown
    assert cluster.pinned("app-stable") == v1 and cluster.pinned("app-canary") == v2
    upstream.validate(cluster.kube.get(VIRTUAL_SERVICES, "app-vs", namespace="default"))

    cluster.api.abort("default", "app")
    cluster.wait(
        "app",
        lambda r: (
            baseline not in cluster.replicas("app") or cluster.replicas("app")[baseline][0] == 0
        ),
        what="baseline scaled down",
    )
    assert weights(cluster) == {"app-stable": 100, "app-canary": 0, "app-baseline": 0}
    assert cluster.status("app")["canary"]["weights"].get("baseline") is None
