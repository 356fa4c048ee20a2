"""What the engine asks the shell to do, and the decision that carries them.

Actions are idempotent and executed in list order; the first failure stops the rest and the
rollout is reconciled again (by then the world has moved, and the engine re-derives what is left).
The order is the safety argument: selectors before weights, weights before scale-downs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout.engine.draft import Termination
from rollout.models import HistoryEntry, RevisionWeight, RolloutStatus
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute


@dataclass(frozen=True)
class CreateRevision:
    revision: str
    number: int
    replicas: int
    template: dict[str, Any]
    avoid: str | None = None
    """The stable revision, whose nodes the new pods avoid when the strategy asks for
    anti-affinity (blue-green's antiAffinity); the template itself stays as written."""


@dataclass(frozen=True)
class ScaleRevision:
    revision: str
    replicas: int


@dataclass(frozen=True)
class RenumberRevision:
    """An old revision became current again (undo): it gets the newest revision number."""

    revision: str
    number: int


@dataclass(frozen=True)
class DeleteRevision:
    revision: str


@dataclass(frozen=True)
class PinService:
    """Point a Service's selector at one revision's pods."""

    service: str
    revision: str


@dataclass(frozen=True)
class SetWeight:
    """One routing write: `weight`% to the canary revision, `baseline`'s to the baseline (a
    router with one), the rest to stable."""

    stable_revision: str
    canary_revision: str
    weight: int
    baseline: RevisionWeight | None = None


@dataclass(frozen=True)
class SetRoute:
    """Create, update or remove one managed header or mirror route (to the canary)."""

    route: SetHeaderRoute | SetMirrorRoute


@dataclass(frozen=True)
class RemoveManagedRoutes:
    """Remove every managed header and mirror route (abort, promotion, rollback)."""


@dataclass(frozen=True)
class ScaleWorkload:
    """Scale the workloadRef Deployment (to 0 once the Rollout serves)."""

    name: str
    replicas: int


@dataclass(frozen=True)
class RestartRevision:
    """Restart a revision's pods (rollout restart), by stamping its pod template."""

    revision: str
    at: datetime


Action = (
    CreateRevision
    | ScaleRevision
    | RenumberRevision
    | DeleteRevision
    | PinService
    | SetWeight
    | SetRoute
    | RemoveManagedRoutes
    | ScaleWorkload
    | RestartRevision
)


@dataclass(frozen=True)
class Decision:
    status: RolloutStatus
    actions: list[Action] = field(default_factory=list)
    events: list[HistoryEntry] = field(default_factory=list)
    """New history entries; the reconciler also emits each as a Kubernetes Event."""
    requeue_at: datetime | None = None
    """Reconcile again at this time at the latest (pause end, scale-down, progress deadline)."""
    terminations: list[Termination] = field(default_factory=list)
    """Running measurements (Jobs) of analysis runs that ended: the reconciler stops them."""
