"""The invariants of issue 7, checked on every committed state (tests/faults/record.py), in
commit order. Pure: fed `Change`s, they answer `Violation`s, so each one is unit-tested on
synthetic sequences (test_invariants.py) to prove it can fail.

- `TrafficInvariant`: traffic is never on a revision with zero available pods. Traffic is a
  router weight > 0 on a Service (VirtualService destinations, HTTPRoute backendRefs) or a
  Service selector pinned to a revision (`rollout.dev/revision-hash`): that revision must then
  have an available pod. Available means min(spec.replicas, status.availableReplicas) of its
  Deployments: a Deployment scaled down is losing those pods even while its status, written
  a moment later by the Deployment controller, still counts them.
- `DecisionInvariant`: no update is both promoted and aborted (one revision never both becomes
  stable and is aborted; the history never records both `Promoted` and `RolloutAborted` for
  it).
- `HistoryInvariant`: `status.history` only ever grows at its end: every new state keeps the
  previous entries in order (less those dropped from the front by HISTORY_LIMIT), and no entry
  (reason, revision, step) is recorded twice within one update. Lost and duplicated entries
  against an uninterrupted run are compared at the end by the test (`history_of`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from rollout import labels
from rollout.models.status import HISTORY_LIMIT
from tests.faults.record import (
    DEPLOYMENTS,
    HTTP_ROUTES,
    ROLLOUTS,
    SERVICES,
    VIRTUAL_SERVICES,
    Change,
    Obj,
)


@dataclass(frozen=True)
class Violation:
    rule: str
    rollout: str
    rv: int
    detail: str

    def __str__(self) -> str:
        return f"[{self.rule}] {self.rollout} at resourceVersion {self.rv}: {self.detail}"


def _available(deployment: Obj) -> int:
    if deployment["metadata"].get("deletionTimestamp"):
        return 0
    desired = int((deployment.get("spec") or {}).get("replicas", 1))
    status = deployment.get("status") or {}
    return min(desired, int(status.get("availableReplicas") or 0))


def _host_service(host: str) -> str:
    """`app-canary.default.svc.cluster.local` -> `app-canary` (the namespace is `default`)."""
    return host.split(".", 1)[0]


def route_weights(kind: str, obj: Obj) -> list[tuple[str, int]]:
    """(Service, weight) of every destination of a routing object."""
    spec = obj.get("spec") or {}
    found: list[tuple[str, int]] = []
    if kind == VIRTUAL_SERVICES:
        for section in ("http", "tls", "tcp"):
            for route in spec.get(section) or []:
                destinations = route.get("route") or []
                for d in destinations:
                    # Istio: one destination without a weight takes 100%.
                    default = 100 if len(destinations) == 1 else 0
                    host = (d.get("destination") or {}).get("host", "")
                    found.append((_host_service(host), int(d.get("weight", default))))
    elif kind == HTTP_ROUTES:
        for rule in spec.get("rules") or []:
            for ref in rule.get("backendRefs") or []:
                if ref.get("kind", "Service") == "Service":
                    # Gateway API: a backendRef without a weight has weight 1.
                    found.append((str(ref["name"]), int(ref.get("weight", 1))))
    return found


Source = tuple[str, ...]
"""A way traffic reaches a revision: ("service", name) for a Service's selector, or
("route", routing object kind, its name, Service) for a router's weight to a Service."""


