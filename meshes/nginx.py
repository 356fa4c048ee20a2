"""The `nginx` router: ingress-nginx canary Ingresses.

What it owns: ONE canary Ingress per Rollout, `<rollout>-<stableIngress>-canary`, cloned from the
user's stable Ingress (ingressClassName, hosts, TLS, and the paths whose backend is the
stableService, pointed at the canaryService instead) and marked `<prefix>/canary: "true"` with
`<prefix>/canary-weight` (and `canary-weight-total` when `weightTotal` is not 100). It is
controlled by the Rollout (ownerReference), so deleting the Rollout deletes it too. The stable
Ingress is only ever read, never written.

Weights: ingress-nginx sends `canary-weight / canary-weight-total` of the requests matching a
canary Ingress's host and path to its backend; the rest go to the main Ingress. The revisions the
weights refer to are recorded in the annotations `rollout.dev/stable-revision` and
`rollout.dev/canary-revision`, so `read()` can report verified weights with their revisions.

Header routes: ingress-nginx has one header rule per canary Ingress (`canary-by-header` with
`canary-by-header-value` for an exact match or `canary-by-header-pattern` for a regex), so this
router supports one managed header route at a time with one exact or regex header match; the
route's name is kept in `rollout.dev/header-route`. Prefix matches, several matches and mirror
routes are refused (RouterError) before anything is written.

Cookie routing: ingress-nginx's `canary-by-cookie` (requests with the cookie set to `always` go
to the canary, `never` to stable) has no step kind; give it through
`additionalIngressAnnotations: {canary-by-cookie: my-cookie}`. Those annotations are added to
the canary Ingress as given (keys without a `/` get the annotation prefix).
"""

from __future__ import annotations

import contextlib
import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import ClassVar

from rollout import labels
from rollout.errors import NotFoundError
from rollout.kube import Kind, Kube
from rollout.kube.client import Obj
from rollout.models import RevisionWeight, Rollout, TrafficWeights
from rollout.models.traffic import NginxRouting, SetHeaderRoute, SetMirrorRoute
from rollout.routing import (
    CANARY_SCALE,
    HEADER_ROUTE,
    RouterError,
    RouterState,
    RoutingObjectNotFoundError,
)

INGRESSES = Kind("networking.k8s.io", "v1", "ingresses", "Ingress")

STABLE_REVISION = "rollout.dev/stable-revision"
CANARY_REVISION = "rollout.dev/canary-revision"
HEADER_ROUTE_NAME = "rollout.dev/header-route"
# The pre-IngressClass way of choosing a controller: without it on the canary too, a stable
# Ingress that selects its controller this way would have a canary no controller picks up.
INGRESS_CLASS = "kubernetes.io/ingress.class"
_HEADER_KEYS = ("canary-by-header", "canary-by-header-value", "canary-by-header-pattern")


@dataclass(frozen=True)
class _Setup:
    """What one Rollout's spec says about its nginx routing."""

    namespace: str
    nginx: NginxRouting
    stable_service: str
    canary_service: str
    canary_name: str

    def key(self, suffix: str) -> str:
        return f"{self.nginx.annotation_prefix}/{suffix}"


@dataclass(frozen=True)
class _Wanted:
    """What the canary Ingress should say, apart from what the stable Ingress dictates."""

    weight: int
    stable: str | None = None
    canary: str | None = None
    header: dict[str, str] | None = None
    """The managed header route's annotations (name included), or None."""


# Built-in queries for the analysis gates (string.Template: $namespace, $ingress = the
# canary Ingress, $interval; PromQL's own braces stay as they are). Counts first:
# statistics are computed from counts, not from ratios.
QUERIES: Mapping[str, str] = {
    "request-count": 'sum(increase(nginx_ingress_controller_requests{namespace="$namespace",'
    'ingress="$ingress",canary!=""}[$interval]))',
    "error-count": 'sum(increase(nginx_ingress_controller_requests{namespace="$namespace",'
    'ingress="$ingress",canary!="",status=~"5.."}[$interval]))',
    # ingress-nginx exports no per-canary histogram: this is a mean, not a percentile.
    "request-duration-mean-ms": "sum(rate(nginx_ingress_controller_response_duration_seconds_sum{"
    'namespace="$namespace",ingress="$ingress",canary!=""}[$interval])) / sum(rate('
    'nginx_ingress_controller_response_duration_seconds_count{namespace="$namespace",'
    'ingress="$ingress",canary!=""}[$interval])) * 1000',
}


