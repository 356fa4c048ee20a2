"""Gateway-API-shaped routes: the weights, header routes and mirror routes of one route rule.

Owns the editing of any route whose `spec.rules[]` carry `matches`, `filters` and `backendRefs`
with a `weight` (Gateway API HTTPRoute / GRPCRoute, Linkerd's policy.linkerd.io HTTPRoute). It is
mesh-neutral so that meshes/gateway_api.py and meshes/linkerd.py share it without importing
each other; the routers only say which object, which rule, and what the schema supports.

What we own on the user's route, and nothing else:
- the `weight` of the stableService / canaryService (and, with a baseline, baselineService)
  backendRefs of the managed rule (we add the canary's and the baseline's, copied from the
  stable one, when they are missing);
- the rules we add for header and mirror routes, placed right before the managed rule;
- our annotations: the revisions behind the weights, and the fingerprints of the rules we added.

Our rules are recognised by fingerprint (the rule as we wrote it, weights aside), recorded in an
annotation. Rule names are not enough: Linkerd's policy.linkerd.io/v1beta3 rules have no `name`
field, and a user rule may carry the same name as a managed route. Where the schema has rule
names we set them too, so `kubectl get -o yaml` shows which rule is which. The managed rule's
index (`rule` in the spec) counts the user's rules only, so adding ours never shifts it.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollout.errors import NotFoundError
from rollout.kube import Kube
from rollout.kube.kinds import Kind
from rollout.models import RevisionWeight
from rollout.models.traffic import HeaderMatch, SetHeaderRoute, SetMirrorRoute
from rollout.routing import RouterError, RouterState, RoutingObjectNotFoundError, read_back

Obj = dict[str, Any]

STABLE_REVISION = "rollout.dev/stable-revision"
CANARY_REVISION = "rollout.dev/canary-revision"
BASELINE_REVISION = "rollout.dev/baseline-revision"
MANAGED_RULES = "rollout.dev/managed-rules"
"""JSON {route name: {"kind": "header" | "mirror", "fingerprint": ...}} of the rules we added."""

MAX_RULES = 16  # spec.rules maxItems in every schema we target
_HTTP_DEFAULT_MATCH: Obj = {"path": {"type": "PathPrefix", "value": "/"}}
_BACKEND_FIELDS = ("group", "kind", "namespace", "port")  # copied from stable to canary


@dataclass(frozen=True)
class RouteTarget:
    """One route rule to steer, and what its schema allows."""

    kind: Kind
    name: str
    namespace: str
    rule: int
    stable_service: str
    canary_service: str
    managed_routes: tuple[str, ...]
    """The spec's managedRoutes names, highest precedence first."""
    baseline_service: str | None = None
    """The baselineService (a baseline in the spec): the third backendRef."""
    http: bool = True
    """HTTP matches (path defaults to PathPrefix /); False for GRPCRoute (method matches)."""
    named_rules: bool = True
    """The schema has `rules[].name`."""

    @property
    def what(self) -> str:
        return f"{self.kind.kind} {self.namespace}/{self.name}"


