"""The contract every traffic router keeps (rollout/routing.py), as checks anyone can run.

Our routers run it in tests/meshes/test_contract.py; a third-party router registered under
the `rollout.routers` entry point runs it the same way:

    from rollout.testing.router_contract import RouterCase, run_contract
    run_contract(RouterCase(id="mine", router=MyRouter, setup=..., rollout=..., objects=...,
                            validate=..., header_route=None))

Each check starts a fresh sandbox API server (with our CRDs), lets the case create the user's
routing objects, and asserts on the objects in the cluster. A failed check raises
ContractViolation naming the case and the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from rollout.capabilities import capability_problems
from rollout.errors import ConflictError
from rollout.install import install_crds
from rollout.kube import Kube
from rollout.models import RevisionWeight, Rollout
from rollout.models.traffic import SetHeaderRoute
from rollout.routing import BASELINE, HEADER_ROUTE, RouterError, TrafficRouter
from rollout.sandbox import Sandbox, start_sandbox

STABLE, CANARY = "stablehash1", "canaryhash2"
BASELINE_REVISION = f"{STABLE}-baseline"
WRITES = ("create", "update", "patch", "delete")
ANY_HEADER_ROUTE = SetHeaderRoute.model_validate(
    {
        "name": "canary-header",
        "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}],
    }
)


class ContractViolation(AssertionError):  # noqa: N818  (an assertion, named for what it means)
    """A router broke one of the rules of rollout/routing.py."""


@dataclass(frozen=True)
class RouterCase:
    id: str
    router: type
    setup: Callable[[Kube], None]
    """Install the CRDs it needs, create the user's routing objects and the two Services."""
    rollout: Callable[[], Rollout]
    """The Rollout (name "app", namespace "default", uid "u1") using them."""
    objects: Callable[[Kube], list[dict[str, Any]]]
    """The routing objects as they are now."""
    validate: Callable[[dict[str, Any]], None]
    """Schema validation of one of those objects (raises on an invalid one)."""
    header_route: SetHeaderRoute | None
    """A header route the router supports in this case, or None if it must refuse them."""


@dataclass
class Env:
    case: RouterCase
    sandbox: Sandbox
    kube: Kube
    router: TrafficRouter

    def writes(self) -> list[Any]:
        return [r for r in self.sandbox.requests.entries() if r.verb in WRITES]

    def expect(self, ok: bool, rule: str) -> None:
        if not ok:
            raise ContractViolation(f"{self.case.id}: {rule}")

    def validate_objects(self) -> None:
        for obj in self.case.objects(self.kube):
            self.case.validate(obj)


@contextmanager
def environment(case: RouterCase) -> Iterator[Env]:
    sandbox = start_sandbox()
    kube = Kube(sandbox.api_client())
    try:
        install_crds(kube)
        case.setup(kube)
        yield Env(case, sandbox, kube, case.router(kube))
    finally:
        kube.close()
        sandbox.stop()


def check_round_trip(env: Env) -> None:
    """set_weight then read gives back exactly the weights and revisions set."""
    rollout = env.case.rollout()
    for weight in (0, 20, 50, 100, 0):
        env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=weight)
        weights = env.router.read(rollout).weights
        env.expect(weights is not None, f"read() reports no weights after set_weight({weight})")
        assert weights is not None
        env.expect(
            (weights.canary.revision, weights.canary.weight) == (CANARY, weight)
            and (weights.stable.revision, weights.stable.weight) == (STABLE, 100 - weight),
            f"read() gives {weights} after set_weight({weight})",
        )
        env.validate_objects()


def check_one_write(env: Env) -> None:
    """A weight change is one write; writing what is there writes nothing."""
    rollout = env.case.rollout()
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=10)  # may pin subsets
    env.sandbox.requests.clear()
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=30)
    env.expect(len(env.writes()) == 1, f"a weight change made {len(env.writes())} writes")
    env.sandbox.requests.clear()
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=30)
    env.expect(env.writes() == [], "re-applying the same weight wrote something")


def check_conflict(env: Env) -> None:
    """A 409 propagates as ConflictError and changes nothing (no stale merge, no retry)."""
    rollout = env.case.rollout()
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=10)
    before = env.case.objects(env.kube)
    env.sandbox.faults.add(verb="update", code=409, count=5)
    env.sandbox.faults.add(verb="patch", code=409, count=5)
    try:
        env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=60)
    except ConflictError:
        pass
    else:
        raise ContractViolation(f"{env.case.id}: a 409 did not raise ConflictError")
    finally:
        env.sandbox.faults.clear()
    env.expect(env.case.objects(env.kube) == before, "a refused write changed the objects")


