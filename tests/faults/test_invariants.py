"""The invariant checkers can fail: each is fed a good sequence of commits (it stays quiet) and
the same sequence with one thing wrong (it reports it), and the traffic checker also catches
a real controller made wrong on purpose (a mutation of the product, in this process only)."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

import pytest

from rollout import labels
from rollout.models.status import HISTORY_LIMIT
from rollout.reconciler import observe
from tests.e2e.harness import Cluster, in_process_controller
from tests.faults.invariants import (
    DecisionInvariant,
    HistoryInvariant,
    Invariants,
    TrafficInvariant,
    Violation,
)
from tests.faults.metrics_endpoint import MetricsEndpoint
from tests.faults.record import (
    DEPLOYMENTS,
    HTTP_ROUTES,
    ROLLOUTS,
    SERVICES,
    VIRTUAL_SERVICES,
    Change,
    StoreRecorder,
)
from tests.faults.scenario import PROMOTED, Kind, create, install, revisions

Obj = dict[str, Any]


class Commits:
    """Builds commits the way the sandbox publishes them: each with the next resourceVersion."""

    def __init__(self) -> None:
        self.rv = 0
        self.changes: list[Change] = []

    def add(self, kind: str, obj: Obj, type_: str = "MODIFIED") -> Commits:
        self.rv += 1
        obj = copy.deepcopy(obj)
        obj.setdefault("metadata", {})["resourceVersion"] = str(self.rv)
        self.changes.append(Change(kind, type_, obj))
        return self

    def deployment(self, revision: str, replicas: int, available: int) -> Commits:
        status = {"availableReplicas": available} if available else {}
        return self.add(
            DEPLOYMENTS,
            {
                "metadata": {
                    "name": f"app-{revision}",
                    "labels": {labels.NAME: "app", labels.REVISION: revision},
                },
                "spec": {"replicas": replicas},
                "status": status,
            },
        )

    def service(self, name: str, revision: str | None) -> Commits:
        selector = {"app": "app"} | ({labels.REVISION: revision} if revision else {})
        return self.add(SERVICES, {"metadata": {"name": name}, "spec": {"selector": selector}})

    def virtual_service(self, stable: int, canary: int) -> Commits:
        route = [
            {"destination": {"host": "app-stable"}, "weight": stable},
            {"destination": {"host": "app-canary.default.svc.cluster.local"}, "weight": canary},
        ]
        return self.add(
            VIRTUAL_SERVICES, {"metadata": {"name": "app"}, "spec": {"http": [{"route": route}]}}
        )

    def rollout(self, status: Obj) -> Commits:
        spec = {
            "strategy": {"canary": {"stableService": "app-stable", "canaryService": "app-canary"}}
        }
        return self.add(ROLLOUTS, {"metadata": {"name": "app"}, "spec": spec, "status": status})


def traffic(commits: Commits) -> list[Violation]:
    """Every traffic violation in the commits, as the fault run reports them."""
    checker = TrafficInvariant()
    return [v for c in commits.changes for v in checker.feed(c)]


def healthy_v1(*, router: bool = True) -> Commits:
    """v1 serving behind pinned Services (and a VirtualService at 100/0)."""
    commits = (
        Commits()
        .rollout({"stableRevision": "v1", "currentRevision": "v1"})
        .deployment("v1", 5, 5)
        .service("app-stable", "v1")
        .service("app-canary", "v1")
    )
    return commits.virtual_service(100, 0) if router else commits


# -- traffic -------------------------------------------------------------------------------------


def test_a_canary_step_done_in_the_safe_order_is_not_reported() -> None:
    """The order the product uses (as recorded from a real istio release): the canary's pods
    come up, then the weight moves; on promotion the stable is pinned only once v2 is full."""
    commits = (
        healthy_v1()
        .deployment("v2", 1, 0)
        .deployment("v2", 1, 1)
        .service("app-canary", "v2")
        .virtual_service(80, 20)
        .deployment("v2", 5, 1)
        .deployment("v2", 5, 5)
        .virtual_service(0, 100)
        .service("app-stable", "v2")
        .virtual_service(100, 0)
        .deployment("v1", 0, 5)
        .deployment("v1", 0, 0)
    )
    assert traffic(commits) == []


def test_weight_on_a_canary_without_available_pods_is_reported() -> None:
    """Both the canary Service's pin (its selector, reached directly) and the weight on it."""
    commits = (
        healthy_v1().deployment("v2", 1, 0).service("app-canary", "v2").virtual_service(80, 20)
    )
    pin, weight = traffic(commits)
    assert pin.rule == weight.rule == "traffic"
    assert (pin.rv, weight.rv) == (commits.rv - 1, commits.rv)
    assert pin.detail.startswith("Service app-canary selector -> revision v2")
    assert "weight 20 to Service app-canary" in weight.detail and "revision v2" in weight.detail