class GatewayRoutes:
    """Reads and edits one route rule. Every change is one GET and at most one guarded PUT."""

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    # -- reading ---------------------------------------------------------------------------
    def read(self, target: RouteTarget) -> RouterState:
        route = _Route(self._get(target), target)
        annotations = route.annotations
        stable_rev, canary_rev = annotations.get(STABLE_REVISION), annotations.get(CANARY_REVISION)
        baseline_rev = annotations.get(BASELINE_REVISION)
        # First: a rule without the stable backend is an error.
        canary, baseline = route.percents()
        weights = None
        if stable_rev and canary_rev:
            weights = read_back(
                stable_rev, canary_rev, baseline_rev, canary_pct=canary, baseline_pct=baseline
            )
        present = route.our_rules()
        return RouterState(
            weights=weights,
            header_routes=frozenset(n for n, k in present.items() if k == "header"),
            mirror_routes=frozenset(n for n, k in present.items() if k == "mirror"),
        )

    # -- writing ---------------------------------------------------------------------------
    def set_weight(
        self,
        target: RouteTarget,
        *,
        stable: str,
        canary: str,
        weight: int,
        baseline: RevisionWeight | None = None,
    ) -> None:
        share = 0 if baseline is None else baseline.weight

        def change(route: _Route) -> None:
            route.set_weights(100 - weight - share, weight, baseline=share)
            route.annotate(STABLE_REVISION, stable)
            route.annotate(CANARY_REVISION, canary)
            route.annotate(BASELINE_REVISION, baseline.revision if baseline and share else None)

        self._edit(target, change)

    def set_header_route(self, target: RouteTarget, route: SetHeaderRoute) -> None:
        _check_managed(target, route.name)
        if not route.match:
            self._edit(target, lambda r: r.remove_rules({route.name}))
            return

        def change(r: _Route) -> None:
            rule: Obj = {
                "matches": r.crossed_matches(route.match),
                "backendRefs": [r.canary_ref()],
            }
            r.put_rule(route.name, "header", rule)

        self._edit(target, change)

    def set_mirror_route(self, target: RouteTarget, route: SetMirrorRoute) -> None:
        _check_managed(target, route.name)
        if not route.match and route.percentage is None:
            self._edit(target, lambda r: r.remove_rules({route.name}))
            return

        def change(r: _Route) -> None:
            # A copy of the managed rule (same backends and filters, so mirrored requests are
            # still served as before) plus a RequestMirror filter towards the canary.
            rule = {k: copy.deepcopy(v) for k, v in r.managed.items() if k != "name"}
            rule["matches"] = r.crossed_matches(route.match)
            percent = 100 if route.percentage is None else route.percentage  # 0 stays 0
            mirror_ref = {k: v for k, v in r.canary_ref().items() if k != "weight"}
            mirror: Obj = {"backendRef": mirror_ref, "percent": percent}
            rule["filters"] = [
                *rule.get("filters", []),
                {"type": "RequestMirror", "requestMirror": mirror},
            ]
            r.put_rule(route.name, "mirror", rule)

        self._edit(target, change)

    def remove_managed_routes(self, target: RouteTarget) -> None:
        self._edit(target, lambda r: r.remove_rules(set(r.recorded)))

    def finalize(self, target: RouteTarget) -> None:
        """All traffic to stable, our rules and annotations gone: one write."""

        def change(route: _Route) -> None:
            route.set_weights(100, 0, add_canary=False)  # never touched: leave it so
            route.remove_rules(set(route.recorded))
            for key in (STABLE_REVISION, CANARY_REVISION, BASELINE_REVISION, MANAGED_RULES):
                route.annotate(key, None)

        self._edit(target, change)

    # -- plumbing --------------------------------------------------------------------------
    def _get(self, target: RouteTarget) -> Obj:
        try:
            return self._kube.get(target.kind, target.name, namespace=target.namespace)
        except NotFoundError:
            raise RoutingObjectNotFoundError(
                f"{target.what} not found",
                hint="create it, or fix trafficRouting in the Rollout",
            ) from None

    def _edit(self, target: RouteTarget, change: Callable[[_Route], None]) -> None:
        """GET, change a copy, PUT it with the resourceVersion read, unless nothing changed.
        A 409 propagates as ConflictError: the caller re-reads and decides again."""
        current = self._get(target)
        route = _Route(copy.deepcopy(current), target)
        change(route)
        if route.obj != current:
            self._kube.replace(target.kind, route.obj, namespace=target.namespace)