def check_header_routes(env: Env) -> None:
    """Supported header routes come and go; unsupported ones are refused before any write."""
    rollout, route = env.case.rollout(), env.case.header_route
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=10)
    if route is None:
        env.sandbox.requests.clear()
        try:
            env.router.set_header_route(rollout, ANY_HEADER_ROUTE)
        except RouterError:
            env.expect(env.writes() == [], "a refused header route wrote something")
            return
        raise ContractViolation(f"{env.case.id}: an unsupported header route was not refused")
    env.expect(HEADER_ROUTE in env.router.capabilities, "header route without the capability")
    env.router.set_header_route(rollout, route)
    env.expect(route.name in env.router.read(rollout).header_routes, "header route not read back")
    env.validate_objects()
    env.router.remove_managed_routes(rollout)
    state = env.router.read(rollout)
    env.expect(state.header_routes == frozenset(), "remove_managed_routes left a header route")
    env.expect(
        state.weights is not None and state.weights.canary.weight == 10,
        "removing routes changed the weights",
    )


def check_finalize(env: Env) -> None:
    """finalize: 100% stable (or the router's own object gone), no managed routes."""
    rollout = env.case.rollout()
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=40)
    if env.case.header_route is not None:
        env.router.set_header_route(rollout, env.case.header_route)
    env.router.finalize(rollout, stable=STABLE)
    state = env.router.read(rollout)
    env.expect(
        state.header_routes == frozenset() and state.mirror_routes == frozenset(),
        "finalize left managed routes",
    )
    env.expect(
        state.weights is None or state.weights.canary.weight == 0,
        "finalize left traffic on the canary",
    )
    env.validate_objects()


def with_baseline(rollout: Rollout) -> Rollout:
    """The case's Rollout with a baseline (and its Service, `<name>-baseline`)."""
    doc = rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    canary = doc["spec"]["strategy"]["canary"]
    canary.update(
        baseline=True,
        baselineService=f"{rollout.metadata.name}-baseline",
        steps=[{"setWeight": 20}],
    )
    return Rollout.model_validate(doc)


def check_baseline(env: Env) -> None:
    """A router with the BASELINE capability splits three ways in one write and reads the
    baseline back; without the capability (or in a mode that cannot), the spec check refuses
    a baseline."""
    try:
        rollout = with_baseline(env.case.rollout())
    except ValidationError as err:  # the router's mode cannot: the spec says so
        env.expect("baseline" in str(err), f"a baseline was refused for another reason: {err}")
        return
    if BASELINE not in env.router.capabilities:
        have = env.router.capabilities
        fields = [field for field, _ in capability_problems(rollout, env.router.name, have)]
        env.expect(
            fields == ["spec.strategy.canary.baseline"],
            f"a baseline on a router without the capability was not refused ({fields})",
        )
        return
    for canary, share in ((10, 10), (40, 40), (30, 0), (100, 0)):
        baseline = RevisionWeight(revision=BASELINE_REVISION, weight=share) if share else None
        env.router.set_weight(
            rollout, stable=STABLE, canary=CANARY, weight=canary, baseline=baseline
        )
        weights = env.router.read(rollout).weights
        env.expect(weights is not None, "read() reports no weights after a three-way split")
        assert weights is not None
        got = weights.baseline
        env.expect(
            (weights.stable.weight, weights.canary.weight) == (100 - canary - share, canary)
            and (
                (got is not None and (got.revision, got.weight) == (BASELINE_REVISION, share))
                if share
                else (got is None or got.weight == 0)
            ),
            f"read() gives {weights} after canary {canary}%, baseline {share}%",
        )
        env.validate_objects()
    # A change of the three weights is one write (the first may also pin subsets: above).
    twin = RevisionWeight(revision=BASELINE_REVISION, weight=15)
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=15, baseline=twin)
    env.sandbox.requests.clear()
    twin = RevisionWeight(revision=BASELINE_REVISION, weight=25)
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=25, baseline=twin)
    env.expect(len(env.writes()) == 1, f"a three-way change made {len(env.writes())} writes")
    env.sandbox.requests.clear()
    env.router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=25, baseline=twin)
    env.expect(env.writes() == [], "re-applying the same three-way split wrote something")


CHECKS: dict[str, Callable[[Env], None]] = {
    "round-trip": check_round_trip,
    "one-write": check_one_write,
    "conflict": check_conflict,
    "header-routes": check_header_routes,
    "finalize": check_finalize,
    "baseline": check_baseline,
}


def run_check(case: RouterCase, name: str) -> None:
    with environment(case) as env:
        CHECKS[name](env)


def run_contract(case: RouterCase) -> None:
    """Every check, each in a fresh sandbox. Raises ContractViolation on the first broken rule."""
    for name in CHECKS:
        run_check(case, name)