@dataclass
class TrafficInvariant:
    """Incremental: a change re-checks only the traffic sources it can affect (a full scan
    per commit would be quadratic over a run of tens of thousands of commits)."""

    armed: bool = True
    violations: list[Violation] = field(default_factory=list)
    checked: int = 0
    """Traffic sources evaluated, over the run (that the checker looked at all)."""
    _deployments: dict[str, tuple[str, str, int]] = field(default_factory=dict)
    """Deployment name -> (rollout, revision, available)."""
    _available: dict[str, int] = field(default_factory=dict)  # revision -> available pods
    _owner: dict[str, str] = field(default_factory=dict)  # revision -> rollout
    _pins: dict[str, str] = field(default_factory=dict)  # Service -> pinned revision
    _pinned: dict[str, set[str]] = field(default_factory=dict)  # revision -> Services
    _routes: dict[tuple[str, str], dict[str, int]] = field(default_factory=dict)
    """(kind, name) of a routing object -> Service -> weight."""
    _routed: dict[str, set[tuple[str, str]]] = field(default_factory=dict)
    """Service -> routing objects that name it."""
    _bad: set[Source] = field(default_factory=set)  # sources in violation now

    def available(self, revision: str) -> int:
        return self._available.get(revision, 0)

    def arm(self, rv: int) -> list[Violation]:
        """Start reporting, and report what is already bad (it was only tracked so far)."""
        self.armed = True
        self._bad.clear()
        sources = [s for svc in sorted(self._pins) for s in self._sources_of_service(svc)]
        return self._check(rv, sources)

    def feed(self, change: Change) -> list[Violation]:
        obj = change.obj
        gone = change.type == "DELETED"
        if change.kind == DEPLOYMENTS:
            meta_labels = obj["metadata"].get("labels") or {}
            revision = meta_labels.get(labels.REVISION)
            if revision is None:
                return []
            old = self._deployments.pop(change.name, None)
            if old is not None:
                self._available[old[1]] = self._available.get(old[1], 0) - old[2]
            if not gone:
                available = _available(obj)
                rollout = str(meta_labels.get(labels.NAME, "?"))
                self._deployments[change.name] = (rollout, revision, available)
                self._available[revision] = self._available.get(revision, 0) + available
                self._owner[revision] = rollout
            return self._check(change.rv, self._sources_of_revision(revision))
        if change.kind == SERVICES:
            selector = (obj.get("spec") or {}).get("selector") or {}
            pinned = selector.get(labels.REVISION)
            before = self._pins.pop(change.name, None)
            if before is not None:
                self._pinned.get(before, set()).discard(change.name)
            if not gone and pinned is not None:
                self._pins[change.name] = str(pinned)
                self._pinned.setdefault(str(pinned), set()).add(change.name)
            return self._check(change.rv, self._sources_of_service(change.name))
        if change.kind in (VIRTUAL_SERVICES, HTTP_ROUTES):
            key = (change.kind, change.name)
            services = set(self._routes.pop(key, {}))
            if not gone:
                weights: dict[str, int] = {}
                for service, weight in route_weights(change.kind, obj):
                    weights[service] = weights.get(service, 0) + weight
                self._routes[key] = weights
                services |= set(weights)
            for service in services:
                self._routed.setdefault(service, set()).add(key)
            return self._check(change.rv, [("route", *key, s) for s in sorted(services)])
        return []

    def _sources_of_service(self, service: str) -> list[Source]:
        routes = sorted(self._routed.get(service, ()))
        return [("service", service), *(("route", *key, service) for key in routes)]

    def _sources_of_revision(self, revision: str) -> list[Source]:
        return [
            s
            for svc in sorted(self._pinned.get(revision, ()))
            for s in self._sources_of_service(svc)
        ]

    def _target(self, source: Source) -> tuple[str, str] | None:
        """(revision, how) that the source sends traffic to now, or None."""
        if source[0] == "service":
            revision = self._pins.get(source[1])
            return None if revision is None else (revision, f"Service {source[1]} selector")
        _, kind, name, service = source
        weight = self._routes.get((kind, name), {}).get(service, 0)
        revision = self._pins.get(service)
        # An unpinned Service selects every revision's pods: only those with pods get any of
        # it, so it cannot put traffic on a revision without pods.
        if weight <= 0 or revision is None:
            return None
        return revision, f"{kind.split('.')[0]} {name}: weight {weight} to Service {service}"

    def _check(self, rv: int, sources: Iterable[Source]) -> list[Violation]:
        found: list[Violation] = []
        for source in sources:
            self.checked += 1
            target = self._target(source)
            if target is None or self.available(target[0]) > 0:
                self._bad.discard(source)
                continue
            if source in self._bad:
                continue  # reported when it began: a bad state lasting N commits is one
            self._bad.add(source)
            if not self.armed:
                continue
            revision, how = target
            found.append(
                Violation(
                    "traffic",
                    self._owner.get(revision, "?"),
                    rv,
                    f"{how} -> revision {revision}, which has no available pod",
                )
            )
        self.violations.extend(found)
        return found


def _status(obj: Obj) -> dict[str, Any]:
    return obj.get("status") or {}


@dataclass
class DecisionInvariant:
    armed: bool = True
    violations: list[Violation] = field(default_factory=list)
    _updates: dict[str, str] = field(default_factory=dict)  # revision -> rollout
    _promoted: set[str] = field(default_factory=set)
    _aborted: set[str] = field(default_factory=set)
    _reported: set[str] = field(default_factory=set)

    def feed(self, change: Change) -> list[Violation]:
        if change.kind != ROLLOUTS or change.type == "DELETED":
            return []
        status = _status(change.obj)
        current, stable = status.get("currentRevision"), status.get("stableRevision")
        if current and stable and current != stable:
            self._updates[current] = change.name
            if status.get("abort") or status.get("abortedAt"):
                self._aborted.add(current)
        if stable in self._updates:
            self._promoted.add(stable)
        for entry in status.get("history") or []:
            revision = entry.get("revision")
            if entry.get("reason") == "Promoted" and revision:
                self._promoted.add(revision)
            elif entry.get("reason") == "RolloutAborted" and revision:
                self._aborted.add(revision)
        both = (self._promoted & self._aborted) - self._reported
        if not self.armed or not both:
            return []
        self._reported |= both
        found = [
            Violation(
                "promoted-and-aborted",
                change.name,
                change.rv,
                f"revision {revision} was both promoted and aborted",
            )
            for revision in sorted(both)
        ]
        self.violations.extend(found)
        return found


