"""The gatewayAPI router against the sandbox, on a rich HTTPRoute and a GRPCRoute: exact
objects written, one guarded write, header and mirror rules, finalize, missing objects. Every
object written is validated against the upstream Gateway API v1.6.1 schema."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from meshes.gateway_api import GRPC_ROUTES, HTTP_ROUTES, GatewayAPIRouter
from rollout.errors import ConflictError
from rollout.gateway_routes import CANARY_REVISION, MANAGED_RULES, STABLE_REVISION
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from rollout.routing import RouterError, RoutingObjectNotFoundError
from tests.e2e.harness import Cluster
from tests.meshes import upstream
from tests.meshes.cases_gateway import (
    GATEWAY,
    GRPC_ROUTE,
    GRPC_ROUTING,
    HEADER_ROUTE,
    HTTP_ROUTE,
    HTTP_ROUTING,
    NS,
    rollout,
    route_setup,
)

Obj = dict[str, Any]
WRITES = ("create", "update", "patch", "delete")
STABLE_REF = {"group": "", "kind": "Service", "name": "app-stable", "port": 80}
CANARY_REF = {**STABLE_REF, "name": "app-canary"}


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        route_setup(GATEWAY, HTTP_ROUTES, HTTP_ROUTE)(cluster.kube)
        cluster.sandbox.requests.clear()
        yield cluster
    finally:
        cluster.close()


def route(cluster: Cluster) -> Obj:
    obj = cluster.kube.get(HTTP_ROUTES, "app-route", namespace=NS)
    upstream.validate(obj)
    return obj


def writes(cluster: Cluster) -> list[Any]:
    return [r for r in cluster.sandbox.requests.entries() if r.verb in WRITES]


def header(name: str, match: dict[str, str] | None = None) -> SetHeaderRoute:
    matches = [{"headerName": "x-user", "headerValue": match}] if match else []
    return SetHeaderRoute.model_validate({"name": name, "match": matches})


def user_part(obj: Obj) -> Obj:
    """What we must never change: the object minus server fields, our annotations, our rules
    and the weights on the managed rule."""
    out = copy.deepcopy({k: obj[k] for k in ("apiVersion", "kind", "spec")})
    annotations = obj["metadata"].get("annotations", {})
    out["annotations"] = {k: v for k, v in annotations.items() if not k.startswith("rollout.dev/")}
    out["labels"] = obj["metadata"].get("labels")
    recorded = annotations.get(MANAGED_RULES, "")
    out["spec"]["rules"] = [r for r in out["spec"]["rules"] if f'"{r.get("name")}"' not in recorded]
    for ref in out["spec"]["rules"][1]["backendRefs"]:
        ref.pop("weight", None)
    out["spec"]["rules"][1]["backendRefs"] = [
        r for r in out["spec"]["rules"][1]["backendRefs"] if r["name"] != "app-canary"
    ]
    return out


def test_weights_round_trip_with_one_write_each_and_touch_nothing_else(cluster: Cluster) -> None:
    router, spec = GatewayAPIRouter(cluster.kube), rollout(HTTP_ROUTING)
    before = user_part(route(cluster))
    assert router.read(spec).weights is None  # never set: no annotations yet
    for weight in (0, 20, 50, 100, 0):
        cluster.sandbox.requests.clear()
        router.set_weight(spec, stable="s1", canary="c1", weight=weight)
        assert [w.verb for w in writes(cluster)] == ["update"]
        state = router.read(spec)
        assert state.weights is not None
        assert (state.weights.stable.weight, state.weights.canary.weight) == (100 - weight, weight)
        assert (state.weights.stable.revision, state.weights.canary.revision) == ("s1", "c1")
        obj = route(cluster)
        assert obj["spec"]["rules"][1]["backendRefs"] == [
            {**STABLE_REF, "weight": 100 - weight},
            {**CANARY_REF, "weight": weight},
        ]
        assert obj["metadata"]["annotations"][STABLE_REVISION] == "s1"
        assert obj["metadata"]["annotations"][CANARY_REVISION] == "c1"
        assert user_part(obj) == before
    cluster.sandbox.requests.clear()
    router.set_weight(spec, stable="s1", canary="c1", weight=0)
    assert writes(cluster) == []
    router.set_weight(spec, stable="s2", canary="c1", weight=0)  # a new stable revision: a write
    assert len(writes(cluster)) == 1


def test_a_conflict_propagates_and_leaves_the_route_as_it_was(cluster: Cluster) -> None:
    router, spec = GatewayAPIRouter(cluster.kube), rollout(HTTP_ROUTING)
    router.set_weight(spec, stable="s1", canary="c1", weight=10)
    before = route(cluster)
    cluster.sandbox.faults.add(verb="update", resource="httproutes", code=409)
    with pytest.raises(ConflictError):
        router.set_weight(spec, stable="s1", canary="c1", weight=60)
    assert route(cluster) == before


def test_header_routes_go_before_the_managed_rule_in_precedence_order(cluster: Cluster) -> None:
    router, spec = GatewayAPIRouter(cluster.kube), rollout(HTTP_ROUTING)
    before = user_part(route(cluster))
    router.set_weight(spec, stable="s1", canary="c1", weight=10)
    # Created in reverse precedence: managedRoutes order decides where they go.
    router.set_header_route(spec, header("beta-users", {"prefix": "beta-"}))
    router.set_header_route(spec, HEADER_ROUTE)
    rules = route(cluster)["spec"]["rules"]
    assert [r["name"] for r in rules] == ["admin", "canary-header", "beta-users", "main"]
    assert rules[1] == {
        "name": "canary-header",
        "matches": [
            {
                "path": {"type": "PathPrefix", "value": "/api"},
                "method": "GET",
                "headers": [{"type": "Exact", "name": "x-canary", "value": "yes"}],
            },
            {
                "path": {"type": "Exact", "value": "/login"},
                "headers": [
                    {"type": "Exact", "name": "x-env", "value": "prod"},
                    {"type": "Exact", "name": "x-canary", "value": "yes"},
                ],
            },
        ],
        "backendRefs": [CANARY_REF],
    }
    assert rules[2]["matches"][0]["headers"] == [
        {"type": "RegularExpression", "name": "x-user", "value": "^beta\\-.*"}
    ]
    assert router.read(spec).header_routes == {"canary-header", "beta-users"}
    # The spec's rule index still means the user's rule 1 ("main"), not ours.
    router.set_weight(spec, stable="s1", canary="c1", weight=40)
    assert route(cluster)["spec"]["rules"][3]["backendRefs"][1]["weight"] == 40
    cluster.sandbox.requests.clear()
    router.set_header_route(spec, HEADER_ROUTE)  # already there: no write
    assert writes(cluster) == []
    router.set_header_route(spec, header("beta-users"))  # no match: removed
    assert [r["name"] for r in route(cluster)["spec"]["rules"]] == [
        "admin",
        "canary-header",
        "main",
    ]
    router.remove_managed_routes(spec)
    obj = route(cluster)
    assert [r["name"] for r in obj["spec"]["rules"]] == ["admin", "main"]
    assert MANAGED_RULES not in obj["metadata"]["annotations"]
    assert user_part(obj) == before


def test_mirror_routes_copy_the_managed_rule_and_follow_its_weights(cluster: Cluster) -> None:
    router, spec = GatewayAPIRouter(cluster.kube), rollout(HTTP_ROUTING)
    router.set_weight(spec, stable="s1", canary="c1", weight=10)
    router.set_mirror_route(
        spec, SetMirrorRoute.model_validate({"name": "mirror-some", "percentage": 5})
    )
    rules = route(cluster)["spec"]["rules"]
    mirror = rules[1]
    assert mirror["name"] == "mirror-some"
    assert mirror["filters"][-1] == {
        "type": "RequestMirror",
        "requestMirror": {"backendRef": CANARY_REF, "percent": 5},
    }
    assert mirror["timeouts"] == rules[2]["timeouts"]
    assert router.read(spec).mirror_routes == {"mirror-some"}
    router.set_weight(spec, stable="s1", canary="c1", weight=30)
    rules = route(cluster)["spec"]["rules"]
    assert rules[1]["backendRefs"] == rules[2]["backendRefs"]
    assert rules[2]["backendRefs"][1]["weight"] == 30
    router.set_mirror_route(spec, SetMirrorRoute.model_validate({"name": "mirror-some"}))
    assert router.read(spec).mirror_routes == frozenset()


def test_finalize_puts_all_on_stable_and_removes_what_we_added(cluster: Cluster) -> None:
    router, spec = GatewayAPIRouter(cluster.kube), rollout(HTTP_ROUTING)
    before = user_part(route(cluster))
    router.set_weight(spec, stable="s1", canary="c1", weight=40)
    router.set_header_route(spec, HEADER_ROUTE)
    router.set_mirror_route(
        spec, SetMirrorRoute.model_validate({"name": "mirror-some", "percentage": 5})
    )
    cluster.sandbox.requests.clear()
    router.finalize(spec, stable="s1")
    assert len(writes(cluster)) == 1
    obj = route(cluster)
    assert obj["spec"]["rules"][1]["backendRefs"] == [
        {**STABLE_REF, "weight": 100},
        {**CANARY_REF, "weight": 0},
    ]
    assert obj["metadata"]["annotations"] == HTTP_ROUTE["metadata"]["annotations"]
    assert user_part(obj) == before
    assert router.read(spec).weights is None


def test_finalize_of_a_route_never_steered_writes_nothing(cluster: Cluster) -> None:
    GatewayAPIRouter(cluster.kube).finalize(rollout(HTTP_ROUTING), stable="s1")
    assert writes(cluster) == []


@pytest.mark.parametrize(
    ("routing", "what"),
    [
        ({"gatewayAPI": {"httpRoute": "nope"}}, "HTTPRoute default/nope not found"),
        ({"gatewayAPI": {"grpcRoute": "app-route"}}, "GRPCRoute default/app-route not found"),
        ({"gatewayAPI": {"httpRoute": "app-route", "rule": 2}}, "has no rule 2"),
        ({"gatewayAPI": {"httpRoute": "app-route", "rule": 0}}, "no backendRef to the stable"),
    ],
)
def test_missing_objects_are_named_before_any_write(
    cluster: Cluster, routing: Obj, what: str
) -> None:
    if "grpcRoute" in routing["gatewayAPI"]:
        upstream.install(cluster.kube, GATEWAY, "GRPCRoute")
        cluster.sandbox.requests.clear()
    router, spec = GatewayAPIRouter(cluster.kube), rollout(routing)
    for call in (
        lambda: router.set_weight(spec, stable="s1", canary="c1", weight=10),
        lambda: router.set_header_route(spec, HEADER_ROUTE),
        lambda: router.read(spec),
        lambda: router.finalize(spec, stable="s1"),
    ):
        with pytest.raises(RoutingObjectNotFoundError, match=what):
            call()
    assert writes(cluster) == []


def test_refuses_unlisted_routes_and_user_rules_of_the_same_name(cluster: Cluster) -> None:
    router = GatewayAPIRouter(cluster.kube)
    with pytest.raises(RouterError, match=r"not in trafficRouting\.managedRoutes"):
        router.set_header_route(rollout(HTTP_ROUTING), header("other", {"exact": "x"}))
    clash = rollout(HTTP_ROUTING, managed=[{"name": "admin"}])
    with pytest.raises(RouterError, match="already has a rule named 'admin'"):
        router.set_header_route(clash, header("admin", {"exact": "x"}))
    assert writes(cluster) == []


def test_grpc_routes_take_weights_headers_and_mirrors() -> None:
    cluster = Cluster()
    try:
        route_setup(GATEWAY, GRPC_ROUTES, GRPC_ROUTE)(cluster.kube)
        router, spec = GatewayAPIRouter(cluster.kube), rollout(GRPC_ROUTING)
        router.set_weight(spec, stable="s1", canary="c1", weight=25)
        router.set_header_route(spec, HEADER_ROUTE)
        router.set_mirror_route(
            spec, SetMirrorRoute.model_validate({"name": "mirror-some", "percentage": 50})
        )
        obj = cluster.kube.get(GRPC_ROUTES, "app-grpc", namespace=NS)
        upstream.validate(obj)
        rules = obj["spec"]["rules"]
        assert [r.get("name") for r in rules] == ["canary-header", "mirror-some", None]
        assert rules[0]["matches"] == [
            {
                "method": {"type": "Exact", "service": "echo.v1.Echo"},
                "headers": [{"type": "Exact", "name": "x-canary", "value": "yes"}],
            }
        ]
        assert rules[2]["backendRefs"] == [
            {"name": "app-stable", "port": 9000, "weight": 75},
            {"name": "app-canary", "port": 9000, "weight": 25},
        ]
        assert obj["spec"]["parentRefs"] == GRPC_ROUTE["spec"]["parentRefs"]
        router.finalize(spec, stable="s1")
        obj = cluster.kube.get(GRPC_ROUTES, "app-grpc", namespace=NS)
        upstream.validate(obj)
        assert [r.get("name") for r in obj["spec"]["rules"]] == [None]
    finally:
        cluster.close()


def test_our_named_rules_are_still_ours_after_someone_edits_them(cluster: Cluster) -> None:
    router, spec = GatewayAPIRouter(cluster.kube), rollout(HTTP_ROUTING)
    router.set_weight(spec, stable="s1", canary="c1", weight=10)
    router.set_header_route(spec, HEADER_ROUTE)
    obj = route(cluster)
    obj["spec"]["rules"][1]["matches"][0]["headers"][0]["value"] = "edited"
    cluster.kube.replace(HTTP_ROUTES, obj, namespace=NS)
    router.set_weight(spec, stable="s1", canary="c1", weight=20)  # still the user's rule 1
    assert route(cluster)["spec"]["rules"][2]["backendRefs"][1]["weight"] == 20
    router.remove_managed_routes(spec)
    assert [r["name"] for r in route(cluster)["spec"]["rules"]] == ["admin", "main"]
