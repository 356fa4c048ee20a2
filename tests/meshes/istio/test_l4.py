"""The Istio router on TLS and TCP routes (by SNI hosts / port, host mode only)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from meshes.istio import (
    CANARY_REVISION,
    STABLE_REVISION,
    IstioRouter,
)
from rollout.models import Rollout
from rollout.models.traffic import SetHeaderRoute
from rollout.routing import RouterError, RoutingObjectNotFoundError
from tests.e2e.harness import Cluster
from tests.meshes import cases_istio as cases
from tests.meshes.contract import routed_rollout
from tests.meshes.istio.tools import C1, S1, Obj, header, http, make, rich, vs, weights, writes

# -- TLS and TCP routes ------------------------------------------------------------------------
TLS_HOSTS = ["app.example.com"]


def l4_rollout(kind: str, *, subset: bool = False, **want: Any) -> Rollout:
    """A host-mode Rollout managing one TLS (by sniHosts) or TCP (by port) route, no HTTP."""
    route = {"sniHosts": TLS_HOSTS, "port": 443} if kind == "tls" else {"port": 9000}
    spec = {"name": "app-vs", "routes": [], f"{kind}Routes": [{**route, **want}]}
    istio: dict[str, Any] = {"virtualService": spec}
    if subset:
        istio["destinationRule"] = {
            "name": "app-dr",
            "stableSubsetName": "stable",
            "canarySubsetName": "canary",
        }
    return routed_rollout({"istio": istio, "managedRoutes": [{"name": "canary-header"}]})


def l4_only(kind: str) -> Obj:
    """A VirtualService with TLS (or TCP) routes only: ours, and one the router must not touch."""
    port = 443 if kind == "tls" else 9000
    match: Obj = {"port": port, **({"sniHosts": TLS_HOSTS} if kind == "tls" else {})}
    other: Obj = {"port": 8443, **({"sniHosts": ["other.example.com"]} if kind == "tls" else {})}
    obj = cases.virtual_service(
        "app-vs",
        [],
        metadata={"annotations": {"note": "keep me"}},
        gateways=["mesh"],
        **{
            kind: [
                {
                    "match": [other],
                    "route": [{"destination": {"host": "legacy", "port": {"number": 8443}}}],
                },
                {
                    "match": [match],
                    "route": [
                        {"destination": {"host": "app-stable", "port": {"number": port}}},
                    ],
                },
            ]
        },
    )
    del obj["spec"]["http"]
    return obj


def l4_masked(obj: Obj, kind: str) -> Obj:
    """`obj` without the router's weights, canary destination, annotations and server fields."""
    out = copy.deepcopy(obj)
    for key in ("resourceVersion", "generation", "managedFields"):
        out["metadata"].pop(key, None)
    for key in (STABLE_REVISION, CANARY_REVISION):
        (out["metadata"].get("annotations") or {}).pop(key, None)
    ours = out["spec"][kind][1]
    ours["route"] = [{"destination": e["destination"]} for e in ours["route"][:1]]
    return out


@pytest.mark.parametrize("kind", ["tls", "tcp"])
def test_tls_or_tcp_only_virtual_service_round_trips(kube_env: Cluster, kind: str) -> None:
    make(kube_env, l4_only(kind))
    router, rollout = IstioRouter(kube_env.kube), l4_rollout(kind)
    before = vs(kube_env)
    assert router.read(rollout).weights is None
    port = 443 if kind == "tls" else 9000
    for w in (0, 20, 100):
        kube_env.sandbox.requests.clear()
        router.set_weight(rollout, stable=S1, canary=C1, weight=w)
        assert writes(kube_env) == [("update", "virtualservices", "app-vs")]
        kube_env.sandbox.requests.clear()
        router.set_weight(rollout, stable=S1, canary=C1, weight=w)  # unchanged: no write
        assert writes(kube_env) == []
        got = router.read(rollout).weights
        assert got is not None
        assert (got.stable.revision, got.stable.weight) == (S1, 100 - w)
        assert (got.canary.revision, got.canary.weight) == (C1, w)
        obj = vs(kube_env)
        assert obj["spec"][kind][1]["route"] == [
            {"destination": {"host": "app-stable", "port": {"number": port}}, "weight": 100 - w},
            {"destination": {"host": "app-canary", "port": {"number": port}}, "weight": w},
        ]
        assert "http" not in obj["spec"]
        assert l4_masked(obj, kind) == l4_masked(before, kind)
    kube_env.sandbox.requests.clear()
    router.remove_managed_routes(rollout)  # nothing of ours: no write, no `http: []`
    router.set_header_route(rollout, SetHeaderRoute(name="canary-header"))
    assert writes(kube_env) == []
    router.finalize(rollout, stable=S1)
    assert writes(kube_env) == [("update", "virtualservices", "app-vs")]
    final = vs(kube_env)
    assert weights(final["spec"][kind][1]) == [("app-stable", 100), ("app-canary", 0)]
    assert final["metadata"]["annotations"] == {"note": "keep me"}
    assert l4_masked(final, kind) == l4_masked(before, kind)


