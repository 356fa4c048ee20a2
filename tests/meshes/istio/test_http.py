"""The istio router against the sandbox API server with the upstream Istio CRDs installed.

Every test asserts on the objects as stored in the sandbox, and validates every object the
router wrote against the upstream CRD schema. One sandbox serves the module (starting one per
test would dominate the run time); each test gets fresh routing objects and an empty log."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from meshes.istio import (
    CANARY_REVISION,
    STABLE_REVISION,
    IstioRouter,
)
from rollout import labels
from rollout.errors import ConflictError
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from rollout.routing import RoutingObjectNotFoundError
from tests.e2e.harness import Cluster
from tests.meshes import cases_istio as cases
from tests.meshes.istio.tools import (
    C1,
    C2,
    S1,
    Obj,
    dr,
    header,
    http,
    make,
    masked,
    rich,
    vs,
    weights,
    writes,
)


# -- weights -----------------------------------------------------------------------------------
def test_host_mode_round_trips_and_records_the_revisions(kube_env: Cluster) -> None:
    make(kube_env, cases.virtual_service("app-vs", [cases.host_route()]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout()
    assert router.read(rollout).weights is None  # never set: we cannot tell the revisions
    for w in (0, 20, 50, 100):
        router.set_weight(rollout, stable=S1, canary=C1, weight=w)
        got = router.read(rollout).weights
        assert got is not None
        assert (got.stable.revision, got.stable.weight) == (S1, 100 - w)
        assert (got.canary.revision, got.canary.weight) == (C1, w)
        obj = vs(kube_env)
        assert weights(http(obj, "primary")) == [("app-stable", 100 - w), ("app-canary", w)]
        notes = obj["metadata"]["annotations"]
        assert (notes[STABLE_REVISION], notes[CANARY_REVISION]) == (S1, C1)


def test_subset_mode_pins_the_subsets_before_the_weights(kube_env: Cluster) -> None:
    make(
        kube_env,
        cases.destination_rule(),
        cases.virtual_service("app-vs", [cases.subset_route()]),
    )
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(subset=True)
    before = dr(kube_env)
    for w in (0, 20, 50, 100):
        router.set_weight(rollout, stable=S1, canary=C1, weight=w)
        got = router.read(rollout).weights
        assert got is not None
        assert (got.stable.revision, got.stable.weight, got.canary.revision) == (S1, 100 - w, C1)
        assert weights(http(vs(kube_env), "primary")) == [("stable", 100 - w), ("canary", w)]
    rule = dr(kube_env)
    subsets = {s["name"]: s for s in rule["spec"]["subsets"]}
    assert subsets["stable"]["labels"] == {"app": "app", labels.REVISION: S1}  # merged
    assert subsets["canary"]["labels"] == {"app": "app", labels.REVISION: C1}
    assert subsets["legacy"] == before["spec"]["subsets"][2]
    assert rule["spec"]["trafficPolicy"] == before["spec"]["trafficPolicy"]
    assert "annotations" not in vs(kube_env)["metadata"]  # the DR labels are the record

    kube_env.sandbox.requests.clear()  # a new canary revision at a new weight: DR, then VS
    router.set_weight(rollout, stable=S1, canary=C2, weight=10)
    assert writes(kube_env) == [
        ("update", "destinationrules", "app-dr"),
        ("update", "virtualservices", "app-vs"),
    ]
    got = router.read(rollout).weights
    assert got is not None and (got.canary.revision, got.canary.weight) == (C2, 10)


@pytest.mark.parametrize("subset", [False, True], ids=["host", "subset"])
def test_one_write_per_change_and_none_without_one(kube_env: Cluster, subset: bool) -> None:
    route = cases.subset_route() if subset else cases.host_route()
    make(kube_env, cases.destination_rule(), cases.virtual_service("app-vs", [route]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(subset=subset)
    router.set_weight(rollout, stable=S1, canary=C1, weight=10)
    kube_env.sandbox.requests.clear()
    router.set_weight(rollout, stable=S1, canary=C1, weight=30)
    assert writes(kube_env) == [("update", "virtualservices", "app-vs")]
    kube_env.sandbox.requests.clear()
    router.set_weight(rollout, stable=S1, canary=C1, weight=30)
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "1"}))
    kube_env.sandbox.requests.clear()
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "1"}))
    router.set_weight(rollout, stable=S1, canary=C1, weight=30)
    assert writes(kube_env) == []


def test_a_conflict_raises_and_leaves_the_object_alone(kube_env: Cluster) -> None:
    make(kube_env, cases.virtual_service("app-vs", [cases.host_route()]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout()
    router.set_weight(rollout, stable=S1, canary=C1, weight=10)
    before = vs(kube_env)
    kube_env.sandbox.requests.clear()
    kube_env.sandbox.faults.add(verb="update", resource="virtualservices", code=409)
    with pytest.raises(ConflictError):
        router.set_weight(rollout, stable=S1, canary=C1, weight=60)
    assert vs(kube_env) == before
    assert writes(kube_env) == [("update", "virtualservices", "app-vs")]  # no retry inside


def test_a_missing_canary_destination_is_added_beside_the_stable_one(kube_env: Cluster) -> None:
    only_stable = {
        "name": "primary",
        "route": [
            {
                "destination": {
                    "host": "app-stable.default.svc.cluster.local",
                    "port": {"number": 8080},
                }
            }
        ],
    }
    make(kube_env, cases.virtual_service("app-vs", [only_stable]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout()
    router.set_weight(rollout, stable=S1, canary=C1, weight=25)
    assert http(vs(kube_env), "primary")["route"] == [
        {
            "destination": {
                "host": "app-stable.default.svc.cluster.local",
                "port": {"number": 8080},
            },
            "weight": 75,
        },
        {
            "destination": {
                "host": "app-canary.default.svc.cluster.local",
                "port": {"number": 8080},
            },
            "weight": 25,
        },
    ]
    got = router.read(rollout).weights
    assert got is not None and got.canary.weight == 25


def test_everything_not_managed_stays_identical(kube_env: Cluster) -> None:
    make(kube_env, rich())
    router, rollout = IstioRouter(kube_env.kube), cases.rollout()
    before = vs(kube_env)
    router.set_weight(rollout, stable=S1, canary=C1, weight=30)
    router.set_header_route(rollout, header("canary-header", x_canary={"regex": "^y.*"}))
    router.set_mirror_route(
        rollout,
        SetMirrorRoute.model_validate({"name": "canary-mirror", "percentage": 5}),
    )
    after = vs(kube_env)
    assert [r.get("name") for r in after["spec"]["http"]] == [
        "health",
        "canary-header",
        "canary-mirror",
        "primary",
        "fallback",
    ]
    assert masked(after) == masked(before)
    assert weights(http(after, "primary")) == [("app-stable", 70), ("app-canary", 30)]
    router.finalize(rollout, stable=S1)
    final = vs(kube_env)
    assert masked(final) == masked(before)
    assert final["metadata"]["annotations"] == {"note": "keep me"}
    assert weights(http(final, "primary")) == [("app-stable", 100), ("app-canary", 0)]


# -- header and mirror routes ------------------------------------------------------------------
def test_header_routes_add_update_remove_in_precedence_order(kube_env: Cluster) -> None:
    make(kube_env, cases.virtual_service("app-vs", [cases.host_route()]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout()
    router.set_weight(rollout, stable=S1, canary=C1, weight=10)
    router.set_header_route(rollout, header("second-header", x_user={"prefix": "beta-"}))
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "yes"}))
    obj = vs(kube_env)
    assert [r["name"] for r in obj["spec"]["http"]] == ["canary-header", "second-header", "primary"]
    assert http(obj, "canary-header") == {
        "name": "canary-header",
        "match": [{"headers": {"x-canary": {"exact": "yes"}}}],
        "route": [{"destination": {"host": "app-canary", "port": {"number": 80}}, "weight": 100}],
    }
    # update: two headers become one match block (both must match)
    router.set_header_route(
        rollout, header("canary-header", x_canary={"exact": "no"}, x_b={"regex": "a+"})
    )
    assert http(vs(kube_env), "canary-header")["match"] == [
        {"headers": {"x-canary": {"exact": "no"}, "x-b": {"regex": "a+"}}}
    ]
    assert router.read(rollout).header_routes == {"canary-header", "second-header"}
    router.set_header_route(rollout, SetHeaderRoute(name="canary-header"))  # empty: remove
    assert [r["name"] for r in vs(kube_env)["spec"]["http"]] == ["second-header", "primary"]
    router.remove_managed_routes(rollout)
    assert [r["name"] for r in vs(kube_env)["spec"]["http"]] == ["primary"]
    state = router.read(rollout)
    assert state.header_routes == frozenset() and state.weights is not None
    assert state.weights.canary.weight == 10


def test_subset_header_route_targets_the_canary_subset(kube_env: Cluster) -> None:
    make(
        kube_env,
        cases.destination_rule(),
        cases.virtual_service("app-vs", [cases.subset_route()]),
    )
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(subset=True)
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "yes"}))
    assert http(vs(kube_env), "canary-header")["route"] == [
        {"destination": {"host": "app", "subset": "canary"}, "weight": 100}
    ]


def test_mirror_routes_copy_the_split_follow_it_and_go(kube_env: Cluster) -> None:
    make(kube_env, cases.virtual_service("app-vs", [cases.host_route()]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout()
    router.set_weight(rollout, stable=S1, canary=C1, weight=10)
    mirror = SetMirrorRoute.model_validate(
        {
            "name": "canary-mirror",
            "match": [{"headerName": "x-debug", "headerValue": {"exact": "1"}}],
            "percentage": 35,
        }
    )
    router.set_mirror_route(rollout, mirror)
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "yes"}))
    obj = vs(kube_env)
    assert [r["name"] for r in obj["spec"]["http"]] == ["canary-header", "canary-mirror", "primary"]
    route = http(obj, "canary-mirror")
    assert route["match"] == [{"headers": {"x-debug": {"exact": "1"}}}]
    assert route["mirror"] == {"host": "app-canary", "port": {"number": 80}}
    assert route["mirrorPercentage"] == {"value": 35.0}
    assert weights(route) == [("app-stable", 90), ("app-canary", 10)]
    state = router.read(rollout)
    assert state.mirror_routes == {"canary-mirror"} and state.header_routes == {"canary-header"}
    router.set_weight(rollout, stable=S1, canary=C1, weight=40)  # the copy follows the split
    assert weights(http(vs(kube_env), "canary-mirror")) == [("app-stable", 60), ("app-canary", 40)]
    router.set_mirror_route(rollout, SetMirrorRoute(name="canary-mirror"))  # remove
    assert [r["name"] for r in vs(kube_env)["spec"]["http"]] == ["canary-header", "primary"]
    assert router.read(rollout).mirror_routes == frozenset()


def test_the_single_unnamed_route_is_managed_when_routes_are_not_named(kube_env: Cluster) -> None:
    route = cases.host_route()
    del route["name"]
    make(kube_env, cases.virtual_service("app-vs", [route]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(routes=[])
    router.set_weight(rollout, stable=S1, canary=C1, weight=20)
    # our own header route does not make it ambiguous
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "yes"}))
    router.set_weight(rollout, stable=S1, canary=C1, weight=40)
    obj = vs(kube_env)
    assert weights(obj["spec"]["http"][1]) == [("app-stable", 60), ("app-canary", 40)]


def test_several_virtual_services_one_write_each(kube_env: Cluster) -> None:
    make(
        kube_env,
        cases.virtual_service("vs-a", [cases.host_route()]),
        cases.virtual_service("vs-b", [cases.host_route()]),
    )
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(services=["vs-a", "vs-b"])
    router.set_weight(rollout, stable=S1, canary=C1, weight=20)
    assert sorted(writes(kube_env)) == [
        ("update", "virtualservices", "vs-a"),
        ("update", "virtualservices", "vs-b"),
    ]
    got = router.read(rollout).weights
    assert got is not None and got.canary.weight == 20
    kube_env.sandbox.faults.add(verb="update", resource="virtualservices", name="vs-b", code=409)
    with pytest.raises(ConflictError):
        router.set_weight(rollout, stable=S1, canary=C1, weight=50)
    assert router.read(rollout).weights is None  # they disagree: not verified


# -- finalize and errors -----------------------------------------------------------------------
@pytest.mark.parametrize("subset", [False, True], ids=["host", "subset"])
def test_finalize_restores_stable_and_removes_our_routes(kube_env: Cluster, subset: bool) -> None:
    route = cases.subset_route() if subset else cases.host_route()
    make(kube_env, cases.destination_rule(), cases.virtual_service("app-vs", [route]))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(subset=subset)
    router.set_weight(rollout, stable=S1, canary=C1, weight=60)
    router.set_header_route(rollout, header("canary-header", x_canary={"exact": "yes"}))
    router.set_mirror_route(rollout, SetMirrorRoute(name="canary-mirror", percentage=10))
    pinned = dr(kube_env)
    kube_env.sandbox.requests.clear()
    router.finalize(rollout, stable=S1)
    assert writes(kube_env) == [("update", "virtualservices", "app-vs")]  # nothing deleted
    obj = vs(kube_env)
    assert [r["name"] for r in obj["spec"]["http"]] == ["primary"]
    assert [w for _, w in weights(http(obj, "primary"))] == [100, 0]
    assert STABLE_REVISION not in (obj["metadata"].get("annotations") or {})
    assert dr(kube_env) == pinned  # DR labels left as they are


def test_finalize_tolerates_a_deleted_virtual_service(kube_env: Cluster) -> None:
    router = IstioRouter(kube_env.kube)
    router.finalize(cases.rollout(), stable=S1)
    assert writes(kube_env) == []


def _dup_unnamed() -> list[Obj]:
    a, b = cases.host_route(), cases.host_route()
    del a["name"], b["name"]
    return [a, b]


@pytest.mark.parametrize(
    ("objects", "options", "message"),
    [
        ([], {}, "VirtualService default/app-vs not found"),
        ([cases.virtual_service("app-vs", [cases.host_route("other")])], {}, "'primary'"),
        (
            [cases.virtual_service("app-vs", _dup_unnamed())],
            {"routes": []},
            "has 2 HTTP routes",
        ),
        (
            [cases.virtual_service("app-vs", [cases.subset_route()])],
            {"subset": True},
            "DestinationRule default/app-dr not found",
        ),
        (
            [cases.destination_rule(), cases.virtual_service("app-vs", [cases.subset_route()])],
            {"subset": True, "managed": []},
            None,  # control: this one works
        ),
        (
            [
                cases.virtual_service(
                    "app-vs", [{"name": "primary", "route": [{"destination": {"host": "x"}}]}]
                )
            ],
            {},
            "no stable destination",
        ),
    ],
    ids=["no-vs", "no-route", "ambiguous", "no-dr", "control", "no-stable"],
)
def test_missing_objects_are_named_before_any_write(
    kube_env: Cluster, objects: list[Obj], options: dict[str, Any], message: str | None
) -> None:
    make(kube_env, *copy.deepcopy(objects))
    router, rollout = IstioRouter(kube_env.kube), cases.rollout(**options)
    if message is None:
        router.set_weight(rollout, stable=S1, canary=C1, weight=5)
        return
    calls: list[Callable[[], object]] = [
        lambda: router.set_weight(rollout, stable=S1, canary=C1, weight=5),
        lambda: router.read(rollout),
        lambda: router.set_header_route(rollout, header("canary-header", x_a={"exact": "1"})),
    ]
    for call in calls:
        with pytest.raises(RoutingObjectNotFoundError, match=message):
            call()
    assert writes(kube_env) == []


def test_a_missing_subset_is_named_before_any_write(kube_env: Cluster) -> None:
    rule = cases.destination_rule()
    rule["spec"]["subsets"] = rule["spec"]["subsets"][:1]
    make(kube_env, rule, cases.virtual_service("app-vs", [cases.subset_route()]))
    router = IstioRouter(kube_env.kube)
    with pytest.raises(RoutingObjectNotFoundError, match="no subset 'canary'"):
        router.set_weight(cases.rollout(subset=True), stable=S1, canary=C1, weight=5)
    assert writes(kube_env) == []
