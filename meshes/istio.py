"""The `istio` router: canary weights as VirtualService HTTP-route destination weights.

What it owns, and nothing else:
- in each configured VirtualService, the `weight` of the stable and canary destinations of the
  managed HTTP routes (those named in `routes`, or the single unnamed-by-us route) and, in host
  mode, of the TLS/TCP routes named in `tlsRoutes` / `tcpRoutes` (meshes/istio_l4.py), plus the
  canary destination itself when the user left it out;
- the HTTP routes named in `trafficRouting.managedRoutes` (header and mirror routes);
- host mode: two annotations recording which revisions the weights point at (the VS names
  Services, not revisions, so read() could not otherwise tell what it verified), three with
  a baseline (the baselineService's destination, added beside the canary's when it carries
  weight; in subset mode the baseline subset's destination);
- subset mode (`destinationRule`): the revision-hash label of the two subsets (three with a
  baseline: `baselineSubsetName`, pinned when it carries weight).

Two ways to tell the revisions apart, as in Argo Rollouts:
- host: destinations whose `host` is stableService / canaryService (short or FQDN forms);
- subset: destinations with `subset` stableSubsetName / canarySubsetName; the DestinationRule's
  subsets are pinned to the revision hashes BEFORE the weights are written (DESIGN §4).
Every write is a PUT of what was just read (resourceVersion-guarded) and only when something
changed; a 409 propagates as ConflictError for the reconciler to re-read and decide again.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from meshes.istio_l4 import l4_routes
from rollout import labels
from rollout.errors import NotFoundError
from rollout.kube import Kind, Kube
from rollout.models import RevisionWeight, Rollout, TrafficWeights
from rollout.models.traffic import (
    HeaderMatch,
    IstioRouting,
    IstioVirtualService,
    SetHeaderRoute,
    SetMirrorRoute,
)
from rollout.routing import (
    BASELINE,
    CANARY_SCALE,
    HEADER_ROUTE,
    MIRROR_ROUTE,
    RouterError,
    RouterState,
    RoutingObjectNotFoundError,
)

Obj = dict[str, Any]

VIRTUAL_SERVICES = Kind("networking.istio.io", "v1", "virtualservices", "VirtualService")
DESTINATION_RULES = Kind("networking.istio.io", "v1", "destinationrules", "DestinationRule")
STABLE_REVISION = "rollout.dev/stable-revision"
"""Host mode, on each VirtualService: the revision the stable weight was set for."""
CANARY_REVISION = "rollout.dev/canary-revision"
"""Host mode, on each VirtualService: the revision the canary weight was set for."""
BASELINE_REVISION = "rollout.dev/baseline-revision"
"""Host mode with a baseline taking traffic: the revision behind the baselineService."""


def _fqdn(host: str, namespace: str) -> str:
    """Istio resolves short names in the VirtualService's namespace; compare fully qualified."""
    parts = host.split(".")
    if len(parts) == 1:
        return f"{host}.{namespace}.svc.cluster.local"
    if len(parts) == 2:
        return f"{host}.svc.cluster.local"
    if len(parts) == 3 and parts[2] == "svc":
        return f"{host}.cluster.local"
    return host