def test_tls_and_tcp_routes_follow_the_http_split_in_the_same_write(kube_env: Cluster) -> None:
    make(kube_env, rich())
    spec = {
        "name": "app-vs",
        "routes": ["primary"],
        "tlsRoutes": [{"sniHosts": TLS_HOSTS}],
        "tcpRoutes": [{"port": 9000}],
    }
    rollout = routed_rollout({"istio": {"virtualService": spec}})
    router = IstioRouter(kube_env.kube)
    router.set_weight(rollout, stable=S1, canary=C1, weight=30)
    assert writes(kube_env) == [("update", "virtualservices", "app-vs")]
    obj = vs(kube_env)
    assert weights(http(obj, "primary")) == [("app-stable", 70), ("app-canary", 30)]
    assert weights(obj["spec"]["tls"][0]) == [("app-stable", 70), ("app-canary", 30)]
    assert weights(obj["spec"]["tcp"][0]) == [("app-stable", 70), ("app-canary", 30)]
    assert weights(http(obj, "fallback")) == [("app-stable", 70), ("legacy", 30)]  # not ours
    got = router.read(rollout).weights
    assert got is not None and got.canary.weight == 30
    kube_env.sandbox.requests.clear()
    router.finalize(rollout, stable=S1)
    assert writes(kube_env) == [("update", "virtualservices", "app-vs")]
    final = vs(kube_env)
    for route in (http(final, "primary"), final["spec"]["tls"][0], final["spec"]["tcp"][0]):
        assert [w for _, w in weights(route)] == [100, 0]


@pytest.mark.parametrize(
    ("kind", "want", "message"),
    [
        ("tls", {"sniHosts": ["nope.example.com"]}, r"no TLS route matching sniHosts \['nope"),
        ("tls", {"port": 9443}, "no TLS route matching sniHosts .* port 9443"),
        ("tcp", {"port": 9001}, "no TCP route matching port 9001"),
    ],
    ids=["tls-sni", "tls-port", "tcp-port"],
)
def test_a_missing_tls_or_tcp_route_is_named_before_any_write(
    kube_env: Cluster, kind: str, want: Obj, message: str
) -> None:
    make(kube_env, l4_only(kind))
    router, rollout = IstioRouter(kube_env.kube), l4_rollout(kind, **want)
    calls: list[Callable[[], object]] = [
        lambda: router.set_weight(rollout, stable=S1, canary=C1, weight=5),
        lambda: router.read(rollout),
        lambda: router.finalize(rollout, stable=S1),
    ]
    for call in calls:
        with pytest.raises(RoutingObjectNotFoundError, match=message):
            call()
    assert writes(kube_env) == []
    vs(kube_env)


def test_tls_routes_are_refused_in_subset_mode_and_header_routes_need_http(
    kube_env: Cluster,
) -> None:
    make(kube_env, cases.destination_rule(), l4_only("tls"))
    router = IstioRouter(kube_env.kube)
    with pytest.raises(RouterError, match="not with a destinationRule"):
        router.set_weight(l4_rollout("tls", subset=True), stable=S1, canary=C1, weight=5)
    with pytest.raises(RouterError, match="need a weighted HTTP route"):
        router.set_header_route(l4_rollout("tls"), header("canary-header", x_a={"exact": "1"}))
    assert writes(kube_env) == []
