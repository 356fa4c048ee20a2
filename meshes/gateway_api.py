"""The `gatewayAPI` router: weights on one rule of a Gateway API HTTPRoute or GRPCRoute.

Owns nothing but what rollout/gateway_routes.py edits on the user's route (the stable, canary
and baseline backendRef weights of the rule at `rule`, the header and mirror rules it adds, and its
annotations). Both kinds are `gateway.networking.k8s.io/v1`; in the v1.6 schemas both have
rule names, header matches (Exact / RegularExpression) and the RequestMirror filter with
`percent`, so header and mirror routes work on both.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rollout.gateway_routes import GatewayRoutes, RouteTarget
from rollout.kube import Kube
from rollout.kube.kinds import Kind
from rollout.models import RevisionWeight, Rollout
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from rollout.routing import (
    BASELINE,
    CANARY_SCALE,
    HEADER_ROUTE,
    MIRROR_ROUTE,
    RouterError,
    RouterState,
)

HTTP_ROUTES = Kind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")
GRPC_ROUTES = Kind("gateway.networking.k8s.io", "v1", "grpcroutes", "GRPCRoute")


# Gateway API defines no metrics: each implementation (Envoy Gateway, Istio, Cilium ...) exports
# its own, so there are no built-in queries; analysis templates name their own.
QUERIES: Mapping[str, str] = {}


class GatewayAPIRouter:
    name: ClassVar[str] = "gatewayAPI"
    exact_weights: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {HEADER_ROUTE, MIRROR_ROUTE, CANARY_SCALE, BASELINE}
    )
    queries: ClassVar[Mapping[str, str]] = QUERIES

    def __init__(self, kube: Kube) -> None:
        self._routes = GatewayRoutes(kube)

    def read(self, rollout: Rollout) -> RouterState:
        return self._routes.read(target(rollout))

    def set_weight(
        self,
        rollout: Rollout,
        *,
        stable: str,
        canary: str,
        weight: int,
        baseline: RevisionWeight | None = None,
    ) -> None:
        self._routes.set_weight(
            target(rollout), stable=stable, canary=canary, weight=weight, baseline=baseline
        )

    def set_header_route(self, rollout: Rollout, route: SetHeaderRoute) -> None:
        self._routes.set_header_route(target(rollout), route)

    def set_mirror_route(self, rollout: Rollout, route: SetMirrorRoute) -> None:
        self._routes.set_mirror_route(target(rollout), route)

    def remove_managed_routes(self, rollout: Rollout) -> None:
        self._routes.remove_managed_routes(target(rollout))

    def finalize(self, rollout: Rollout, *, stable: str) -> None:
        # `stable` is already behind the stable Service; finalize only has to weigh it 100%.
        self._routes.finalize(target(rollout))


def target(rollout: Rollout) -> RouteTarget:
    """The route rule this Rollout's spec names."""
    strategy = rollout.spec.strategy
    routing = strategy.traffic_routing
    spec = routing.gateway_api if routing else None
    stable, canary = strategy.stable_service, strategy.canary_service
    if routing is None or spec is None:
        raise RouterError(f"the gatewayAPI router needs {strategy.field}.trafficRouting.gatewayAPI")
    if not stable or not canary:
        raise RouterError(
            "the gatewayAPI router needs stableService and canaryService",
            hint="name the two Services the route's backendRefs point at",
        )
    http = spec.http_route is not None
    return RouteTarget(
        kind=HTTP_ROUTES if http else GRPC_ROUTES,
        name=spec.http_route or spec.grpc_route or "",
        namespace=rollout.metadata.namespace or "default",
        rule=spec.rule,
        stable_service=stable,
        canary_service=canary,
        managed_routes=tuple(r.name for r in routing.managed_routes),
        baseline_service=strategy.baseline_service,
        http=http,
        named_rules=True,
    )