class _Route:
    """A route object being edited in memory, with the managed rule and our rules located."""

    def __init__(self, obj: Obj, target: RouteTarget) -> None:
        self.obj = obj
        self.target = target
        self.rules: list[Obj] = obj.setdefault("spec", {}).get("rules") or []
        self.recorded: dict[str, Obj] = _recorded(self.annotations)
        prints = {v.get("fingerprint"): name for name, v in self.recorded.items()}
        self._ours = [self._which(r, prints) for r in self.rules]
        user = [r for r, ours in zip(self.rules, self._ours, strict=True) if ours is None]
        if target.rule >= len(user):
            raise RoutingObjectNotFoundError(
                f"{target.what} has no rule {target.rule} ({len(user)} rules of its own)",
                hint="fix trafficRouting.rule in the Rollout",
            )
        self.managed = user[target.rule]

    def _which(self, rule: Obj, prints: dict[Any, str]) -> str | None:
        """Our route's name if the rule is one we added, else None. A rule name is unique in
        its route, so where the schema has names it identifies ours even after someone edited
        the rule; without names, only an unchanged rule is recognised."""
        name = rule.get("name")
        if self.target.named_rules and isinstance(name, str) and name in self.recorded:
            return name
        return prints.get(_fingerprint(rule))

    @property
    def annotations(self) -> dict[str, str]:
        return dict(self.obj.get("metadata", {}).get("annotations") or {})

    def annotate(self, key: str, value: str | None) -> None:
        metadata = self.obj.setdefault("metadata", {})
        annotations = dict(metadata.get("annotations") or {})
        if value is None:
            annotations.pop(key, None)
        else:
            annotations[key] = value
        if annotations:
            metadata["annotations"] = annotations
        else:
            metadata.pop("annotations", None)

    def our_rules(self) -> dict[str, str]:
        """Name -> kind of our rules present now."""
        return {n: self.recorded[n]["kind"] for n in self._ours if n is not None}

    # -- weights ---------------------------------------------------------------------------
    def _ref(self, rule: Obj, service: str) -> Obj | None:
        return next((b for b in rule.get("backendRefs") or [] if b.get("name") == service), None)

    def _stable_ref(self, rule: Obj) -> Obj:
        ref = self._ref(rule, self.target.stable_service)
        if ref is None:
            raise RoutingObjectNotFoundError(
                f"rule {self.target.rule} of {self.target.what} has no backendRef to the "
                f"stableService {self.target.stable_service!r}",
                hint="add it to the rule, or fix stableService / trafficRouting.rule",
            )
        return ref

    def canary_ref(self, service: str | None = None) -> Obj:
        """A backendRef to the canary Service (or `service`), shaped like the stable one."""
        stable = self._stable_ref(self.managed)
        ref = {k: copy.deepcopy(stable[k]) for k in _BACKEND_FIELDS if k in stable}
        return {"name": service or self.target.canary_service, **ref}

    def set_weights(
        self, stable: int, canary: int, *, baseline: int = 0, add_canary: bool = True
    ) -> None:
        """On the managed rule and on our mirror rules (copies of it, which must serve alike).
        Without `add_canary`, a rule lacking the canary backendRef is left as it is. The
        baseline's backendRef is added only to carry weight; at 0 an existing one stays."""
        mirrors = [
            r
            for r, n in zip(self.rules, self._ours, strict=True)
            if n and self.recorded[n]["kind"] == "mirror"
        ]
        twin = self.target.baseline_service
        for rule in [self.managed, *mirrors]:
            stable_ref = self._stable_ref(rule)
            ref = self._ref(rule, self.target.canary_service)
            if ref is None:
                if not add_canary:
                    continue
                ref = self.canary_ref()
                rule.setdefault("backendRefs", []).append(ref)
            stable_ref["weight"] = stable
            ref["weight"] = canary
            if twin is None:
                continue
            twin_ref = self._ref(rule, twin)
            if twin_ref is None and baseline:
                twin_ref = self.canary_ref(twin)
                rule.setdefault("backendRefs", []).append(twin_ref)
            if twin_ref is not None:
                twin_ref["weight"] = baseline

    def percents(self) -> tuple[int, int]:
        """(canary, baseline) percent of the managed rule's weight."""
        stable = self._stable_ref(self.managed).get("weight", 1)  # the schema's default is 1
        ref = self._ref(self.managed, self.target.canary_service)
        canary = 0 if ref is None else ref.get("weight", 1)
        twin = self.target.baseline_service
        twin_ref = None if twin is None else self._ref(self.managed, twin)
        baseline = 0 if twin_ref is None else twin_ref.get("weight", 1)
        total = stable + canary + baseline
        if not total:
            return 0, 0
        return round(100 * canary / total), round(100 * baseline / total)

    # -- our rules -------------------------------------------------------------------------
    def crossed_matches(self, headers: list[HeaderMatch]) -> list[Obj]:
        """The managed rule's matches, each with our header matches added. Gateway API picks
        the most specific match (same path, more headers), so ours win over the managed rule
        for exactly the requests it would serve."""
        default = [_HTTP_DEFAULT_MATCH] if self.target.http else [{}]
        out = []
        for match in self.managed.get("matches") or default:
            crossed = copy.deepcopy(match)
            if self.target.http:
                crossed.setdefault("path", copy.deepcopy(_HTTP_DEFAULT_MATCH["path"]))
            if headers:
                crossed["headers"] = [*crossed.get("headers", []), *map(_header, headers)]
            out.append(crossed)
        return out

    def put_rule(self, name: str, kind: str, rule: Obj) -> None:
        if self.target.named_rules:
            rule = {"name": name, **rule}
            clash = [
                r
                for r, n in zip(self.rules, self._ours, strict=True)
                if n is None and r.get("name") == name
            ]
            if clash:
                raise RouterError(
                    f"{self.target.what} already has a rule named {name!r} that is not ours",
                    hint="rename the managed route or the rule",
                )
        ours = {n: r for r, n in zip(self.rules, self._ours, strict=True) if n is not None}
        ours[name] = rule
        recorded = {**self.recorded, name: {"kind": kind, "fingerprint": _fingerprint(rule)}}
        self._rebuild(ours, recorded)

    def remove_rules(self, names: set[str]) -> None:
        if not names:
            return
        ours = {
            n: r
            for r, n in zip(self.rules, self._ours, strict=True)
            if n is not None and n not in names
        }
        self._rebuild(ours, {n: v for n, v in self.recorded.items() if n not in names})

    def _rebuild(self, ours: dict[str, Obj], recorded: dict[str, Obj]) -> None:
        """User rules in their order, ours (by managedRoutes precedence) right before the
        managed rule, where the first-listed rule wins ties between equally specific matches."""
        order = {n: i for i, n in enumerate(self.target.managed_routes)}
        rules: list[Obj] = []
        for rule, name in zip(self.rules, self._ours, strict=True):
            if name is not None:
                continue
            if rule is self.managed:
                rules.extend(ours[n] for n in sorted(ours, key=lambda n: order.get(n, len(order))))
            rules.append(rule)
        if len(rules) > MAX_RULES:
            raise RouterError(
                f"{self.target.what} would have {len(rules)} rules; at most {MAX_RULES} allowed",
                hint="use fewer managed routes at once",
            )
        if rules == self.rules and recorded == self.recorded:
            return
        self.obj["spec"]["rules"] = rules
        self.annotate(MANAGED_RULES, json.dumps(recorded, sort_keys=True) if recorded else None)