@dataclass(frozen=True)
class _Sides:
    """Which destinations are stable and which canary, in host or subset mode."""

    namespace: str
    stable_host: str | None = None  # host mode
    canary_host: str | None = None
    dr_host: str | None = None  # subset mode
    stable_subset: str | None = None
    canary_subset: str | None = None
    baseline_host: str | None = None  # with a baseline: host mode
    baseline_subset: str | None = None  # subset mode

    def _is(self, dest: Obj, host: str | None, subset: str | None) -> bool:
        ns = self.namespace
        if subset is not None:
            same = self.dr_host is None or _fqdn(str(dest.get("host", "")), ns) == _fqdn(
                self.dr_host, ns
            )
            return same and dest.get("subset") == subset
        return host is not None and _fqdn(str(dest.get("host", "")), ns) == _fqdn(host, ns)

    def is_stable(self, dest: Obj) -> bool:
        return self._is(dest, self.stable_host, self.stable_subset)

    def is_canary(self, dest: Obj) -> bool:
        return self._is(dest, self.canary_host, self.canary_subset)

    def is_baseline(self, dest: Obj) -> bool:
        if self.baseline_host is None and self.baseline_subset is None:
            return False
        return self._is(dest, self.baseline_host, self.baseline_subset)

    def canary_like(self, stable: Obj, *, baseline: bool = False) -> Obj:
        """A canary (or baseline) destination shaped like the stable one (same port, same
        host form)."""
        dest = copy.deepcopy(stable)
        if self.canary_subset is not None:
            dest["subset"] = self.baseline_subset if baseline else self.canary_subset
        else:
            other = self.baseline_host if baseline else self.canary_host
            assert self.stable_host and other
            host = str(stable["host"])
            # Keep the user's host form: `stable.ns.svc.cluster.local` -> `canary.ns.svc...`
            prefix = self.stable_host + "."
            dest["host"] = other + "." + host[len(prefix) :] if host.startswith(prefix) else other
        return dest


def _dests(route: Obj) -> list[Obj]:
    return list(route.get("route") or [])


def _weight(entry: Obj, route: Obj) -> int:
    # Istio: a lone destination without a weight gets all the traffic.
    return int(entry.get("weight", 100 if len(_dests(route)) == 1 else 0))


def _header_match(match: list[HeaderMatch]) -> list[Obj]:
    # One match block with several headers = all must match (Istio ANDs within a block).
    # Istio requires lower-case header keys.
    headers = {m.header_name.lower(): m.header_value.to_dict() for m in match}
    return [{"headers": headers}]


# Built-in queries for the analysis gates (string.Template: $namespace, $workload = the
# revision's Deployment, $interval; PromQL's own braces stay as they are). Counts first:
# statistics are computed from counts, not from ratios.
QUERIES: Mapping[str, str] = {
    "request-count": 'sum(increase(istio_requests_total{reporter="destination",'
    'destination_workload_namespace="$namespace",destination_workload="$workload"}[$interval]))',
    "error-count": 'sum(increase(istio_requests_total{reporter="destination",'
    'destination_workload_namespace="$namespace",destination_workload="$workload",'
    'response_code=~"5.."}[$interval]))',
    "request-duration-p99-ms": "histogram_quantile(0.99, sum(rate("
    'istio_request_duration_milliseconds_bucket{reporter="destination",'
    'destination_workload_namespace="$namespace",destination_workload="$workload"}'
    "[$interval])) by (le))",
}


