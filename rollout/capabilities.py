"""Spec rules that depend on the router: a step that asks a router for something it cannot
do is rejected (by `lint` and by the controller), naming the router and what it lacks —
never silently ignored."""

from __future__ import annotations

from rollout import registry
from rollout.errors import RegistryError
from rollout.models import Rollout
from rollout.routing import CANARY_SCALE, HEADER_ROUTE, MIRROR_ROUTE

STEPS = "spec.strategy.canary.steps"


def router_problems(rollout: Rollout) -> list[tuple[str, str]]:
    """(field path, reason) for each step its router cannot carry out."""
    strategy = rollout.spec.strategy
    if strategy.traffic_routing is None:
        return []
    name = strategy.traffic_routing.router_name
    try:
        router = registry.load("routers", name)
    except RegistryError as err:
        return [(f"{strategy.field}.trafficRouting.{name}", err.message)]
    have: frozenset[str] = router.capabilities
    problems = []
    for i, step in enumerate(strategy.steps):
        for needed, present in (
            (HEADER_ROUTE, step.set_header_route),
            (MIRROR_ROUTE, step.set_mirror_route),
            (CANARY_SCALE, step.set_canary_scale),
        ):
            if present is not None and needed not in have:
                can = ", ".join(sorted(have)) or "weights only"
                problems.append(
                    (
                        f"{STEPS}[{i}].{needed}",
                        f"the {name} router cannot do {needed} (it supports: {can})",
                    )
                )
    return problems
