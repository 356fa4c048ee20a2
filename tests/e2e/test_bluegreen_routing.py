"""Blue-green through a traffic router, end to end (the Istio router, a VirtualService in the
sandbox, validated against Istio's own schema): the switch is one routing write 0 -> 100, the
Services stay where they are until promotion, and a failed post-promotion check is one write
back."""

from __future__ import annotations

import threading
import time
from typing import Any

import pytest

from rollout.kube import SERVICES, Kind, Kube
from tests.e2e.bluegreen_tools import rev, writes_to
from tests.e2e.harness import NS, Cluster
from tests.meshes import upstream

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("controller")]

VIRTUAL_SERVICES = Kind("networking.istio.io", "v1", "virtualservices", "VirtualService")
ROUTING = {"istio": {"virtualService": {"name": "app-vs", "routes": ["primary"]}}}


def virtual_service() -> dict[str, Any]:
    route = [
        {"destination": {"host": "app-active"}, "weight": 100},
        {"destination": {"host": "app-preview"}, "weight": 0},
    ]
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": "app-vs"},
        "spec": {"hosts": ["app"], "http": [{"name": "primary", "route": route}]},
    }


def weights(cluster: Cluster) -> dict[str, int]:
    vs = cluster.kube.get(VIRTUAL_SERVICES, "app-vs", namespace=NS)
    upstream.validate(vs)
    return {d["destination"]["host"]: d.get("weight", 0) for d in vs["spec"]["http"][0]["route"]}


class WeightRecorder:
    """Every (active, preview) weight pair the VirtualService was published with, in order
    (a watch: nothing falls between two polls), repeats folded."""

    def __init__(self, cluster: Cluster) -> None:
        self._kube = Kube(cluster.sandbox.api_client())
        _, self._rv = self._kube.list(VIRTUAL_SERVICES, namespace=NS)
        self._states: list[tuple[int, int]] = [
            _pair(self._kube.get(VIRTUAL_SERVICES, "app-vs", namespace=NS))
        ]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for event in self._kube.watch(
                VIRTUAL_SERVICES, namespace=NS, resource_version=self._rv, timeout_seconds=1
            ):
                self._rv = event.object["metadata"]["resourceVersion"]
                if event.type == "MODIFIED":
                    pair = _pair(event.object)
                    if pair != self._states[-1]:
                        self._states.append(pair)

    def stop(self) -> list[tuple[int, int]]:
        time.sleep(0.2)  # the last event on its way
        self._stop.set()
        self._thread.join(timeout=5)
        self._kube.close()
        return self._states


def _pair(vs: dict[str, Any]) -> tuple[int, int]:
    route = {d["destination"]["host"]: d.get("weight", 0) for d in vs["spec"]["http"][0]["route"]}
    return route["app-active"], route["app-preview"]


def start(cluster: Cluster, **blue_green: Any) -> float:
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    cluster.kube.create(VIRTUAL_SERVICES, virtual_service(), namespace=NS)
    cluster.create_blue_green("app", blue_green={"trafficRouting": ROUTING, **blue_green})
    cluster.wait_phase("app", "Healthy")
    since = time.time()
    cluster.api.set_image(NS, "app", "app", "app:v2")
    return since


def test_the_switch_is_one_routing_write_of_100(cluster: Cluster) -> None:
    since = start(cluster, autoPromotionEnabled=False)
    v1, v2 = rev("app:v1"), rev("app:v2")
    cluster.wait_phase("app", "Paused")
    assert weights(cluster) == {"app-active": 100, "app-preview": 0}
    assert cluster.blue_green_pins("app") == (v1, v2)
    before = len(writes_to(cluster, "virtualservices", "app-vs", since=since))
    cluster.api.promote(NS, "app")
    cluster.wait_phase("app", "Healthy")
    switch_writes = writes_to(cluster, "virtualservices", "app-vs", since=since)[before:]
    # One write sends everything to v2 (through the preview Service); after promotion the
    # router's sides are reset, the active Service now pinned to v2 as well.
    assert len(switch_writes) == 2
    assert weights(cluster) == {"app-active": 100, "app-preview": 0}
    assert cluster.blue_green_pins("app") == (v2, v2)
    history = [h["reason"] for h in cluster.status("app")["history"]]
    assert history[-3:] == ["PromotionApproved", "ActiveSwitched", "Promoted"]
    switched = next(h for h in cluster.status("app")["history"] if h["reason"] == "ActiveSwitched")
    assert "routing weight 0 -> 100" in switched["message"]


def test_a_failed_post_promotion_check_is_one_routing_write_back(cluster: Cluster) -> None:
    # A post-promotion webhook that is never reachable: the check fails after its one try.
    hook = {
        "name": "synthetics",
        "type": "post-promotion",
        "url": "http://127.0.0.1:9/run",  # the discard port: nothing listens
        "retries": 0,
        "timeout": 1,
        "interval": 1,
    }
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    cluster.kube.create(VIRTUAL_SERVICES, virtual_service(), namespace=NS)
    cluster.create_blue_green("app", blue_green={"trafficRouting": ROUTING}, webhooks=[hook])
    cluster.wait_phase("app", "Healthy")
    v1 = rev("app:v1")
    states = WeightRecorder(cluster)
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_phase("app", "Degraded", timeout=30)
    history = [h["reason"] for h in cluster.status("app")["history"]]
    assert history[-3:] == ["PromotionApproved", "ActiveSwitched", "RolloutAborted"]
    # Every state the VirtualService went through: all on v1, all on v2 (one write), and
    # back in one write.
    changes = states.stop()
    assert changes == [(100, 0), (0, 100), (100, 0)], changes
    assert weights(cluster) == {"app-active": 100, "app-preview": 0}  # and back
    assert cluster.blue_green_pins("app")[0] == v1
    assert cluster.replicas("app")[v1] == (3, 3)
    assert "post-promotion webhooks" in cluster.status("app")["abortMessage"]
    active = cluster.kube.get(SERVICES, "app-active", namespace=NS)
    assert active["spec"]["selector"]["rollout.dev/revision-hash"] == v1