def entry_key(entry: Obj) -> tuple[Any, ...]:
    return (entry.get("reason"), entry.get("revision"), entry.get("step"))


@dataclass
class HistoryInvariant:
    armed: bool = True
    violations: list[Violation] = field(default_factory=list)
    _last: dict[str, list[Obj]] = field(default_factory=dict)
    _duplicates: set[tuple[Any, ...]] = field(default_factory=set)  # (rollout, key) reported

    def feed(self, change: Change) -> list[Violation]:
        if change.kind != ROLLOUTS:
            return []
        if change.type == "DELETED":
            self._last.pop(change.name, None)
            return []
        new = list(_status(change.obj).get("history") or [])
        old = self._last.get(change.name, [])
        self._last[change.name] = new
        found: list[Violation] = []
        if not _extends(old, new):
            found.append(
                Violation(
                    "history-lost",
                    change.name,
                    change.rv,
                    f"history {_reasons(old)} became {_reasons(new)}: entries lost or rewritten",
                )
            )
        seen: set[tuple[Any, ...]] = set()
        for entry in new:
            if entry.get("reason") == "NewRevision":
                seen = set()  # a new update: its steps are recorded afresh
            key = entry_key(entry)
            if key in seen and (change.name, *key) not in self._duplicates:
                self._duplicates.add((change.name, *key))
                found.append(
                    Violation(
                        "history-duplicate",
                        change.name,
                        change.rv,
                        f"{key} recorded twice: {_reasons(new)}",
                    )
                )
                break
            seen.add(key)
        if not self.armed:
            return []
        self.violations.extend(found)
        return found


def _extends(old: list[Obj], new: list[Obj]) -> bool:
    """`new` is `old` with entries appended, less entries dropped from its front by the
    HISTORY_LIMIT bound (only when `new` is at that bound)."""
    for dropped in range(len(old) + 1):
        kept = old[dropped:]
        if new[: len(kept)] == kept and (dropped == 0 or len(new) == HISTORY_LIMIT):
            return True
    return False


def _reasons(history: list[Obj]) -> list[str]:
    return [str(h.get("reason")) for h in history]


def history_of(status: Obj, roles: dict[str, str]) -> list[tuple[Any, ...]]:
    """A status' history as (reason, role of its revision, step): comparable between two
    rollouts of the same kind, whose revision hashes differ (roles: hash -> 'v1' / 'v2')."""
    return [
        (
            str(h.get("reason")),
            roles.get(str(h.get("revision")), str(h.get("revision"))),
            h.get("step"),
        )
        for h in status.get("history") or []
    ]


def runs_of(status: Obj, roles: dict[str, str]) -> list[tuple[Any, ...]]:
    """The analysis runs as (name, revision role, phase, per metric (name, phase, successful,
    failed)): what an interrupted run must agree on with an uninterrupted one. Errors and
    no-data counts are left out (a provider outage adds errors; that is the point)."""
    return [
        (
            r.get("name"),
            roles.get(str(r.get("revision")), r.get("revision")),
            r.get("phase"),
            tuple(
                (m.get("name"), m.get("phase"), m.get("successful", 0), m.get("failed", 0))
                for m in r.get("metrics") or []
            ),
        )
        for r in status.get("analysisRuns") or []
    ]


@dataclass
class Invariants:
    """The three checkers over one stream of changes, armed together."""

    traffic: TrafficInvariant = field(default_factory=TrafficInvariant)
    decisions: DecisionInvariant = field(default_factory=DecisionInvariant)
    history: HistoryInvariant = field(default_factory=HistoryInvariant)
    fed: int = 0

    def arm(self) -> list[Violation]:
        """Report from now on (what came before only built the checkers' picture)."""
        self.decisions.armed = self.history.armed = True
        return self.traffic.arm(-1)

    def feed(self, changes: Iterable[Change]) -> list[Violation]:
        found: list[Violation] = []
        for change in changes:
            self.fed += 1
            found += self.traffic.feed(change)
            found += self.decisions.feed(change)
            found += self.history.feed(change)
        return found

    @property
    def violations(self) -> list[Violation]:
        return self.traffic.violations + self.decisions.violations + self.history.violations
