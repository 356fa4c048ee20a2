"""The traffic-router protocol: what every router in `meshes/` implements.

A router moves traffic between the stable and canary revisions of one Rollout through a traffic
layer the cluster already has, and reads back what it did, so the status only ever records
verified weights. Routers get the `Kube` facade; they never import the Kubernetes client.

Rules every router keeps (the contract suite in tests/meshes checks them for each one):
- a weight change is ONE write to ONE object, carrying the resourceVersion it read (a 409
  propagates as ConflictError; the reconciler re-reads and decides again, never merges stale);
- it touches only what it manages: other routes, destinations, retries, timeouts, annotations
  and unknown fields stay exactly as they were;
- writing what is already there writes nothing (idempotent, no write at all);
- a missing routing object raises RoutingObjectNotFoundError naming it, before any write;
- `finalize` (the Rollout is being deleted) puts 100% on stable, removes managed routes and
  deletes the objects the router created itself, and leaves everything else alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from rollout.errors import RolloutError
from rollout.kube import Kube
from rollout.models import RevisionWeight, Rollout, TrafficWeights
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute

HEADER_ROUTE = "setHeaderRoute"
MIRROR_ROUTE = "setMirrorRoute"
CANARY_SCALE = "setCanaryScale"
BASELINE = "baseline"
"""The router can split traffic three ways: stable, canary and a baseline (its own Service)."""


class RouterError(RolloutError):
    """The traffic layer refused or cannot do what was asked."""


class RoutingObjectNotFoundError(RouterError):
    """A routing object named in the spec does not exist (or lacks the named route)."""


@dataclass(frozen=True)
class RouterState:
    """What the traffic layer does now, read from the cluster."""

    weights: TrafficWeights | None = None
    """None: the router has not set weights yet (or cannot tell)."""
    header_routes: frozenset[str] = field(default_factory=frozenset)
    """Names of the managed header routes present now."""
    mirror_routes: frozenset[str] = field(default_factory=frozenset)
    """Names of the managed mirror routes present now."""


def read_back(
    stable: str, canary: str, baseline: str | None, *, canary_pct: int, baseline_pct: int
) -> TrafficWeights:
    """Verified weights from the revisions a router recorded and the canary's and baseline's
    percentages it reads: the stable has the rest; a baseline appears only while it has a
    share (and a recorded revision)."""
    return TrafficWeights(
        stable=RevisionWeight(revision=stable, weight=100 - canary_pct - baseline_pct),
        canary=RevisionWeight(revision=canary, weight=canary_pct),
        baseline=RevisionWeight(revision=baseline, weight=baseline_pct)
        if baseline and baseline_pct
        else None,
    )


class TrafficRouter(Protocol):
    name: ClassVar[str]
    """The key under spec.strategy.canary.trafficRouting (istio, linkerd, nginx, gatewayAPI)."""
    exact_weights: ClassVar[bool]
    """True: the router sets weights itself. False: weights follow pod counts (no router)."""
    capabilities: ClassVar[frozenset[str]]
    """Which optional features it supports: HEADER_ROUTE, MIRROR_ROUTE, CANARY_SCALE (step
    kinds) and BASELINE."""
    queries: ClassVar[Mapping[str, str]]
    """Built-in PromQL for the analysis gates, by name (string.Template placeholders)."""

    def __init__(self, kube: Kube) -> None: ...

    def read(self, rollout: Rollout) -> RouterState:
        """The state in force now. Raises RoutingObjectNotFoundError when an object is missing."""
        ...

    def set_weight(
        self,
        rollout: Rollout,
        *,
        stable: str,
        canary: str,
        weight: int,
        baseline: RevisionWeight | None = None,
    ) -> None:
        """`weight`% to the canary revision, the rest to stable: one guarded write. Routers
        that pin subsets or selectors to revisions (`stable`/`canary` are revision hashes) do
        so before the weight write. `baseline` (only ever passed to a router with the BASELINE
        capability, so others may leave the parameter out): its weight goes to the
        baselineService, and the stable gets 100 - weight - baseline.weight; without it, a
        BASELINE router takes any weight off the baselineService."""
        ...

    def set_header_route(self, rollout: Rollout, route: SetHeaderRoute) -> None:
        """Create, update or (with an empty match) remove one managed header route."""
        ...

    def set_mirror_route(self, rollout: Rollout, route: SetMirrorRoute) -> None:
        """Create, update or (with no match and no percentage) remove one managed mirror route."""
        ...

    def remove_managed_routes(self, rollout: Rollout) -> None:
        """Remove every header and mirror route this Rollout manages (abort, promotion)."""
        ...

    def finalize(self, rollout: Rollout, *, stable: str) -> None:
        """The Rollout is being deleted: 100% to stable, managed routes removed, objects the
        router created deleted; nothing else touched."""
        ...