def test_a_revision_scaled_down_while_it_still_takes_weight_is_reported() -> None:
    """The status still counts 1 pod, but the Deployment was scaled to 0: its pods are going.
    This is the abort done in the wrong order (scale-down before the weight goes back)."""
    commits = (
        healthy_v1()
        .deployment("v2", 1, 1)
        .service("app-canary", "v2")
        .virtual_service(80, 20)
        .deployment("v2", 0, 1)  # scaled down first ...
        .virtual_service(100, 0)  # ... weight back second
    )
    found = traffic(commits)
    assert {v.rv for v in found} == {commits.rv - 1}, found
    assert any("weight 20 to Service app-canary" in v.detail for v in found), found


def test_a_stable_service_pinned_to_a_revision_without_pods_is_reported() -> None:
    commits = healthy_v1(router=False).deployment("v2", 5, 0).service("app-stable", "v2")
    (violation,) = traffic(commits)
    assert violation.detail.startswith("Service app-stable selector -> revision v2")
    # With a router, its weight on that Service is traffic on v2 too.
    routed = healthy_v1().deployment("v2", 5, 0).service("app-stable", "v2")
    assert len(traffic(routed)) == 2


def test_a_bad_state_is_reported_once_while_it_lasts_and_again_if_it_comes_back() -> None:
    commits = (
        healthy_v1(router=False)
        .deployment("v2", 1, 0)
        .service("app-stable", "v2")
        .deployment("v2", 1, 0)
        .deployment("v2", 1, 1)  # fine again
        .deployment("v2", 1, 0)  # bad again
    )
    assert [v.rv for v in traffic(commits)] == [6, 9]


def test_gateway_backend_refs_without_a_weight_count_as_weight_one() -> None:
    route = {"rules": [{"backendRefs": [{"name": "app-stable"}, {"name": "app-canary"}]}]}
    commits = (
        healthy_v1()
        .deployment("v2", 1, 0)
        .service("app-canary", "v2")
        .add(HTTP_ROUTES, {"metadata": {"name": "app"}, "spec": route})
    )
    assert [v.detail.split(" -> ")[0].split(":")[0] for v in traffic(commits)] == [
        "Service app-canary selector",  # pinned before its pods, itself a violation
        "httproutes app",
    ]


def test_arming_reports_a_bad_state_that_began_before() -> None:
    commits = healthy_v1(router=False).deployment("v2", 5, 0).service("app-stable", "v2")
    checker = TrafficInvariant(armed=False)
    assert [v for c in commits.changes for v in checker.feed(c)] == []
    assert len(checker.arm(-1)) == 1


# -- promoted and aborted ------------------------------------------------------------------------


def test_an_update_promoted_after_it_was_aborted_is_reported() -> None:
    good = (
        Commits()
        .rollout({"stableRevision": "v1", "currentRevision": "v2"})
        .rollout({"stableRevision": "v1", "currentRevision": "v2", "abort": True})
    )
    checker = DecisionInvariant()
    assert [v for c in good.changes for v in checker.feed(c)] == []
    bad = good.rollout({"stableRevision": "v2", "currentRevision": "v2", "abort": True})
    (violation,) = checker.feed(bad.changes[-1])
    assert violation.rule == "promoted-and-aborted" and "v2" in violation.detail


