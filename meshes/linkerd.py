"""The `linkerd` router: HTTPRoute backendRef weights, or an SMI TrafficSplit it owns.

With `httpRoute`, it edits one rule of the user's HTTPRoute (policy.linkerd.io/v1beta3, or
gateway.networking.k8s.io/v1 when `group` says so) through rollout/gateway_routes.py, exactly
as the Gateway API router does (a baseline included: a third backendRef). Header routes work;
mirror routes do not (Linkerd's HTTPRoute has no RequestMirror filter, and Linkerd ignores it on
Gateway API routes).

With `trafficSplit` (older installs running linkerd-smi), it creates and owns a TrafficSplit
named in the spec: `spec.service` is the rootService, and two backends (stable, canary; a
third, the baselineService, while a baseline takes traffic) carry integer weights that sum to
100. The object is labelled with the Rollout's name and has the
Rollout as its controlling owner, so deleting the Rollout deletes it too; `finalize` deletes
it at once. A TrafficSplit cannot match headers, so header and mirror routes are refused.
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Mapping
from typing import Any, ClassVar

from rollout import labels
from rollout.errors import NotFoundError
from rollout.gateway_routes import (
    BASELINE_REVISION,
    CANARY_REVISION,
    STABLE_REVISION,
    GatewayRoutes,
    RouteTarget,
)
from rollout.kube import SERVICES, Kube
from rollout.kube.kinds import Kind
from rollout.models import RevisionWeight, Rollout, TrafficWeights
from rollout.models.traffic import LinkerdRouting, SetHeaderRoute, SetMirrorRoute, SMITrafficSplit
from rollout.routing import (
    BASELINE,
    CANARY_SCALE,
    HEADER_ROUTE,
    RouterError,
    RouterState,
    RoutingObjectNotFoundError,
    read_back,
)

Obj = dict[str, Any]

LINKERD_HTTP_ROUTES = Kind("policy.linkerd.io", "v1beta3", "httproutes", "HTTPRoute")
GATEWAY_HTTP_ROUTES = Kind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")


def traffic_splits(api_version: str) -> Kind:
    group, _, version = api_version.rpartition("/")
    return Kind(group, version, "trafficsplits", "TrafficSplit")


# Built-in queries for the analysis gates (string.Template: $namespace, $workload = the
# revision's Deployment, $interval; PromQL's own braces stay as they are). Counts first:
# statistics are computed from counts, not from ratios.
QUERIES: Mapping[str, str] = {
    "request-count": 'sum(increase(response_total{namespace="$namespace",'
    'deployment="$workload",direction="inbound"}[$interval]))',
    "error-count": 'sum(increase(response_total{namespace="$namespace",'
    'deployment="$workload",direction="inbound",classification="failure"}[$interval]))',
    "request-duration-p99-ms": "histogram_quantile(0.99, sum(rate(response_latency_ms_bucket{"
    'namespace="$namespace",deployment="$workload",direction="inbound"}[$interval])) by (le))',
}


class LinkerdRouter:
    name: ClassVar[str] = "linkerd"
    exact_weights: ClassVar[bool] = True
    # Header routes only with httpRoute: with trafficSplit, set_header_route raises RouterError.
    capabilities: ClassVar[frozenset[str]] = frozenset({HEADER_ROUTE, CANARY_SCALE, BASELINE})
    queries: ClassVar[Mapping[str, str]] = QUERIES

    def __init__(self, kube: Kube) -> None:
        self._kube = kube
        self._routes = GatewayRoutes(kube)

    def read(self, rollout: Rollout) -> RouterState:
        split = _spec(rollout).traffic_split
        if split is None:
            return self._routes.read(_route(rollout))
        current = self._get_split(rollout, split)
        if current is None:
            return RouterState()  # not created yet (or finalized): we have set no weights
        return RouterState(weights=_split_weights(current, rollout))

    def set_weight(
        self,
        rollout: Rollout,
        *,
        stable: str,
        canary: str,
        weight: int,
        baseline: RevisionWeight | None = None,
    ) -> None:
        split = _spec(rollout).traffic_split
        if split is None:
            self._routes.set_weight(
                _route(rollout), stable=stable, canary=canary, weight=weight, baseline=baseline
            )
            return
        kind, namespace = traffic_splits(split.api_version), _namespace(rollout)
        current = self._get_split(rollout, split)
        if current is None:
            self._check_root_service(rollout, split)
            body = _new_split(rollout, split)
            _apply(body, rollout, stable=stable, canary=canary, weight=weight, baseline=baseline)
            self._kube.create(kind, body, namespace=namespace)
            return
        _check_owned(current, rollout)
        body = copy.deepcopy(current)
        _apply(body, rollout, stable=stable, canary=canary, weight=weight, baseline=baseline)
        if body != current:
            self._kube.replace(kind, body, namespace=namespace)

    def set_header_route(self, rollout: Rollout, route: SetHeaderRoute) -> None:
        if _spec(rollout).traffic_split is not None:
            raise RouterError(
                "linkerd with an SMI TrafficSplit cannot route by header",
                hint="use trafficRouting.linkerd.httpRoute for header routes",
            )
        self._routes.set_header_route(_route(rollout), route)

    def set_mirror_route(self, rollout: Rollout, route: SetMirrorRoute) -> None:
        raise RouterError(
            "linkerd does not support mirror routes (no RequestMirror filter)",
            hint="remove the setMirrorRoute step, or use a router that mirrors (istio, gatewayAPI)",
        )

    def remove_managed_routes(self, rollout: Rollout) -> None:
        if _spec(rollout).traffic_split is None:
            self._routes.remove_managed_routes(_route(rollout))

    def finalize(self, rollout: Rollout, *, stable: str) -> None:
        split = _spec(rollout).traffic_split
        if split is None:
            self._routes.finalize(_route(rollout))
            return
        current = self._get_split(rollout, split)
        if current is None:
            return
        _check_owned(current, rollout)
        # Without its TrafficSplit, Linkerd sends the root Service's traffic to the root
        # Service's own endpoints, as it did before the Rollout existed.
        kind = traffic_splits(split.api_version)
        # NotFound: deleted meanwhile (the owner's garbage collection, or a user).
        with contextlib.suppress(NotFoundError):
            self._kube.delete(kind, split.name, namespace=_namespace(rollout))

    # -- TrafficSplit plumbing -------------------------------------------------------------
    def _get_split(self, rollout: Rollout, split: SMITrafficSplit) -> Obj | None:
        kind = traffic_splits(split.api_version)
        try:
            return self._kube.get(kind, split.name, namespace=_namespace(rollout))
        except NotFoundError:
            return None

    def _check_root_service(self, rollout: Rollout, split: SMITrafficSplit) -> None:
        try:
            self._kube.get(SERVICES, split.root_service, namespace=_namespace(rollout))
        except NotFoundError:
            raise RoutingObjectNotFoundError(
                f"Service {_namespace(rollout)}/{split.root_service} (the TrafficSplit's "
                "rootService) not found",
                hint="create it, or fix trafficRouting.linkerd.trafficSplit.rootService",
            ) from None


def _spec(rollout: Rollout) -> LinkerdRouting:
    strategy = rollout.spec.strategy
    routing = strategy.traffic_routing
    if routing is None or routing.linkerd is None:
        raise RouterError(f"the linkerd router needs {strategy.field}.trafficRouting.linkerd")
    return routing.linkerd


def _namespace(rollout: Rollout) -> str:
    return rollout.metadata.namespace or "default"


def _services(rollout: Rollout) -> tuple[str, str]:
    stable, canary = rollout.spec.strategy.stable_service, rollout.spec.strategy.canary_service
    if not stable or not canary:
        raise RouterError(
            "the linkerd router needs stableService and canaryService",
            hint="name the two Services that traffic is split between",
        )
    return stable, canary


def _route(rollout: Rollout) -> RouteTarget:
    spec = _spec(rollout).http_route
    assert spec is not None  # validated: exactly one of httpRoute and trafficSplit
    stable, canary = _services(rollout)
    gateway = spec.group == "gateway.networking.k8s.io"
    routing = rollout.spec.strategy.traffic_routing
    return RouteTarget(
        kind=GATEWAY_HTTP_ROUTES if gateway else LINKERD_HTTP_ROUTES,
        name=spec.name,
        namespace=_namespace(rollout),
        rule=spec.rule,
        stable_service=stable,
        canary_service=canary,
        managed_routes=tuple(r.name for r in routing.managed_routes) if routing else (),
        baseline_service=rollout.spec.strategy.baseline_service,
        http=True,
        named_rules=gateway,  # policy.linkerd.io/v1beta3 rules have no `name`
    )


def _new_split(rollout: Rollout, split: SMITrafficSplit) -> Obj:
    owner = rollout.owner_reference()
    return {
        "apiVersion": split.api_version,
        "kind": "TrafficSplit",
        "metadata": {
            "name": split.name,
            "labels": {labels.NAME: rollout.metadata.name},
            "ownerReferences": [owner],
        },
        "spec": {"service": split.root_service, "backends": []},
    }


def _apply(
    body: Obj,
    rollout: Rollout,
    *,
    stable: str,
    canary: str,
    weight: int,
    baseline: RevisionWeight | None,
) -> None:
    stable_svc, canary_svc = _services(rollout)
    share = 0 if baseline is None else baseline.weight
    annotations = body["metadata"].setdefault("annotations", {})
    annotations[STABLE_REVISION] = stable
    annotations[CANARY_REVISION] = canary
    backends = [
        {"service": stable_svc, "weight": 100 - weight - share},
        {"service": canary_svc, "weight": weight},
    ]
    twin = rollout.spec.strategy.baseline_service
    if baseline is not None and share and twin:
        annotations[BASELINE_REVISION] = baseline.revision
        backends.append({"service": twin, "weight": share})
    else:
        annotations.pop(BASELINE_REVISION, None)
    body["spec"]["backends"] = backends


def _check_owned(split: Obj, rollout: Rollout) -> None:
    owners = split.get("metadata", {}).get("ownerReferences") or []
    if not any(o.get("kind") == "Rollout" and o.get("uid") == rollout.metadata.uid for o in owners):
        name = split["metadata"]["name"]
        raise RouterError(
            f"TrafficSplit {_namespace(rollout)}/{name} exists and is not owned by this Rollout",
            hint="delete it or choose another trafficSplit name; the controller creates its own",
        )


def _split_weights(split: Obj, rollout: Rollout) -> TrafficWeights | None:
    annotations = split.get("metadata", {}).get("annotations") or {}
    stable_rev, canary_rev = annotations.get(STABLE_REVISION), annotations.get(CANARY_REVISION)
    if not stable_rev or not canary_rev:
        return None
    stable_svc, canary_svc = _services(rollout)
    twin, baseline_rev = rollout.spec.strategy.baseline_service, annotations.get(BASELINE_REVISION)
    weights = {
        b.get("service"): int(b.get("weight") or 0) for b in split["spec"].get("backends") or []
    }
    twin_weight = weights.get(twin, 0) if twin else 0
    total = weights.get(stable_svc, 0) + weights.get(canary_svc, 0) + twin_weight
    canary = round(100 * weights.get(canary_svc, 0) / total) if total else 0
    baseline = round(100 * twin_weight / total) if total else 0
    return read_back(stable_rev, canary_rev, baseline_rev, canary_pct=canary, baseline_pct=baseline)