def _check_managed(target: RouteTarget, name: str) -> None:
    if name not in target.managed_routes:
        raise RouterError(
            f"route {name!r} is not in trafficRouting.managedRoutes",
            hint="list it there before using it in a step",
        )


def _header(match: HeaderMatch) -> Obj:
    """One of our header matches. The schemas allow Exact and RegularExpression only, so a
    prefix becomes an anchored regular expression."""
    value = match.header_value
    if value.exact is not None:
        return {"type": "Exact", "name": match.header_name, "value": value.exact}
    pattern = value.regex if value.regex is not None else f"^{re.escape(value.prefix or '')}.*"
    return {"type": "RegularExpression", "name": match.header_name, "value": pattern}


def _fingerprint(rule: Obj) -> str:
    """The rule as written, weights aside (set_weight updates them in mirror rules)."""
    bare = copy.deepcopy(rule)
    for ref in bare.get("backendRefs") or []:
        ref.pop("weight", None)
    text = json.dumps(bare, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _recorded(annotations: dict[str, str]) -> dict[str, Obj]:
    try:
        value = json.loads(annotations.get(MANAGED_RULES) or "{}")
    except ValueError:
        return {}  # someone mangled it: we recognise none of our rules rather than guess
    if not isinstance(value, dict):
        return {}
    return {
        k: v
        for k, v in value.items()
        if isinstance(v, dict) and v.get("kind") in ("header", "mirror")
    }