def test_a_history_with_both_promoted_and_aborted_is_reported() -> None:
    history = [
        {"reason": "Promoted", "revision": "v2"},
        {"reason": "RolloutAborted", "revision": "v2", "step": 1},
    ]
    commits = Commits().rollout(
        {"stableRevision": "v1", "currentRevision": "v1", "history": history}
    )
    assert [v.rule for c in commits.changes for v in DecisionInvariant().feed(c)] == [
        "promoted-and-aborted"
    ]


# -- history -------------------------------------------------------------------------------------


def entry(reason: str, step: int | None = None, revision: str = "v2") -> Obj:
    return {"reason": reason, "revision": revision, "step": step, "message": reason}


def history_violations(*histories: list[Obj]) -> list[str]:
    commits = Commits()
    for history in histories:
        commits.rollout({"history": history})
    checker = HistoryInvariant()
    return [v.rule for c in commits.changes for v in checker.feed(c)]


def test_a_history_that_only_grows_is_fine_also_past_its_limit() -> None:
    first = [entry("Deployed", revision="v1"), entry("NewRevision")]
    long = [entry("StepCompleted", i) for i in range(HISTORY_LIMIT)]
    assert history_violations(first, [*first, entry("StepCompleted", 0)]) == []
    assert history_violations(long[:-1], long, [*long[1:], entry("Promoted")]) == []


def test_a_lost_entry_is_reported() -> None:
    first = [entry("Deployed", revision="v1"), entry("NewRevision"), entry("StepCompleted", 0)]
    assert history_violations(first, [first[0], first[2]]) == ["history-lost"]
    # Dropping from the front is only the limit at work when the history is at the limit.
    assert history_violations(first, first[1:]) == ["history-lost"]


def test_an_entry_recorded_twice_is_reported() -> None:
    first = [entry("NewRevision"), entry("StepCompleted", 0)]
    assert history_violations(first, [*first, entry("StepCompleted", 0)]) == ["history-duplicate"]
    # A new update records its steps afresh.
    again = [*first, entry("NewRevision", revision="v3"), entry("StepCompleted", 0, "v3")]
    assert history_violations(first, again) == []


# -- against a real controller, mutated ------------------------------------------------------


@pytest.mark.e2e
def test_the_traffic_checker_catches_a_controller_that_trusts_desired_pods(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Mutation of the product (this process only): the controller counts a revision's
    desired pods as available, so it moves weight before the canary's pods are up. The
    checker, fed the commits of that run, must say so; unmutated, the same run is clean."""

    def trusting(rollout: Any, deployments: list[Obj]) -> dict[str, Any]:
        states = real(rollout, deployments)
        return {
            rev: dataclasses.replace(s, available=s.replicas, ready=s.replicas)
            for rev, s in states.items()
        }

    real = observe.revision_states
    found = {}
    for mutated in (False, True):
        if mutated:
            monkeypatch.setattr(observe, "revision_states", trusting)
        found[mutated] = release_one_istio_rollout()
    assert found[False] == []
    assert any("weight 20 to Service app00-canary" in v.detail for v in found[True]), found[True]


def release_one_istio_rollout() -> list[Violation]:
    cluster = Cluster(ready_delay=1.0)
    endpoint = MetricsEndpoint()
    recorder = StoreRecorder(cluster.sandbox)
    invariants = Invariants(traffic=TrafficInvariant(armed=False))
    controller = in_process_controller(cluster)
    try:
        install(cluster, endpoint.url)
        create(cluster, Kind("app", 1, PROMOTED, router="istio"), "app00")
        cluster.wait_phase("app00", "Healthy", timeout=20)
        invariants.feed(recorder.since(0))
        position = len(recorder)
        invariants.arm()
        cluster.api.set_image("default", "app00", "app", "app:v2")
        cluster.wait(
            "app00",
            lambda r: (r.get("status") or {}).get("stableRevision") == revisions("app00")[1],
            timeout=30,
            what="v2 promoted",
        )
        return invariants.feed(recorder.since(position))
    finally:
        controller.stop()
        cluster.close()
        endpoint.close()
