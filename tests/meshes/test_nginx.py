"""The nginx router against the sandbox: what it writes, what it leaves alone, what it refuses."""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from meshes.nginx import INGRESSES, NginxRouter
from rollout.errors import ConflictError, NotFoundError
from rollout.kube import SERVICES, Kube
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from rollout.routing import CANARY_SCALE, HEADER_ROUTE, RouterError, RoutingObjectNotFoundError
from tests.e2e.harness import Cluster
from tests.meshes.cases_nginx import (
    CANARY_INGRESS,
    NS,
    RICH_INGRESS,
    SIMPLE_INGRESS,
    STABLE_INGRESS,
    rollout,
    setup,
    validate,
)

P = "nginx.ingress.kubernetes.io"
WRITES = ("create", "update", "patch", "delete")
S, C = "stable1", "canary2"


@pytest.fixture
def cluster() -> Iterator[Cluster]:
    cluster = Cluster()
    try:
        yield cluster
    finally:
        cluster.close()


@pytest.fixture
def router(cluster: Cluster) -> NginxRouter:
    setup(cluster.kube)
    return NginxRouter(cluster.kube)


def writes(cluster: Cluster) -> list[tuple[str, str]]:
    return [(r.verb, r.path) for r in cluster.sandbox.requests.entries() if r.verb in WRITES]


def ingress(kube: Kube, name: str) -> dict[str, Any]:
    return kube.get(INGRESSES, name, namespace=NS)


def canary(kube: Kube) -> dict[str, Any]:
    return ingress(kube, CANARY_INGRESS)


def header(name: str, value: dict[str, str], *more: tuple[str, dict[str, str]]) -> SetHeaderRoute:
    match = [{"headerName": n, "headerValue": v} for n, v in ((name, value), *more)]
    return SetHeaderRoute.model_validate({"name": "canary-header", "match": match})


def test_name_and_capabilities() -> None:
    assert NginxRouter.name == "nginx" and NginxRouter.exact_weights
    assert NginxRouter.capabilities == frozenset({HEADER_ROUTE, CANARY_SCALE})