class NginxRouter:
    name: ClassVar[str] = "nginx"
    exact_weights: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[str]] = frozenset({HEADER_ROUTE, CANARY_SCALE})
    queries: ClassVar[Mapping[str, str]] = QUERIES

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    # -- the protocol ----------------------------------------------------------------------
    def read(self, rollout: Rollout) -> RouterState:
        setup = _setup(rollout)
        self._stable_ingress(setup)
        canary = self._canary_ingress(setup, rollout)
        if canary is None:
            return RouterState()
        wanted = _wanted_from(setup, canary)
        weights = None
        if wanted is not None and wanted.stable and wanted.canary:
            weights = TrafficWeights(
                stable=RevisionWeight(revision=wanted.stable, weight=100 - wanted.weight),
                canary=RevisionWeight(revision=wanted.canary, weight=wanted.weight),
            )
        header = wanted.header if wanted is not None else None
        names = frozenset({header[HEADER_ROUTE_NAME]}) if header else frozenset[str]()
        return RouterState(weights=weights, header_routes=names)

    def set_weight(self, rollout: Rollout, *, stable: str, canary: str, weight: int) -> None:
        setup = _setup(rollout)
        total = setup.nginx.weight_total
        if _to_percent(_scaled(weight, total), total) != weight:
            raise RouterError(
                f"nginx: {weight}% cannot be expressed as a canary-weight out of "
                f"weightTotal {total}",
                hint="use a weightTotal of at least 100 (for example 100 or 1000)",
            )

        def change(current: _Wanted | None) -> _Wanted:
            header = current.header if current is not None else None
            return _Wanted(weight=weight, stable=stable, canary=canary, header=header)

        self._write(rollout, setup, change)

    def set_header_route(self, rollout: Rollout, route: SetHeaderRoute) -> None:
        setup = _setup(rollout)
        if not route.match:
            self._remove_header(rollout, setup, route.name)
            return
        header = _header_annotations(setup, route)

        def change(current: _Wanted | None) -> _Wanted:
            base = current or _Wanted(weight=0)
            present = base.header[HEADER_ROUTE_NAME] if base.header else None
            if present is not None and present != route.name:
                raise RouterError(
                    f"nginx: header route {present!r} is already set; ingress-nginx allows one "
                    f"header rule per canary Ingress, so {route.name!r} cannot be added",
                    hint="remove the first header route (setHeaderRoute without match) first",
                )
            return _Wanted(base.weight, base.stable, base.canary, header)

        self._write(rollout, setup, change)

    def set_mirror_route(self, rollout: Rollout, route: SetMirrorRoute) -> None:
        # ingress-nginx's `mirror-target` mirrors every request of an Ingress, with no
        # percentage and no match, and a canary Ingress ignores it: nothing to build on.
        raise RouterError(f"the nginx router does not support setMirrorRoute ({route.name!r})")

    def remove_managed_routes(self, rollout: Rollout) -> None:
        self._remove_header(rollout, _setup(rollout), None)

    def finalize(self, rollout: Rollout, *, stable: str) -> None:
        # Without the canary Ingress every request goes to the stable Ingress's backends: that
        # is 100% to stable, and removes the header route with it. Nothing else is ours.
        # Someone else's Ingress under that name is left alone, without an error: raising here
        # would hold the Rollout's deletion forever over an object that was never ours.
        setup = _setup(rollout)
        try:
            obj = self._kube.get(INGRESSES, setup.canary_name, namespace=setup.namespace)
        except NotFoundError:
            return
        if not _owned(obj, rollout):
            return
        with contextlib.suppress(NotFoundError):  # gone meanwhile: what we wanted
            self._kube.delete(INGRESSES, setup.canary_name, namespace=setup.namespace)

    # -- plumbing --------------------------------------------------------------------------
    def _remove_header(self, rollout: Rollout, setup: _Setup, name: str | None) -> None:
        """Remove the header route (`name`, or whichever is set); nothing set: no write."""

        def change(now: _Wanted | None) -> _Wanted | None:
            if now is None or now.header is None:
                return None
            if name is not None and now.header[HEADER_ROUTE_NAME] != name:
                return None  # another route is set; removing this one changes nothing
            return _Wanted(now.weight, now.stable, now.canary, None)

        self._write(rollout, setup, change)

    def _write(
        self,
        rollout: Rollout,
        setup: _Setup,
        change: Callable[[_Wanted | None], _Wanted | None],
    ) -> None:
        """Read both Ingresses, work out the canary Ingress (`change` returns None: leave it
        as it is), and write it once if it differs."""
        stable = self._stable_ingress(setup)
        existing = self._canary_ingress(setup, rollout)
        wanted = change(_wanted_from(setup, existing) if existing is not None else None)
        if wanted is None:
            return
        desired = _canary_ingress(rollout, setup, stable, wanted)
        if existing is None:
            self._kube.create(INGRESSES, desired, namespace=setup.namespace)
            return
        body = copy.deepcopy(existing)
        meta = body["metadata"]
        meta["annotations"] = desired["metadata"]["annotations"]
        meta["labels"] = {**(meta.get("labels") or {}), **desired["metadata"]["labels"]}
        meta["ownerReferences"] = desired["metadata"]["ownerReferences"]
        body["spec"] = desired["spec"]
        if body == existing:
            return  # already so: no write at all
        # A PUT carrying the resourceVersion we read: a 409 means someone wrote in between,
        # and the reconciler re-reads and decides again (no retry or merge here).
        self._kube.replace(INGRESSES, body, namespace=setup.namespace)

    def _stable_ingress(self, setup: _Setup) -> Obj:
        name = setup.nginx.stable_ingress
        try:
            return self._kube.get(INGRESSES, name, namespace=setup.namespace)
        except NotFoundError:
            raise RoutingObjectNotFoundError(
                f"Ingress {setup.namespace}/{name} not found",
                hint="create it, or fix trafficRouting.nginx.stableIngress",
            ) from None

    def _canary_ingress(self, setup: _Setup, rollout: Rollout) -> Obj | None:
        try:
            obj = self._kube.get(INGRESSES, setup.canary_name, namespace=setup.namespace)
        except NotFoundError:
            return None
        if not _owned(obj, rollout):
            # Someone else's Ingress has the name we would use: never take it over or delete it.
            raise RouterError(
                f"Ingress {setup.namespace}/{setup.canary_name} exists and is not owned by "
                f"Rollout {rollout.key}",
                hint="rename or delete that Ingress; the controller creates it itself",
            )
        return obj


