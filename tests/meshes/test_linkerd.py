"""The linkerd router against the sandbox: a policy.linkerd.io HTTPRoute (rules without names),
a gateway.networking.k8s.io one, and the SMI TrafficSplit it creates and owns, in v1alpha2
(linkerd-smi's CRD) and v1alpha4 (smi-sdk-go's). Every object written is validated against
its upstream schema."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meshes.gateway_api import HTTP_ROUTES
from meshes.linkerd import LINKERD_HTTP_ROUTES, LinkerdRouter, traffic_splits
from rollout import labels
from rollout.errors import ConflictError
from rollout.gateway_routes import CANARY_REVISION, MANAGED_RULES, STABLE_REVISION
from rollout.models.traffic import SetMirrorRoute
from rollout.routing import RouterError, RoutingObjectNotFoundError
from tests.e2e.harness import Cluster
from tests.meshes import upstream
from tests.meshes.cases_gateway import (
    GATEWAY,
    HEADER_ROUTE,
    HTTP_ROUTE,
    LINKERD_ROUTE,
    LINKERD_ROUTING,
    NS,
    SMI,
    rollout,
    route_setup,
    smi_routing,
    split_setup,
)

Obj = dict[str, Any]
WRITES = ("create", "update", "patch", "delete")


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.close()


def writes(cluster: Cluster) -> list[Any]:
    return [r for r in cluster.sandbox.requests.entries() if r.verb in WRITES]


def linkerd_route(cluster: Cluster) -> Obj:
    obj = cluster.kube.get(LINKERD_HTTP_ROUTES, "app-route", namespace=NS)
    upstream.validate(obj)
    return obj


def test_linkerd_httproute_weights_and_header_routes(cluster: Cluster) -> None:
    route_setup("policy.linkerd.io", LINKERD_HTTP_ROUTES, LINKERD_ROUTE)(cluster.kube)
    router, spec = LinkerdRouter(cluster.kube), rollout(LINKERD_ROUTING)
    for weight in (0, 20, 50, 100):
        router.set_weight(spec, stable="s1", canary="c1", weight=weight)
        state = router.read(spec)
        assert state.weights is not None and state.weights.canary.weight == weight
    cluster.sandbox.requests.clear()
    router.set_weight(spec, stable="s1", canary="c1", weight=100)
    assert writes(cluster) == []
    router.set_weight(spec, stable="s1", canary="c1", weight=10)
    router.set_header_route(spec, HEADER_ROUTE)
    obj = linkerd_route(cluster)
    rules = obj["spec"]["rules"]
    # v1beta3 rules have no `name`: ours are known by the fingerprint in the annotation.
    assert all("name" not in r for r in rules)
    assert json.loads(obj["metadata"]["annotations"][MANAGED_RULES]).keys() == {"canary-header"}
    assert rules[0]["backendRefs"] == [{"name": "app-canary", "port": 80}]
    assert rules[0]["matches"][0]["headers"] == [
        {"type": "Exact", "name": "x-canary", "value": "yes"}
    ]
    assert rules[1]["backendRefs"] == [
        {"name": "app-stable", "port": 80, "weight": 90},
        {"name": "app-canary", "port": 80, "weight": 10},
    ]
    assert rules[1]["timeouts"] == {"request": "3s"}
    assert rules[2] == LINKERD_ROUTE["spec"]["rules"][1]
    assert obj["spec"]["parentRefs"] == LINKERD_ROUTE["spec"]["parentRefs"]
    assert router.read(spec).header_routes == {"canary-header"}
    with pytest.raises(RouterError, match="mirror"):
        router.set_mirror_route(spec, SetMirrorRoute.model_validate({"name": "mirror-some"}))
    router.finalize(spec, stable="s1")
    obj = linkerd_route(cluster)
    assert len(obj["spec"]["rules"]) == 2
    assert obj["spec"]["rules"][0]["backendRefs"][1]["weight"] == 0
    assert obj["metadata"]["annotations"] == LINKERD_ROUTE["metadata"]["annotations"]


def test_linkerd_on_a_gateway_api_httproute(cluster: Cluster) -> None:
    route_setup(GATEWAY, HTTP_ROUTES, HTTP_ROUTE)(cluster.kube)
    routing = {"linkerd": {"httpRoute": {"name": "app-route", "group": GATEWAY, "rule": 1}}}
    router, spec = LinkerdRouter(cluster.kube), rollout(routing)
    router.set_weight(spec, stable="s1", canary="c1", weight=35)
    router.set_header_route(spec, HEADER_ROUTE)
    obj = cluster.kube.get(HTTP_ROUTES, "app-route", namespace=NS)
    upstream.validate(obj)
    assert [r["name"] for r in obj["spec"]["rules"]] == ["admin", "canary-header", "main"]
    assert obj["spec"]["rules"][2]["backendRefs"][1]["weight"] == 35


def test_linkerd_httproute_missing_or_bad_rule(cluster: Cluster) -> None:
    route_setup("policy.linkerd.io", LINKERD_HTTP_ROUTES, LINKERD_ROUTE)(cluster.kube)
    cluster.sandbox.requests.clear()
    router = LinkerdRouter(cluster.kube)
    for routing, what in (
        ({"linkerd": {"httpRoute": {"name": "nope"}}}, "HTTPRoute default/nope not found"),
        ({"linkerd": {"httpRoute": {"name": "app-route", "rule": 2}}}, "has no rule 2"),
    ):
        with pytest.raises(RoutingObjectNotFoundError, match=what):
            router.set_weight(rollout(routing), stable="s1", canary="c1", weight=10)
    assert writes(cluster) == []


@pytest.mark.parametrize(
    ("version", "file"), [("v1alpha2", upstream.LINKERD_SMI), ("v1alpha4", None)]
)
def test_smi_traffic_split_is_created_owned_updated_and_deleted(
    cluster: Cluster, version: str, file: str | None
) -> None:
    split_setup(file)(cluster.kube)
    kind = traffic_splits(f"{SMI}/{version}")
    router, spec = LinkerdRouter(cluster.kube), rollout(smi_routing(version))
    assert router.read(spec).weights is None
    cluster.sandbox.requests.clear()
    router.set_weight(spec, stable="s1", canary="c1", weight=20)
    assert [w.verb for w in writes(cluster)] == ["create"]
    split = cluster.kube.get(kind, "app-split", namespace=NS)
    upstream.validate(split, file=file)
    assert split["apiVersion"] == f"{SMI}/{version}"
    assert split["spec"] == {
        "service": "app",
        "backends": [
            {"service": "app-stable", "weight": 80},
            {"service": "app-canary", "weight": 20},
        ],
    }
    assert split["metadata"]["labels"] == {labels.NAME: "app"}
    assert split["metadata"]["ownerReferences"] == [
        {
            "apiVersion": "rollout.dev/v1alpha1",
            "kind": "Rollout",
            "name": "app",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    assert split["metadata"]["annotations"] == {STABLE_REVISION: "s1", CANARY_REVISION: "c1"}
    for weight in (50, 100, 0):
        cluster.sandbox.requests.clear()
        router.set_weight(spec, stable="s1", canary="c1", weight=weight)
        assert [w.verb for w in writes(cluster)] == ["update"]
        state = router.read(spec)
        assert state.weights is not None and state.weights.canary.weight == weight
        upstream.validate(cluster.kube.get(kind, "app-split", namespace=NS), file=file)
    cluster.sandbox.requests.clear()
    router.set_weight(spec, stable="s1", canary="c1", weight=0)
    assert writes(cluster) == []
    with pytest.raises(RouterError, match="cannot route by header"):
        router.set_header_route(spec, HEADER_ROUTE)
    router.remove_managed_routes(spec)
    assert writes(cluster) == []
    before = cluster.kube.get(kind, "app-split", namespace=NS)
    cluster.sandbox.faults.add(verb="update", resource="trafficsplits", code=409)
    with pytest.raises(ConflictError):
        router.set_weight(spec, stable="s1", canary="c1", weight=60)
    assert cluster.kube.get(kind, "app-split", namespace=NS) == before
    router.finalize(spec, stable="s1")
    assert cluster.kube.list(kind, namespace=NS)[0] == []
    assert router.read(spec).weights is None
    router.finalize(spec, stable="s1")  # already gone: nothing to do


def test_smi_needs_its_root_service_and_never_takes_over_a_split(cluster: Cluster) -> None:
    upstream.install(cluster.kube, SMI, "TrafficSplit")
    kind = traffic_splits(f"{SMI}/v1alpha4")
    router, spec = LinkerdRouter(cluster.kube), rollout(smi_routing("v1alpha4"))
    cluster.sandbox.requests.clear()
    with pytest.raises(RoutingObjectNotFoundError, match="Service default/app"):
        router.set_weight(spec, stable="s1", canary="c1", weight=10)
    assert writes(cluster) == []
    theirs = {
        "apiVersion": f"{SMI}/v1alpha4",
        "kind": "TrafficSplit",
        "metadata": {"name": "app-split"},
        "spec": {"service": "app", "backends": [{"service": "other", "weight": 100}]},
    }
    cluster.kube.create(kind, theirs, namespace=NS)
    cluster.sandbox.requests.clear()
    calls: list[Callable[[], object]] = [
        lambda: router.set_weight(spec, stable="s1", canary="c1", weight=10),
        lambda: router.finalize(spec, stable="s1"),
    ]
    for call in calls:
        with pytest.raises(RouterError, match="not owned by this Rollout"):
            call()
    assert writes(cluster) == []