def test_the_first_weight_creates_the_canary_ingress(cluster: Cluster, router: NginxRouter) -> None:
    cluster.sandbox.requests.clear()
    router.set_weight(rollout(), stable=S, canary=C, weight=20)
    assert [verb for verb, _ in writes(cluster)] == ["create"]
    obj = canary(cluster.kube)
    validate(obj)
    meta = obj["metadata"]
    assert meta["annotations"] == {
        f"{P}/canary": "true",
        f"{P}/canary-weight": "20",
        "rollout.dev/stable-revision": S,
        "rollout.dev/canary-revision": C,
    }
    assert meta["labels"] == {"rollout.dev/name": "app"}
    assert meta["ownerReferences"] == [
        {
            "apiVersion": "rollout.dev/v1alpha1",
            "kind": "Rollout",
            "name": "app",
            "uid": "u1",
            "controller": True,
            "blockOwnerDeletion": True,
        }
    ]
    expected = copy.deepcopy(SIMPLE_INGRESS["spec"])
    expected["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "app-canary"
    assert obj["spec"] == expected


def test_weights_round_trip_with_their_revisions(cluster: Cluster, router: NginxRouter) -> None:
    ro = rollout()
    assert router.read(ro).weights is None  # no canary Ingress yet
    for weight in (0, 20, 50, 100):
        router.set_weight(ro, stable=S, canary=C, weight=weight)
        weights = router.read(ro).weights
        assert weights is not None
        assert (weights.stable.revision, weights.stable.weight) == (S, 100 - weight)
        assert (weights.canary.revision, weights.canary.weight) == (C, weight)
        annotations = canary(cluster.kube)["metadata"]["annotations"]
        assert annotations[f"{P}/canary-weight"] == str(weight)
        assert f"{P}/canary-weight-total" not in annotations


def test_weight_total_scales_the_weight(cluster: Cluster, router: NginxRouter) -> None:
    ro = rollout({"weightTotal": 1000})
    router.set_weight(ro, stable=S, canary=C, weight=20)
    annotations = canary(cluster.kube)["metadata"]["annotations"]
    assert annotations[f"{P}/canary-weight"] == "200"
    assert annotations[f"{P}/canary-weight-total"] == "1000"
    weights = router.read(ro).weights
    assert weights is not None and weights.canary.weight == 20


def test_a_weight_the_total_cannot_express_is_refused_before_any_write(
    cluster: Cluster, router: NginxRouter
) -> None:
    cluster.sandbox.requests.clear()
    with pytest.raises(RouterError, match="weightTotal 3"):
        router.set_weight(rollout({"weightTotal": 3}), stable=S, canary=C, weight=50)
    assert writes(cluster) == []


def test_one_write_per_change_and_none_when_unchanged(
    cluster: Cluster, router: NginxRouter
) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    cluster.sandbox.requests.clear()
    router.set_weight(ro, stable=S, canary=C, weight=30)
    assert writes(cluster) == [
        ("update", f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{CANARY_INGRESS}")
    ]
    cluster.sandbox.requests.clear()
    router.set_weight(ro, stable=S, canary=C, weight=30)
    router.set_header_route(ro, SetHeaderRoute(name="canary-header"))  # removing: not there
    router.remove_managed_routes(ro)
    assert writes(cluster) == []


def test_a_conflict_propagates_and_changes_nothing(cluster: Cluster, router: NginxRouter) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    before = canary(cluster.kube)
    cluster.sandbox.faults.add(verb="update", resource="ingresses", code=409)
    with pytest.raises(ConflictError):
        router.set_weight(ro, stable=S, canary=C, weight=60)
    cluster.sandbox.faults.clear()
    assert canary(cluster.kube) == before


def test_a_rich_stable_ingress_is_cloned_and_left_untouched(cluster: Cluster) -> None:
    setup(cluster.kube, RICH_INGRESS)
    router = NginxRouter(cluster.kube)
    stable_before = ingress(cluster.kube, STABLE_INGRESS)
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=25)
    router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    router.set_weight(ro, stable=S, canary=C, weight=75)
    router.remove_managed_routes(ro)
    router.finalize(ro, stable=S)
    assert ingress(cluster.kube, STABLE_INGRESS) == stable_before


def test_the_clone_keeps_only_what_routes_to_the_stable_service(cluster: Cluster) -> None:
    setup(cluster.kube, RICH_INGRESS)
    NginxRouter(cluster.kube).set_weight(rollout(), stable=S, canary=C, weight=25)
    obj = canary(cluster.kube)
    validate(obj)
    spec = obj["spec"]
    assert spec["ingressClassName"] == "nginx"
    assert spec["tls"] == RICH_INGRESS["spec"]["tls"]
    routes = [
        (rule["host"], path["path"], path["pathType"], path["backend"]["service"])
        for rule in spec["rules"]
        for path in rule["http"]["paths"]
    ]
    # /auth (another service) and static.example.com (no path to app-stable) stay with the
    # stable Ingress only; port numbers and names are kept.
    assert routes == [
        ("app.example.com", "/", "Prefix", {"name": "app-canary", "port": {"number": 80}}),
        ("app.example.com", "/api", "Prefix", {"name": "app-canary", "port": {"name": "http"}}),
        (
            "www.example.com",
            "/",
            "ImplementationSpecific",
            {"name": "app-canary", "port": {"number": 80}},
        ),
    ]
    # None of the stable Ingress's own annotations (nginx or other) and labels are copied.
    assert set(obj["metadata"]["annotations"]) == {
        f"{P}/canary",
        f"{P}/canary-weight",
        "rollout.dev/stable-revision",
        "rollout.dev/canary-revision",
    }
    assert obj["metadata"]["labels"] == {"rollout.dev/name": "app"}


def test_the_legacy_ingress_class_annotation_is_carried(cluster: Cluster) -> None:
    legacy = copy.deepcopy(SIMPLE_INGRESS)
    del legacy["spec"]["ingressClassName"]
    legacy["metadata"]["annotations"] = {"kubernetes.io/ingress.class": "nginx-internal"}
    setup(cluster.kube, legacy)
    NginxRouter(cluster.kube).set_weight(rollout(), stable=S, canary=C, weight=5)
    obj = canary(cluster.kube)
    assert obj["metadata"]["annotations"]["kubernetes.io/ingress.class"] == "nginx-internal"
    assert "ingressClassName" not in obj["spec"]


def test_additional_annotations_and_a_custom_prefix(cluster: Cluster, router: NginxRouter) -> None:
    nginx = {
        "annotationPrefix": "custom.nginx.org",
        "additionalIngressAnnotations": {
            "canary-by-cookie": "beta",
            "example.com/owner": "team-web",
        },
    }
    router.set_weight(rollout(nginx), stable=S, canary=C, weight=40)
    annotations = canary(cluster.kube)["metadata"]["annotations"]
    assert annotations["custom.nginx.org/canary"] == "true"
    assert annotations["custom.nginx.org/canary-weight"] == "40"
    assert annotations["custom.nginx.org/canary-by-cookie"] == "beta"
    assert annotations["example.com/owner"] == "team-web"
    assert not any(k.startswith(f"{P}/") for k in annotations)


def test_a_changed_stable_ingress_is_recloned_in_one_write(
    cluster: Cluster, router: NginxRouter
) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    stable = ingress(cluster.kube, STABLE_INGRESS)
    stable["spec"]["rules"][0]["host"] = "new.example.com"
    cluster.kube.replace(INGRESSES, stable, namespace=NS)
    cluster.sandbox.requests.clear()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    assert [verb for verb, _ in writes(cluster)] == ["update"]
    assert canary(cluster.kube)["spec"]["rules"][0]["host"] == "new.example.com"


def test_an_ingress_without_the_stable_service_is_refused(cluster: Cluster) -> None:
    other = copy.deepcopy(SIMPLE_INGRESS)
    other["spec"]["rules"][0]["http"]["paths"][0]["backend"]["service"]["name"] = "elsewhere"
    setup(cluster.kube, other)
    cluster.sandbox.requests.clear()
    with pytest.raises(RouterError, match="does not route to stableService 'app-stable'"):
        NginxRouter(cluster.kube).set_weight(rollout(), stable=S, canary=C, weight=10)
    assert writes(cluster) == []


def test_header_routes_exact_regex_and_removal(cluster: Cluster, router: NginxRouter) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    annotations = canary(cluster.kube)["metadata"]["annotations"]
    assert annotations[f"{P}/canary-by-header"] == "x-canary"
    assert annotations[f"{P}/canary-by-header-value"] == "yes"
    assert annotations["rollout.dev/header-route"] == "canary-header"
    validate(canary(cluster.kube))
    state = router.read(ro)
    assert state.header_routes == {"canary-header"}
    assert state.weights is not None and state.weights.canary.weight == 10

    # The same route with a regex replaces the value with a pattern; weights are kept.
    router.set_header_route(ro, header("x-user", {"regex": "^(alice|bob)$"}))
    annotations = canary(cluster.kube)["metadata"]["annotations"]
    assert annotations[f"{P}/canary-by-header"] == "x-user"
    assert annotations[f"{P}/canary-by-header-pattern"] == "^(alice|bob)$"
    assert f"{P}/canary-by-header-value" not in annotations

    # A weight change keeps the header route.
    router.set_weight(ro, stable=S, canary=C, weight=30)
    assert router.read(ro).header_routes == {"canary-header"}

    # An empty match removes it, and only it.
    router.set_header_route(ro, SetHeaderRoute(name="canary-header"))
    annotations = canary(cluster.kube)["metadata"]["annotations"]
    assert not any("header" in k for k in annotations)
    state = router.read(ro)
    assert state.header_routes == frozenset()
    assert state.weights is not None and state.weights.canary.weight == 30


def test_remove_managed_routes_removes_the_header_route(
    cluster: Cluster, router: NginxRouter
) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    cluster.sandbox.requests.clear()
    router.remove_managed_routes(ro)
    assert len(writes(cluster)) == 1
    assert router.read(ro).header_routes == frozenset()


def test_a_header_route_before_any_weight_creates_the_canary_at_zero(
    cluster: Cluster, router: NginxRouter
) -> None:
    ro = rollout()
    router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    annotations = canary(cluster.kube)["metadata"]["annotations"]
    assert annotations[f"{P}/canary-weight"] == "0"
    state = router.read(ro)
    assert state.header_routes == {"canary-header"}
    assert state.weights is None  # no revisions known yet
    router.set_weight(ro, stable=S, canary=C, weight=0)
    assert router.read(ro).weights is not None


@pytest.mark.parametrize(
    ("route", "message"),
    [
        (header("x-canary", {"prefix": "y"}), "nginx cannot match a header prefix"),
        (
            header("x-canary", {"exact": "yes"}, ("x-user", {"exact": "bob"})),
            "2 header matches",
        ),
        (
            SetHeaderRoute.model_validate(
                {
                    "name": "other-header",
                    "match": [{"headerName": "x-other", "headerValue": {"exact": "1"}}],
                }
            ),
            "'canary-header' is already set",
        ),
    ],
    ids=["prefix", "two-matches", "second-route"],
)
def test_unsupported_header_routes_are_refused_before_any_write(
    cluster: Cluster, router: NginxRouter, route: SetHeaderRoute, message: str
) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=10)
    router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    before = canary(cluster.kube)
    cluster.sandbox.requests.clear()
    with pytest.raises(RouterError, match=message):
        router.set_header_route(ro, route)
    assert writes(cluster) == []
    assert canary(cluster.kube) == before