def _setup(rollout: Rollout) -> _Setup:
    strategy = rollout.spec.strategy
    routing = strategy.traffic_routing
    if routing is None or routing.nginx is None:
        raise RouterError(f"Rollout {rollout.key} has no trafficRouting.nginx")
    stable, canary = strategy.stable_service, strategy.canary_service
    if not (stable and canary):
        raise RouterError("nginx: trafficRouting needs stableService and canaryService")
    nginx = routing.nginx
    return _Setup(
        namespace=rollout.metadata.namespace or "default",
        nginx=nginx,
        stable_service=stable,
        canary_service=canary,
        canary_name=f"{rollout.metadata.name}-{nginx.stable_ingress}-canary",
    )


def _owned(obj: Obj, rollout: Rollout) -> bool:
    owners = obj.get("metadata", {}).get("ownerReferences") or []
    return any(o.get("uid") == rollout.metadata.uid for o in owners)


def _scaled(weight: int, total: int) -> int:
    """`weight`% as a canary-weight out of `total`, to the nearest integer."""
    return (2 * weight * total + 100) // 200


def _to_percent(scaled: int, total: int) -> int:
    return (200 * scaled + total) // (2 * total)


def _header_annotations(setup: _Setup, route: SetHeaderRoute) -> dict[str, str]:
    if len(route.match) != 1:
        raise RouterError(
            f"nginx: header route {route.name!r} has {len(route.match)} header matches; "
            "ingress-nginx matches one header per canary Ingress (canary-by-header)"
        )
    (match,) = route.match
    value = match.header_value
    annotations = {HEADER_ROUTE_NAME: route.name, setup.key("canary-by-header"): match.header_name}
    if value.exact is not None:
        annotations[setup.key("canary-by-header-value")] = value.exact
    elif value.regex is not None:
        annotations[setup.key("canary-by-header-pattern")] = value.regex
    else:
        raise RouterError(
            f"nginx cannot match a header prefix (header route {route.name!r}); "
            "use exact or regex (canary-by-header-value / canary-by-header-pattern)"
        )
    if any(k in _additional(setup) for k in annotations):
        raise RouterError(
            f"nginx: header route {route.name!r} conflicts with canary-by-header given in "
            "additionalIngressAnnotations (one header rule per canary Ingress)"
        )
    return annotations


