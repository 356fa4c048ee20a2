"""Replica arithmetic: how many pods each revision should have, and how to get there safely.

Two bounds, as in a Deployment's rolling update:
- scaling *up* a surge-bounded revision keeps the total at most spec.replicas + maxSurge;
- scaling *down* keeps the pods available across all revisions at least
  spec.replicas - maxUnavailable. Unavailable pods can always go (they serve nothing).
Every reconcile moves one safe increment; the next reconcile, seeing new availability, moves on.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from rollout.engine.actions import ScaleRevision
from rollout.engine.world import World


def canary_replicas_for_weight(replicas: int, weight: int) -> int:
    """Without a traffic router the canary's weight is its share of pods (rounded up, so any
    weight above 0 gets at least one pod)."""
    return math.ceil(replicas * weight / 100)


def plan_scaling(
    *,
    targets: Mapping[str, int],
    world: World,
    replicas: int,
    max_surge: int,
    max_unavailable: int,
    surge_bounded: frozenset[str] = frozenset(),
    down_order: Sequence[str] = (),
) -> list[ScaleRevision]:
    """Scale actions moving existing revisions toward `targets`, within the two bounds.

    `down_order` lists revisions in the order they give up pods (first = first to shrink);
    revisions not listed shrink first of all.
    """
    specs = {rev: state.replicas for rev, state in world.revisions.items()}
    actions: list[ScaleRevision] = []

    for rev, target in targets.items():
        current = specs.get(rev)
        if current is None or target <= current:
            continue
        new = target
        if rev in surge_bounded:
            others = sum(n for r, n in specs.items() if r != rev)
            new = min(target, max(current, replicas + max_surge - others))
        if new != current:
            specs[rev] = new
            actions.append(ScaleRevision(rev, new))

    budget = sum(s.available for s in world.revisions.values()) - (replicas - max_unavailable)
    ranked = sorted(
        (rev for rev in targets if rev in specs),
        key=lambda r: down_order.index(r) if r in down_order else -1,
    )
    for rev in ranked:
        current, target = specs[rev], targets[rev]
        if target >= current:
            continue
        unavailable = world.revisions[rev].unavailable
        new = max(target, current - (unavailable + max(budget, 0)))
        if new != current:
            budget -= max(0, (current - new) - unavailable)
            specs[rev] = new
            actions.append(ScaleRevision(rev, new))
    return actions