def test_a_header_route_conflicting_with_additional_annotations_is_refused(
    cluster: Cluster, router: NginxRouter
) -> None:
    ro = rollout({"additionalIngressAnnotations": {"canary-by-header": "x-beta"}})
    router.set_weight(ro, stable=S, canary=C, weight=10)
    cluster.sandbox.requests.clear()
    with pytest.raises(RouterError, match="additionalIngressAnnotations"):
        router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    assert writes(cluster) == []


def test_mirror_routes_are_refused_naming_the_router(cluster: Cluster, router: NginxRouter) -> None:
    route = SetMirrorRoute.model_validate({"name": "canary-header", "percentage": 10})
    cluster.sandbox.requests.clear()
    with pytest.raises(RouterError, match=r"nginx.*setMirrorRoute"):
        router.set_mirror_route(rollout(), route)
    assert writes(cluster) == []


def test_finalize_deletes_only_the_canary_ingress(cluster: Cluster, router: NginxRouter) -> None:
    ro = rollout()
    router.set_weight(ro, stable=S, canary=C, weight=40)
    router.set_header_route(ro, header("x-canary", {"exact": "yes"}))
    stable_before = ingress(cluster.kube, STABLE_INGRESS)
    services_before = cluster.kube.list(SERVICES, namespace=NS)[0]
    cluster.sandbox.requests.clear()
    router.finalize(ro, stable=S)
    assert writes(cluster) == [
        ("delete", f"/apis/networking.k8s.io/v1/namespaces/{NS}/ingresses/{CANARY_INGRESS}")
    ]
    with pytest.raises(NotFoundError):
        canary(cluster.kube)
    assert ingress(cluster.kube, STABLE_INGRESS) == stable_before
    assert cluster.kube.list(SERVICES, namespace=NS)[0] == services_before
    assert router.read(ro).weights is None
    cluster.sandbox.requests.clear()
    router.finalize(ro, stable=S)  # again: nothing left to do
    assert writes(cluster) == []