class IstioRouter:
    name: ClassVar[str] = "istio"
    exact_weights: ClassVar[bool] = True
    capabilities: ClassVar[frozenset[str]] = frozenset(
        {HEADER_ROUTE, MIRROR_ROUTE, CANARY_SCALE, BASELINE}
    )
    queries: ClassVar[Mapping[str, str]] = QUERIES

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    # -- the protocol ----------------------------------------------------------------------
    def read(self, rollout: Rollout) -> RouterState:
        istio, ns, managed = self._config(rollout)
        sides, dr = self._sides(rollout, istio, ns)
        weights: set[tuple[int, int, int]] = set()
        revisions: set[tuple[str | None, str | None, str | None]] = set()
        present: list[set[str]] = []
        mirrors: set[str] = set()
        for spec in istio.services():
            vs = self._get(VIRTUAL_SERVICES, spec.name, ns)
            # The HTTP routes if there are any, else the first TLS/TCP route.
            for route in self._weighted(vs, spec, managed) or l4_routes(vs, spec)[:1]:
                weights.add(self._route_weights(route, sides, vs))
            ours = [r for r in vs["spec"].get("http") or [] if r.get("name") in managed]
            present.append({r["name"] for r in ours})
            mirrors |= {r["name"] for r in ours if "mirror" in r}
            notes = vs["metadata"].get("annotations") or {}
            revisions.add(
                (
                    notes.get(STABLE_REVISION),
                    notes.get(CANARY_REVISION),
                    notes.get(BASELINE_REVISION),
                )
            )
        if dr is not None:  # subset mode: the pinned labels say which revision gets what
            pins = [(s.get("labels") or {}).get(labels.REVISION) for s in self._subsets(dr, istio)]
            revisions = {(pins[0], pins[1], pins[2] if len(pins) > 2 else None)}
        routes = set.intersection(*present) if present else set()
        verified = None
        # Several VirtualServices (or routes) that disagree mean a write is missing: unknown.
        if len(weights) == 1 and len(revisions) == 1:
            (stable_w, canary_w, twin_w), (stable, canary, twin) = weights.pop(), revisions.pop()
            if stable is not None and canary is not None:
                verified = TrafficWeights(
                    stable=RevisionWeight(revision=stable, weight=stable_w),
                    canary=RevisionWeight(revision=canary, weight=canary_w),
                    baseline=RevisionWeight(revision=twin, weight=twin_w)
                    if twin and twin_w
                    else None,
                )
        return RouterState(
            weights=verified,
            header_routes=frozenset(routes - mirrors),
            mirror_routes=frozenset(routes & mirrors),
        )

    def set_weight(
        self,
        rollout: Rollout,
        *,
        stable: str,
        canary: str,
        weight: int,
        baseline: RevisionWeight | None = None,
    ) -> None:
        istio, ns, managed = self._config(rollout)
        sides, dr = self._sides(rollout, istio, ns)
        share = 0 if baseline is None else baseline.weight
        if share and sides.baseline_host is None and sides.baseline_subset is None:
            raise RouterError(
                f"Rollout {rollout.key}: a baseline behind istio needs baselineService (host "
                "mode) or destinationRule.baselineSubsetName (subset mode)"
            )

        def change(vs: Obj, weighted: list[Obj], l4: list[Obj]) -> None:
            mirrors = [r for r in vs["spec"].get("http") or [] if r.get("name") in managed]
            # Mirror routes carry a copy of the weighted split: keep it in step.
            for route in weighted + [r for r in mirrors if "mirror" in r] + l4:
                self._put_weights(route, weight, sides, vs, baseline=share)
            if dr is None:
                notes = vs["metadata"].setdefault("annotations", {})
                notes.update({STABLE_REVISION: stable, CANARY_REVISION: canary})
                if baseline is not None and share:
                    notes[BASELINE_REVISION] = baseline.revision
                else:
                    notes.pop(BASELINE_REVISION, None)

        edits = self._edit(rollout, change)  # every object read and checked before any write
        if dr is not None:
            pinned = copy.deepcopy(dr)
            # A baseline subset is pinned only to carry weight; at 0 it keeps its old pin.
            revisions = [stable, canary] + ([baseline.revision] if baseline and share else [])
            for subset, revision in zip(self._subsets(pinned, istio), revisions, strict=False):
                subset["labels"] = {**(subset.get("labels") or {}), labels.REVISION: revision}
            if pinned != dr:  # subsets first: never weight a subset that selects old pods
                self._kube.replace(DESTINATION_RULES, pinned, namespace=ns)
        self._write(edits, ns)

    def set_header_route(self, rollout: Rollout, route: SetHeaderRoute) -> None:
        istio, ns, _ = self._config(rollout)
        sides, _ = self._sides(rollout, istio, ns)

        def change(vs: Obj, weighted: list[Obj], l4: list[Obj]) -> None:
            new = None
            if route.match:
                canary = self._canary_dest(self._first_http(weighted, vs), sides, vs)
                new = {
                    "name": route.name,
                    "match": _header_match(route.match),
                    "route": [{"destination": canary, "weight": 100}],
                }
            self._place(vs, weighted, rollout, route.name, new)

        self._write(self._edit(rollout, change), ns)

    def set_mirror_route(self, rollout: Rollout, route: SetMirrorRoute) -> None:
        istio, ns, _ = self._config(rollout)
        sides, _ = self._sides(rollout, istio, ns)

        def change(vs: Obj, weighted: list[Obj], l4: list[Obj]) -> None:
            new: Obj | None = None
            if route.match or route.percentage is not None:
                first = self._first_http(weighted, vs)
                # No match: mirror what the weighted route serves, so copy its match (if any).
                match = _header_match(route.match) if route.match else first.get("match")
                new = {"name": route.name, **({"match": copy.deepcopy(match)} if match else {})}
                new["route"] = copy.deepcopy(first["route"])
                new["mirror"] = self._canary_dest(first, sides, vs)
                if route.percentage is not None:  # unset: Istio mirrors 100%
                    new["mirrorPercentage"] = {"value": float(route.percentage)}
            self._place(vs, weighted, rollout, route.name, new)

        self._write(self._edit(rollout, change), ns)

    def remove_managed_routes(self, rollout: Rollout) -> None:
        _, ns, managed = self._config(rollout)

        def change(vs: Obj, weighted: list[Obj], l4: list[Obj]) -> None:
            if "http" in vs["spec"]:  # a TLS/TCP-only VirtualService gets no `http: []`
                vs["spec"]["http"] = [r for r in vs["spec"]["http"] if r.get("name") not in managed]

        self._write(self._edit(rollout, change), ns)

    def finalize(self, rollout: Rollout, *, stable: str) -> None:
        """100% stable and managed routes gone, in one write per VirtualService. Our revision
        annotations go too (the Rollout no longer exists); DestinationRule labels stay (the
        stable subset already selects the stable pods). A VirtualService the user deleted is
        skipped: there is nothing left to send to the canary, and deletion must not block."""
        istio, ns, managed = self._config(rollout)
        sides, _ = self._sides(rollout, istio, ns, finalizing=True)

        def change(vs: Obj, weighted: list[Obj], l4: list[Obj]) -> None:
            if "http" in vs["spec"]:  # a TLS/TCP-only VirtualService gets no `http: []`
                vs["spec"]["http"] = [r for r in vs["spec"]["http"] if r.get("name") not in managed]
            # TLS/TCP routes are host mode only (subset mode refuses them before any weight).
            for route in weighted + (l4 if sides.stable_host is not None else []):
                self._put_weights(route, 0, sides, vs)
            notes = vs["metadata"].get("annotations") or {}
            for key in (STABLE_REVISION, CANARY_REVISION, BASELINE_REVISION):
                notes.pop(key, None)

        self._write(self._edit(rollout, change, skip_missing=True), ns)

    # -- plumbing --------------------------------------------------------------------------
    @staticmethod
    def _config(rollout: Rollout) -> tuple[IstioRouting, str, list[str]]:
        routing = rollout.spec.strategy.traffic_routing
        if routing is None or routing.istio is None:
            raise RouterError(f"Rollout {rollout.key} has no trafficRouting.istio")
        managed = [r.name for r in routing.managed_routes]
        return routing.istio, rollout.metadata.namespace or "default", managed

    def _get(self, kind: Kind, name: str, ns: str) -> Obj:
        try:
            return self._kube.get(kind, name, namespace=ns)
        except NotFoundError:
            raise RoutingObjectNotFoundError(f"{kind.kind} {ns}/{name} not found") from None

    def _sides(
        self, rollout: Rollout, istio: IstioRouting, ns: str, *, finalizing: bool = False
    ) -> tuple[_Sides, Obj | None]:
        rule = istio.destination_rule
        if rule is not None and not finalizing:
            for spec in istio.services():
                if spec.tls_routes or spec.tcp_routes:
                    raise RouterError(
                        f"Rollout {rollout.key}: VirtualService {spec.name}: tlsRoutes and "
                        "tcpRoutes are supported by host (stableService/canaryService), not "
                        "with a destinationRule"
                    )
        if rule is None:
            strategy = rollout.spec.strategy
            sides = _Sides(
                ns,
                stable_host=strategy.stable_service,
                canary_host=strategy.canary_service,
                baseline_host=strategy.baseline_service,
            )
            return sides, None
        subsets = (rule.stable_subset_name, rule.canary_subset_name, rule.baseline_subset_name)
        if finalizing:  # the DestinationRule is not written; its host is not needed either
            return _Sides(ns, None, None, None, *subsets[:2], baseline_subset=subsets[2]), None
        dr = self._get(DESTINATION_RULES, rule.name, ns)
        self._subsets(dr, istio)  # the subsets must exist before we rely on them
        host = dr.get("spec", {}).get("host")
        return _Sides(ns, None, None, host, *subsets[:2], baseline_subset=subsets[2]), dr

    @staticmethod
    def _subsets(dr: Obj, istio: IstioRouting) -> list[Obj]:
        """The stable, canary (and, when named, baseline) subsets, in that order, from `dr`
        itself (to edit in place)."""
        rule = istio.destination_rule
        assert rule is not None
        subsets = {s.get("name"): s for s in dr.get("spec", {}).get("subsets") or []}
        found = []
        names = [rule.stable_subset_name, rule.canary_subset_name, rule.baseline_subset_name]
        for name in [n for n in names if n]:
            if name not in subsets:
                where = f"DestinationRule {dr['metadata'].get('namespace')}/{rule.name}"
                raise RoutingObjectNotFoundError(f"{where} has no subset {name!r}")
            found.append(subsets[name])
        return found

    @staticmethod
    def _weighted(vs: Obj, spec: IstioVirtualService, managed: list[str]) -> list[Obj]:
        """The HTTP routes whose weights we set (dicts from `vs`, to edit in place)."""
        where = f"VirtualService {vs['metadata'].get('namespace')}/{spec.name}"
        clash = set(spec.routes) & set(managed)
        if clash:
            raise RouterError(f"{where}: routes {sorted(clash)} are also managedRoutes")
        # Our own header/mirror routes are never the user's weighted route.
        http = [r for r in vs.get("spec", {}).get("http") or [] if r.get("name") not in managed]
        if not spec.routes:
            if not http and (spec.tls_routes or spec.tcp_routes):
                return []  # weights in TLS/TCP routes only
            if len(http) != 1:
                raise RoutingObjectNotFoundError(
                    f"{where} has {len(http)} HTTP routes; name the ones to manage in "
                    "trafficRouting.istio.virtualService.routes"
                )
            return http
        by_name = {r.get("name"): r for r in http}
        missing = [n for n in spec.routes if n not in by_name]
        if missing:
            raise RoutingObjectNotFoundError(f"{where} has no HTTP route named {missing[0]!r}")
        return [by_name[n] for n in spec.routes]

    @staticmethod
    def _stable_entry(route: Obj, sides: _Sides, vs: Obj) -> Obj:
        for entry in _dests(route):
            if sides.is_stable(entry.get("destination") or {}):
                return entry
        raise RoutingObjectNotFoundError(
            f"VirtualService {vs['metadata'].get('namespace')}/{vs['metadata']['name']}: "
            f"route {route.get('name', '(unnamed)')!r} has no stable destination "
            f"({sides.stable_host or sides.stable_subset})"
        )

    @staticmethod
    def _first_http(weighted: list[Obj], vs: Obj) -> Obj:
        """The first weighted HTTP route: header and mirror routes copy it (HTTP only)."""
        if not weighted:
            raise RouterError(
                f"VirtualService {vs['metadata'].get('namespace')}/{vs['metadata']['name']}: "
                "header and mirror routes need a weighted HTTP route"
            )
        return weighted[0]

    def _canary_dest(self, route: Obj, sides: _Sides, vs: Obj) -> Obj:
        """The canary destination of `route` (or one shaped like its stable destination)."""
        for entry in _dests(route):
            if sides.is_canary(entry.get("destination") or {}):
                return copy.deepcopy(entry["destination"])
        return sides.canary_like(self._stable_entry(route, sides, vs)["destination"])

    def _route_weights(self, route: Obj, sides: _Sides, vs: Obj) -> tuple[int, int, int]:
        """(stable, canary, baseline) weights of one route."""
        stable = self._stable_entry(route, sides, vs)
        canary = [e for e in _dests(route) if sides.is_canary(e.get("destination") or {})]
        twin = [e for e in _dests(route) if sides.is_baseline(e.get("destination") or {})]
        return (
            _weight(stable, route),
            _weight(canary[0], route) if canary else 0,
            _weight(twin[0], route) if twin else 0,
        )

    def _put_weights(
        self, route: Obj, weight: int, sides: _Sides, vs: Obj, *, baseline: int = 0
    ) -> None:
        stable = self._stable_entry(route, sides, vs)
        entries = route.setdefault("route", [])
        canary = next((e for e in entries if sides.is_canary(e.get("destination") or {})), None)
        if canary is None:
            # The user listed only the stable destination: add the canary beside it, with the
            # stable one's port (a Service with several ports needs it), so weights can move.
            canary = {"destination": sides.canary_like(stable["destination"])}
            entries.insert(entries.index(stable) + 1, canary)
        twin = next((e for e in entries if sides.is_baseline(e.get("destination") or {})), None)
        if twin is None and baseline:
            # Added only to carry weight; at 0 an existing one stays (like the canary's).
            twin = {"destination": sides.canary_like(stable["destination"], baseline=True)}
            entries.insert(entries.index(canary) + 1, twin)
        # Other destinations (if any) keep their weights: they are not ours.
        stable["weight"] = 100 - weight - baseline
        canary["weight"] = weight
        if twin is not None:
            twin["weight"] = baseline

    @staticmethod
    def _place(vs: Obj, weighted: list[Obj], rollout: Rollout, name: str, new: Obj | None) -> None:
        """Put (or, with None, remove) managed route `name`; managed routes sit just before
        the first weighted route, ordered by managedRoutes (highest precedence first)."""
        _, _, managed = IstioRouter._config(rollout)
        http: list[Obj] = vs["spec"].get("http") or []
        ours = {r["name"]: r for r in http if r.get("name") in managed}
        rest = [r for r in http if r.get("name") not in managed]
        if new is None:
            ours.pop(name, None)
        else:
            ours[name] = new
        if "http" not in vs["spec"] and not ours:
            return  # a TLS/TCP-only VirtualService: nothing to remove, no `http: []` to add
        # No weighted HTTP route (TLS/TCP only) means nothing is being added: keep them last.
        at = next((i for i, r in enumerate(rest) if any(r is w for w in weighted)), len(rest))
        vs["spec"]["http"] = rest[:at] + [ours[n] for n in managed if n in ours] + rest[at:]

    def _edit(
        self,
        rollout: Rollout,
        change: Callable[[Obj, list[Obj], list[Obj]], None],
        *,
        skip_missing: bool = False,
    ) -> list[tuple[Obj, Obj]]:
        """(as read, as changed) for every VirtualService; all read and checked, none written."""
        istio, ns, managed = self._config(rollout)
        edits = []
        for spec in istio.services():
            try:
                vs = self._get(VIRTUAL_SERVICES, spec.name, ns)
            except RoutingObjectNotFoundError:
                if skip_missing:
                    continue
                raise
            new = copy.deepcopy(vs)
            change(new, self._weighted(new, spec, managed), l4_routes(new, spec))
            edits.append((vs, new))
        return edits

    def _write(self, edits: list[tuple[Obj, Obj]], ns: str) -> None:
        for old, new in edits:
            if new != old:  # nothing changed: no write at all
                self._kube.replace(VIRTUAL_SERVICES, new, namespace=ns)
