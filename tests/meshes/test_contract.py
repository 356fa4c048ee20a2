"""Every router, one contract (see tests/meshes/contract.py and rollout/routing.py)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rollout.errors import ConflictError
from rollout.models.traffic import SetHeaderRoute
from rollout.routing import HEADER_ROUTE, RouterError, TrafficRouter
from tests.e2e.harness import Cluster
from tests.meshes.contract import RouterCase, all_cases

CASES = all_cases()
STABLE, CANARY = "stablehash1", "canaryhash2"
WRITES = ("create", "update", "patch", "delete")


ANY_HEADER_ROUTE = SetHeaderRoute.model_validate(
    {
        "name": "canary-header",
        "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}],
    }
)


def ids(cases: list[RouterCase]) -> list[str]:
    return [c.id for c in cases]


@contextmanager
def started(case: RouterCase) -> Iterator[tuple[Cluster, TrafficRouter]]:
    cluster = Cluster()
    try:
        case.setup(cluster.kube)
        yield cluster, case.router(cluster.kube)
    finally:
        cluster.close()


@pytest.fixture(params=CASES, ids=ids(CASES))
def case(request: pytest.FixtureRequest) -> Iterator[tuple[RouterCase, Cluster, TrafficRouter]]:
    with started(request.param) as (cluster, router):
        yield request.param, cluster, router


def writes(cluster: Cluster) -> list[Any]:
    return [r for r in cluster.sandbox.requests.entries() if r.verb in WRITES]


def test_the_cases_cover_every_router_registered() -> None:
    from rollout.registry import installed  # noqa: PLC0415

    covered = {c.router.name for c in CASES}
    assert covered >= set(installed("routers")) - {"replicas"}


def test_set_then_read_round_trips(case: tuple[RouterCase, Cluster, TrafficRouter]) -> None:
    spec, cluster, router = case
    rollout = spec.rollout()
    for weight in (0, 20, 50, 100, 0):
        router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=weight)
        state = router.read(rollout)
        assert state.weights is not None
        assert (state.weights.canary.revision, state.weights.canary.weight) == (CANARY, weight)
        assert (state.weights.stable.revision, state.weights.stable.weight) == (
            STABLE,
            100 - weight,
        )
        for obj in spec.objects(cluster.kube):
            spec.validate(obj)


def test_a_weight_change_is_one_write_and_no_change_is_none(
    case: tuple[RouterCase, Cluster, TrafficRouter],
) -> None:
    spec, cluster, router = case
    rollout = spec.rollout()
    router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=10)  # first: may pin subsets
    cluster.sandbox.requests.clear()
    router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=30)
    assert len(writes(cluster)) == 1
    cluster.sandbox.requests.clear()
    router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=30)
    assert writes(cluster) == []


def test_a_conflict_propagates_and_changes_nothing(
    case: tuple[RouterCase, Cluster, TrafficRouter],
) -> None:
    spec, cluster, router = case
    rollout = spec.rollout()
    router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=10)
    before = spec.objects(cluster.kube)
    cluster.sandbox.faults.add(verb="update", code=409, count=5)
    cluster.sandbox.faults.add(verb="patch", code=409, count=5)
    with pytest.raises(ConflictError):
        router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=60)
    cluster.sandbox.faults.clear()
    assert spec.objects(cluster.kube) == before


def test_header_routes_come_and_go_or_are_refused(
    case: tuple[RouterCase, Cluster, TrafficRouter],
) -> None:
    """A case with a header route must carry it out; a case without one (the router or this
    mode cannot) must refuse before any write."""
    spec, cluster, router = case
    rollout = spec.rollout()
    router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=10)
    if spec.header_route is None:
        cluster.sandbox.requests.clear()
        with pytest.raises(RouterError):
            router.set_header_route(rollout, ANY_HEADER_ROUTE)
        assert writes(cluster) == []
        return
    assert HEADER_ROUTE in router.capabilities
    router.set_header_route(rollout, spec.header_route)
    assert spec.header_route.name in router.read(rollout).header_routes
    for obj in spec.objects(cluster.kube):
        spec.validate(obj)
    router.remove_managed_routes(rollout)
    state = router.read(rollout)
    assert state.header_routes == frozenset()
    assert state.weights is not None and state.weights.canary.weight == 10


def test_finalize_puts_everything_back_on_stable(
    case: tuple[RouterCase, Cluster, TrafficRouter],
) -> None:
    spec, cluster, router = case
    rollout = spec.rollout()
    router.set_weight(rollout, stable=STABLE, canary=CANARY, weight=40)
    if spec.header_route is not None:
        router.set_header_route(rollout, spec.header_route)
    router.finalize(rollout, stable=STABLE)
    state = router.read(rollout)
    assert state.header_routes == frozenset() and state.mirror_routes == frozenset()
    # Either weights read back 100/0, or the router deleted its own object (nginx's canary
    # Ingress, an SMI TrafficSplit), which leaves all traffic on stable.
    assert state.weights is None or state.weights.canary.weight == 0
    for obj in spec.objects(cluster.kube):
        spec.validate(obj)