def _additional(setup: _Setup) -> dict[str, str]:
    return {
        (k if "/" in k else setup.key(k)): v
        for k, v in setup.nginx.additional_ingress_annotations.items()
    }


def _wanted_from(setup: _Setup, canary: Obj) -> _Wanted | None:
    """What the canary Ingress says now; None when its weight annotation is unreadable."""
    annotations: dict[str, str] = canary.get("metadata", {}).get("annotations") or {}
    try:
        total = int(annotations.get(setup.key("canary-weight-total"), "100"))
        scaled = int(annotations[setup.key("canary-weight")])
    except (KeyError, ValueError):
        return None
    if total < 1 or not 0 <= scaled <= total:
        return None
    header = None
    if HEADER_ROUTE_NAME in annotations:
        keys = [HEADER_ROUTE_NAME, *(setup.key(k) for k in _HEADER_KEYS)]
        header = {k: annotations[k] for k in keys if k in annotations}
    return _Wanted(
        weight=_to_percent(scaled, total),
        stable=annotations.get(STABLE_REVISION),
        canary=annotations.get(CANARY_REVISION),
        header=header,
    )


def _canary_ingress(rollout: Rollout, setup: _Setup, stable: Obj, wanted: _Wanted) -> Obj:
    """The whole canary Ingress as it should be, cloned from the stable Ingress."""
    spec = stable.get("spec") or {}
    rules = []
    for rule in spec.get("rules") or []:
        paths = []
        for path in (rule.get("http") or {}).get("paths") or []:
            service = (path.get("backend") or {}).get("service") or {}
            if service.get("name") != setup.stable_service:
                # Paths to other backends are left to the stable Ingress alone: cloning them
                # would put this Rollout's weight and header rule on another service's traffic
                # (and ingress-nginx allows only one canary per host and path).
                continue
            clone = copy.deepcopy(path)
            clone["backend"]["service"]["name"] = setup.canary_service
            paths.append(clone)
        if paths:
            rules.append({**copy.deepcopy(rule), "http": {"paths": paths}})
    if not rules:
        raise RouterError(
            f"nginx: Ingress {setup.namespace}/{setup.nginx.stable_ingress} does not route to "
            f"stableService {setup.stable_service!r} in any rule, so there is nothing to canary",
            hint="point a path's backend.service.name at the stableService",
        )
    canary_spec: Obj = {"rules": rules}
    if spec.get("ingressClassName"):
        canary_spec["ingressClassName"] = spec["ingressClassName"]
    if spec.get("tls"):
        canary_spec["tls"] = copy.deepcopy(spec["tls"])
    # None of the stable Ingress's own `<prefix>/*` annotations are copied: ingress-nginx
    # applies the main Ingress's configuration to the canary's traffic and ignores most of them
    # on a canary, and the few it does read there (affinity, load-balance, upstream-hash-by)
    # would then differ between the two. Only the ingress class has to match.
    annotations: dict[str, str] = {}
    stable_annotations = (stable.get("metadata") or {}).get("annotations") or {}
    if INGRESS_CLASS in stable_annotations:
        annotations[INGRESS_CLASS] = stable_annotations[INGRESS_CLASS]
    annotations.update(_additional(setup))
    total = setup.nginx.weight_total
    annotations[setup.key("canary")] = "true"
    annotations[setup.key("canary-weight")] = str(_scaled(wanted.weight, total))
    if total != 100:
        annotations[setup.key("canary-weight-total")] = str(total)
    if wanted.stable:
        annotations[STABLE_REVISION] = wanted.stable
    if wanted.canary:
        annotations[CANARY_REVISION] = wanted.canary
    annotations.update(wanted.header or {})
    return {
        "apiVersion": INGRESSES.api_version,
        "kind": INGRESSES.kind,
        "metadata": {
            "name": setup.canary_name,
            "namespace": setup.namespace,
            "labels": {labels.NAME: rollout.metadata.name},
            "annotations": annotations,
            "ownerReferences": [rollout.owner_reference()],
        },
        "spec": canary_spec,
    }
