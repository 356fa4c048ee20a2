"""A third-party router, registered through the `rollout.routers` entry point exactly as ours
are (a distribution's entry_points.txt on sys.path), is found by the registry and held to the
same contract by rollout.testing.router_contract."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest

from rollout import registry
from rollout.kube import Kind, Kube
from rollout.testing.router_contract import ContractViolation, RouterCase, run_contract
from tests.meshes.contract import routed_rollout

CONFIGMAPS = Kind("", "v1", "configmaps", "ConfigMap")

# A toy router that keeps its "weights" in a ConfigMap it owns (what a real plugin for some
# proxy would write to its own resource).
ROUTER = textwrap.dedent("""
    from typing import ClassVar
    from rollout.errors import NotFoundError
    from rollout.models import RevisionWeight, TrafficWeights
    from rollout.routing import RouterError, RouterState

    class ConfigMapRouter:
        name: ClassVar[str] = "configmap"
        exact_weights: ClassVar[bool] = True
        capabilities: ClassVar[frozenset[str]] = frozenset()
        queries: ClassVar[dict[str, str]] = {}

        def __init__(self, kube):
            self.kube = kube

        def _get(self, rollout):
            try:
                return self.kube.get(KIND, f"{rollout.metadata.name}-split",
                                     namespace=rollout.metadata.namespace)
            except NotFoundError:
                return None

        def read(self, rollout):
            cm = self._get(rollout)
            if cm is None:
                return RouterState()
            d = cm["data"]
            w = int(d["weight"])
            return RouterState(weights=TrafficWeights(
                stable=RevisionWeight(revision=d["stable"], weight=100 - w),
                canary=RevisionWeight(revision=d["canary"], weight=w)))

        def set_weight(self, rollout, *, stable, canary, weight):
            data = {"stable": stable, "canary": canary, "weight": str(weight)}
            cm = self._get(rollout)
            if cm is None:
                self.kube.create(KIND, {"apiVersion": "v1", "kind": "ConfigMap",
                                        "metadata": {"name": f"{rollout.metadata.name}-split"},
                                        "data": data}, namespace=rollout.metadata.namespace)
            elif cm["data"] != data:
                cm["data"] = data
                self.kube.replace(KIND, cm, namespace=rollout.metadata.namespace)

        def set_header_route(self, rollout, route):
            raise RouterError("configmap router: no header routes")

        def set_mirror_route(self, rollout, route):
            raise RouterError("configmap router: no mirror routes")

        def remove_managed_routes(self, rollout):
            return None

        def finalize(self, rollout, *, stable):
            cm = self._get(rollout)
            if cm is not None:
                self.set_weight(rollout, stable=stable, canary=cm["data"]["canary"], weight=0)

    from rollout.kube import Kind
    KIND = Kind("", "v1", "configmaps", "ConfigMap")
""")


@pytest.fixture
def third_party(tmp_path: Path) -> Iterator[type]:
    (tmp_path / "configmap_router.py").write_text(ROUTER)
    dist = tmp_path / "configmap_router-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: configmap-router\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text(
        "[rollout.routers]\nconfigmap = configmap_router:ConfigMapRouter\n"
    )
    sys.path.insert(0, str(tmp_path))
    registry.installed.cache_clear()
    try:
        yield registry.load("routers", "configmap")
    finally:
        sys.path.remove(str(tmp_path))
        sys.modules.pop("configmap_router", None)
        registry.installed.cache_clear()


def case(router: type) -> RouterCase:
    def objects(kube: Kube) -> list[dict[str, Any]]:
        items, _ = kube.list(CONFIGMAPS, namespace="default")
        return [i for i in items if i["metadata"]["name"] == "app-split"]

    return RouterCase(
        id="third-party-configmap",
        router=router,
        setup=lambda kube: None,
        # The spec names a built-in router; the contract drives the router class directly.
        rollout=lambda: routed_rollout({"istio": {"virtualService": {"name": "unused"}}}),
        objects=objects,
        validate=lambda obj: kubernetes_validate.validate(obj, "1.30", strict=True),
        header_route=None,
    )


def test_a_registered_third_party_router_passes_the_contract(third_party: type) -> None:
    assert "configmap" in registry.installed("routers")
    assert third_party.__name__ == "ConfigMapRouter"
    run_contract(case(third_party))


def test_the_contract_catches_a_router_that_writes_twice(third_party: type) -> None:
    """The suite can fail: a router that rewrites unchanged weights is caught."""

    class Chatty(third_party):  # type: ignore[valid-type, misc]
        def set_weight(self, rollout: Any, *, stable: str, canary: str, weight: int) -> None:
            super().set_weight(rollout, stable=stable, canary=canary, weight=weight)
            cm = self._get(rollout)
            self.kube.replace(CONFIGMAPS, cm, namespace="default")  # a needless second write

    with pytest.raises(ContractViolation, match="writes"):
        run_contract(case(Chatty))
