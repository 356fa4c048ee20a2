"""What the engine is given: the observed world and everything else it decides from.

The reconciler builds these from its caches; tests build them by hand. All plain data.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from rollout.engine.analysis import AnalysisInputs
from rollout.models import RolloutSpec, RolloutStatus, TrafficWeights


@dataclass(frozen=True)
class RevisionState:
    """One revision's workload (a Deployment named <rollout>-<revision>) as observed."""

    revision: str
    number: int
    replicas: int  # desired (spec.replicas of its Deployment)
    available: int = 0
    ready: int = 0

    @property
    def unavailable(self) -> int:
        return max(0, self.replicas - self.available)


BASELINE_SUFFIX = "-baseline"


def baseline_of(stable: str) -> str:
    """The revision key (and pod label value) of a stable revision's baseline."""
    return f"{stable}{BASELINE_SUFFIX}"


@dataclass(frozen=True)
class World:
    revisions: Mapping[str, RevisionState] = field(default_factory=dict)
    services: Mapping[str, str | None] = field(default_factory=dict)
    """Service name -> revision its selector is pinned to (None: not pinned). Absent: missing."""
    weights: TrafficWeights | None = None
    """Weights read back from the traffic router; None when it reports nothing (not yet set)."""
    header_routes: frozenset[str] = frozenset()
    """Managed header routes present in the traffic layer now."""
    mirror_routes: frozenset[str] = frozenset()
    """Managed mirror routes present in the traffic layer now."""
    workload_replicas: int | None = None
    """spec.replicas of the workloadRef Deployment, when the Rollout has one."""
    stable_template: Mapping[str, Any] | None = None
    """The stable revision's pod template, as the Rollout had it (for a baseline's pods)."""

    def available(self, revision: str | None) -> int:
        state = self.revisions.get(revision or "")
        return state.available if state else 0

    def replicas(self, revision: str | None) -> int:
        state = self.revisions.get(revision or "")
        return state.replicas if state else 0


@dataclass(frozen=True)
class Inputs:
    """Everything `decide` needs. `template` is the effective pod template (from spec.template or
    from the workloadRef Deployment), already resolved by the reconciler."""

    name: str
    spec: RolloutSpec
    status: RolloutStatus
    generation: int
    template: Mapping[str, Any]
    world: World
    now: datetime
    traffic_routing: bool = False
    """True when a traffic router sets exact weights (meshes); False: weights follow pod counts."""
    analysis: AnalysisInputs = field(default_factory=AnalysisInputs)
    """Resolved analysis metrics and the measurements taken for this decision."""
    preflight: tuple[str, ...] | None = None
    """Failed preflight checks (None: not checked for this decision; empty: all passed)."""
    revision: str = ""
    """`revision_hash(template)` when the caller has it already ("": decide computes it)."""
    steps_hash: str = ""
    """`steps_hash(spec.strategy.steps)` when the caller has it already ("": computed)."""