def test_someone_elses_ingress_with_the_canary_name_is_never_taken_over(
    cluster: Cluster, router: NginxRouter
) -> None:
    theirs = copy.deepcopy(SIMPLE_INGRESS)
    theirs["metadata"] = {"name": CANARY_INGRESS}
    cluster.kube.create(INGRESSES, theirs, namespace=NS)
    cluster.sandbox.requests.clear()
    ro = rollout()
    with pytest.raises(RouterError, match="not owned by Rollout default/app"):
        router.set_weight(ro, stable=S, canary=C, weight=10)
    with pytest.raises(RouterError, match="not owned"):
        router.read(ro)
    router.finalize(ro, stable=S)  # not ours: left alone, and the deletion is not held up
    assert writes(cluster) == []
    assert "ownerReferences" not in canary(cluster.kube)["metadata"]


def test_a_missing_stable_ingress_is_reported_before_any_write(cluster: Cluster) -> None:
    ro = rollout()
    router = NginxRouter(cluster.kube)
    cluster.sandbox.requests.clear()
    calls: list[Callable[[], object]] = [
        lambda: router.read(ro),
        lambda: router.set_weight(ro, stable=S, canary=C, weight=10),
        lambda: router.set_header_route(ro, header("x-canary", {"exact": "yes"})),
        lambda: router.remove_managed_routes(ro),
    ]
    for call in calls:
        with pytest.raises(RoutingObjectNotFoundError, match=f"Ingress default/{STABLE_INGRESS}"):
            call()
    assert writes(cluster) == []
