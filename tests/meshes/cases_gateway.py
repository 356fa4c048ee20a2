"""Router cases for the Gateway API and Linkerd routers (see tests/meshes/contract.py), and the
fixtures their own tests share: the user's routing objects, rich enough that anything we do
not manage being kept identical means something."""

from __future__ import annotations

import copy
import functools
from typing import Any

from meshes.gateway_api import GRPC_ROUTES, HTTP_ROUTES, GatewayAPIRouter
from meshes.linkerd import LINKERD_HTTP_ROUTES, LinkerdRouter, traffic_splits
from rollout.errors import NotFoundError
from rollout.kube import SERVICES, Kube
from rollout.kube.kinds import Kind
from rollout.models import Rollout
from rollout.models.traffic import SetHeaderRoute
from tests.meshes import upstream
from tests.meshes.contract import RouterCase, routed_rollout

Obj = dict[str, Any]
NS = "default"
GATEWAY = "gateway.networking.k8s.io"
SMI = "split.smi-spec.io"

HEADER_ROUTE = SetHeaderRoute.model_validate(
    {
        "name": "canary-header",
        "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}],
    }
)
MANAGED_ROUTES = [{"name": "canary-header"}, {"name": "beta-users"}, {"name": "mirror-some"}]

HTTP_ROUTE: Obj = {
    "apiVersion": f"{GATEWAY}/v1",
    "kind": "HTTPRoute",
    "metadata": {
        "name": "app-route",
        "labels": {"team": "web"},
        "annotations": {"owner": "web-team", "example.com/note": "keep me"},
    },
    "spec": {
        "parentRefs": [
            {"group": GATEWAY, "kind": "Gateway", "name": "edge", "sectionName": "https"}
        ],
        "hostnames": ["app.example.com"],
        "rules": [
            {  # not ours: must stay exactly as it is
                "name": "admin",
                "matches": [{"path": {"type": "PathPrefix", "value": "/admin"}}],
                "backendRefs": [{"name": "admin", "port": 8080}],
            },
            {  # the managed rule (index 1)
                "name": "main",
                "matches": [
                    {"path": {"type": "PathPrefix", "value": "/api"}, "method": "GET"},
                    {
                        "path": {"type": "Exact", "value": "/login"},
                        "headers": [{"type": "Exact", "name": "x-env", "value": "prod"}],
                    },
                ],
                "filters": [
                    {
                        "type": "RequestHeaderModifier",
                        "requestHeaderModifier": {"set": [{"name": "x-via", "value": "edge"}]},
                    }
                ],
                "timeouts": {"request": "10s", "backendRequest": "5s"},
                "backendRefs": [
                    {"group": "", "kind": "Service", "name": "app-stable", "port": 80, "weight": 1}
                ],
            },
        ],
    },
}

GRPC_ROUTE: Obj = {
    "apiVersion": f"{GATEWAY}/v1",
    "kind": "GRPCRoute",
    "metadata": {"name": "app-grpc", "annotations": {"owner": "rpc-team"}},
    "spec": {
        "parentRefs": [{"name": "edge"}],
        "hostnames": ["rpc.example.com"],
        "rules": [
            {
                "matches": [{"method": {"type": "Exact", "service": "echo.v1.Echo"}}],
                "backendRefs": [{"name": "app-stable", "port": 9000}],
            }
        ],
    },
}

LINKERD_ROUTE: Obj = {
    "apiVersion": "policy.linkerd.io/v1beta3",
    "kind": "HTTPRoute",
    "metadata": {"name": "app-route", "annotations": {"owner": "web-team"}},
    "spec": {
        "parentRefs": [{"group": "core", "kind": "Service", "name": "app", "port": 80}],
        "rules": [
            {
                "matches": [{"path": {"type": "PathPrefix", "value": "/"}}],
                "timeouts": {"request": "3s"},
                "backendRefs": [{"name": "app-stable", "port": 80, "weight": 100}],
            },
            {  # not ours, after the managed rule (index 0)
                "matches": [{"path": {"type": "Exact", "value": "/healthz"}}],
                "backendRefs": [{"name": "app-stable", "port": 80}],
            },
        ],
    },
}


def services(kube: Kube) -> None:
    for name in ("app", "app-stable", "app-canary", "admin"):
        body = {
            "apiVersion": "v1",
            "kind": "Service",
            "metadata": {"name": name},
            "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]},
        }
        kube.create(SERVICES, body, namespace=NS)


