"""Spec rules that depend on the router: a step that asks a router for something it cannot
do is rejected (by `lint` and by the controller), naming the router and what it lacks —
never silently ignored."""

from __future__ import annotations

from rollout import registry
from rollout.errors import RegistryError
from rollout.models import Rollout
from rollout.routing import BASELINE, CANARY_SCALE, HEADER_ROUTE, MIRROR_ROUTE

STEPS = "spec.strategy.canary.steps"


def router_problems(rollout: Rollout) -> list[tuple[str, str]]:
    """(field path, reason) for each step or feature its router cannot carry out."""
    strategy = rollout.spec.strategy
    if strategy.traffic_routing is None:
        return []
    name = strategy.traffic_routing.router_name
    try:
        router = registry.load("routers", name)
    except RegistryError as err:
        return [(f"{strategy.field}.trafficRouting.{name}", err.message)]
    return capability_problems(rollout, name, router.capabilities)


def capability_problems(rollout: Rollout, name: str, have: frozenset[str]) -> list[tuple[str, str]]:
    """(field path, reason) for each thing the spec asks of router `name` beyond `have`."""
    strategy = rollout.spec.strategy
    problems = []
    if strategy.canary is not None and strategy.canary.baseline and BASELINE not in have:
        problems.append(
            (
                f"{strategy.field}.baseline",
                f"the {name} router cannot split traffic three ways (stable, canary, baseline)"
                + (
                    ": ingress-nginx's canary Ingress takes one weight, the rest goes to the "
                    "stable Ingress"
                    if name == "nginx"
                    else ""
                )
                + "; drop trafficRouting to run a baseline by pod counts",
            )
        )
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