def rollout(routing: Obj, *, managed: list[Obj] | None = None) -> Rollout:
    traffic = {**routing, "managedRoutes": MANAGED_ROUTES if managed is None else managed}
    return routed_rollout(traffic, replicas=3)


def route_setup(group: str, kind: Kind, body: Obj) -> Any:
    def setup(kube: Kube) -> None:
        upstream.install(kube, group, kind.kind)
        services(kube)
        kube.create(kind, copy.deepcopy(body), namespace=NS)

    return setup


def route_objects(kind: Kind, name: str) -> Any:
    return lambda kube: [kube.get(kind, name, namespace=NS)]


def split_setup(file: str | None) -> Any:
    def setup(kube: Kube) -> None:
        upstream.install(kube, SMI, "TrafficSplit", file=file)
        services(kube)

    return setup


def split_objects(api_version: str) -> Any:
    def objects(kube: Kube) -> list[Obj]:
        try:
            return [kube.get(traffic_splits(api_version), "app-split", namespace=NS)]
        except NotFoundError:
            return []

    return objects


def smi_routing(version: str) -> Obj:
    split = {"name": "app-split", "apiVersion": f"{SMI}/{version}", "rootService": "app"}
    return {"linkerd": {"trafficSplit": split}}


HTTP_ROUTING = {"gatewayAPI": {"httpRoute": "app-route", "rule": 1}}
GRPC_ROUTING = {"gatewayAPI": {"grpcRoute": "app-grpc"}}
LINKERD_ROUTING = {"linkerd": {"httpRoute": {"name": "app-route"}}}
# Linkerd also routes by Gateway API's own HTTPRoute (its rules have names).
LINKERD_GATEWAY_ROUTING = {
    "linkerd": {"httpRoute": {"name": "app-route", "group": GATEWAY, "rule": 1}}
}

CASES: list[RouterCase] = [
    RouterCase(
        id="gateway-http",
        router=GatewayAPIRouter,
        setup=route_setup(GATEWAY, HTTP_ROUTES, HTTP_ROUTE),
        rollout=functools.partial(rollout, HTTP_ROUTING),
        objects=route_objects(HTTP_ROUTES, "app-route"),
        validate=upstream.validate,
        header_route=HEADER_ROUTE,
    ),
    RouterCase(
        id="gateway-grpc",
        router=GatewayAPIRouter,
        setup=route_setup(GATEWAY, GRPC_ROUTES, GRPC_ROUTE),
        rollout=functools.partial(rollout, GRPC_ROUTING),
        objects=route_objects(GRPC_ROUTES, "app-grpc"),
        validate=upstream.validate,
        header_route=HEADER_ROUTE,
    ),
    RouterCase(
        id="linkerd-httproute",
        router=LinkerdRouter,
        setup=route_setup("policy.linkerd.io", LINKERD_HTTP_ROUTES, LINKERD_ROUTE),
        rollout=functools.partial(rollout, LINKERD_ROUTING),
        objects=route_objects(LINKERD_HTTP_ROUTES, "app-route"),
        validate=upstream.validate,
        header_route=HEADER_ROUTE,
    ),
    RouterCase(
        id="linkerd-gateway-httproute",
        router=LinkerdRouter,
        setup=route_setup(GATEWAY, HTTP_ROUTES, HTTP_ROUTE),
        rollout=functools.partial(rollout, LINKERD_GATEWAY_ROUTING),
        objects=route_objects(HTTP_ROUTES, "app-route"),
        validate=upstream.validate,
        header_route=HEADER_ROUTE,
    ),
    RouterCase(
        id="linkerd-smi-v1alpha2",
        router=LinkerdRouter,
        # smi-sdk-go's split.yaml no longer serves v1alpha2: linkerd-smi's CRD does.
        setup=split_setup(upstream.LINKERD_SMI),
        rollout=functools.partial(rollout, smi_routing("v1alpha2")),
        objects=split_objects(f"{SMI}/v1alpha2"),
        validate=functools.partial(upstream.validate, file=upstream.LINKERD_SMI),
        header_route=None,
    ),
    RouterCase(
        id="linkerd-smi-v1alpha4",
        router=LinkerdRouter,
        setup=split_setup(None),
        rollout=functools.partial(rollout, smi_routing("v1alpha4")),
        objects=split_objects(f"{SMI}/v1alpha4"),
        validate=upstream.validate,
        header_route=None,
    ),
]
