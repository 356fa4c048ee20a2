"""/metrics end to end: the controller (metrics on 127.0.0.1) against the sandbox, a real
release and a real abort, scraped over HTTP and parsed as Prometheus would."""

from __future__ import annotations

from collections import Counter

from rollout.kube import ROLLOUTS
from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster
from tests.metrics.scrape import Scrape, scrape, scrape_until


def decisions(found: Scrape) -> Counter[str]:
    return Counter(
        {
            s.labels["reason"]: int(s.value)
            for s in found.series("rollout_decisions_total")
            if s.value
        }
    )


def info(found: Scrape, name: str) -> list[dict[str, str]]:
    return [s.labels for s in found.series("rollout_info", name=name)]


def test_a_release_is_counted_once_per_decision_and_shown_by_phase(
    cluster: Cluster, metered: Controller
) -> None:
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")
    before = decisions(scrape(metered.metrics_port))
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_step("app", 3)  # the manual pause, with the canary at 3 of 5 pods
    status = cluster.status("app")
    paused = scrape_until(
        metered.metrics_port,
        lambda s: info(s, "app") and info(s, "app")[0]["phase"] == "Paused",
        what="phase Paused in rollout_info",
    )
    assert info(paused, "app") == [
        {
            "namespace": NS,
            "name": "app",
            "phase": "Paused",
            "strategy": "canary",
            "router": "none",
        }
    ]
    assert paused.value("rollout_current_step_index", namespace=NS, name="app") == 3
    canary_weight = status["canary"]["weights"]["canary"]["weight"]
    assert canary_weight > 0
    assert paused.value("rollout_canary_weight", namespace=NS, name="app") == canary_weight
    v2 = status["currentRevision"]
    assert (
        paused.value("rollout_replicas", namespace=NS, name="app", role="canary")
        == (cluster.replicas("app")[v2][0])
    )

    cluster.api.promote(NS, "app")
    cluster.wait_phase("app", "Healthy")
    done = scrape_until(
        metered.metrics_port,
        lambda s: decisions(s)["Promoted"] > before["Promoted"],
        what="Promoted counted",
    )
    history = Counter(h["reason"] for h in cluster.status("app")["history"])
    # Every history entry the controller wrote is counted exactly once, no more.
    assert decisions(done) == history
    assert decisions(done)["Promoted"] == before["Promoted"] + 1
    assert decisions(done) - before == Counter(
        {"NewRevision": 1, "StepCompleted": 3, "StepPromoted": 1, "Promoted": 1}
    )
    assert [i["phase"] for i in info(done, "app")] == ["Healthy"]  # no stale Paused series
    assert done.value("rollout_reconcile_duration_seconds_count") > 0
    assert done.value("rollout_reconcile_duration_seconds_sum") > 0
    # The requests the API server logged are the ones the controller counted (the test itself
    # writes with PATCH, never PUT, and creates no Events). Requests may still be under way
    # (the old revision's scale-down): the two must agree once they are done.
    api = "rollout_api_requests_total"

    def agrees(found: Scrape) -> bool:
        served = Counter(
            (r.verb, r.resource, r.subresource, r.status)
            for r in cluster.sandbox.requests.entries()
        )
        put = found.value(api, verb="PUT", resource="rollouts", subresource="status", code="200")
        events = found.value(api, verb="POST", resource="events", subresource="", code="201")
        return (
            put == served[("update", "rollouts", "status", 200)]
            and events == served[("create", "events", None, 201)]
        )

    done = scrape_until(metered.metrics_port, agrees, what="the API server's log agrees")
    assert done.value(api, verb="PUT", resource="rollouts", subresource="status", code="200") > 0
    # One Event per decision, each a POST the API server answered 201.
    events = done.value(api, verb="POST", resource="events", subresource="", code="201")
    assert events == sum(history.values())
    assert done.value(api, verb="LIST", resource="rollouts", subresource="", code="200") >= 1
    assert done.value(api, verb="WATCH", resource="rollouts", subresource="", code="200") >= 1
    assert done.value("rollout_controller_leader") == 1
    assert done.value("rollout_workqueue_adds_total") > 0
    assert done.value("rollout_workqueue_depth") >= 0


def test_an_abort_is_counted_and_the_rollout_shown_degraded(
    cluster: Cluster, metered: Controller
) -> None:
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_step("app", 1)
    cluster.api.abort(NS, "app")
    cluster.wait_phase("app", "Degraded")
    found = scrape_until(
        metered.metrics_port,
        lambda s: (
            s.value("rollout_replicas", namespace=NS, name="app", role="canary") == 0
            and s.value("rollout_canary_weight", namespace=NS, name="app") == 0
        ),
        what="the canary scaled down in the metrics",
    )
    assert decisions(found)["RolloutAborted"] == 1
    assert decisions(found)["Promoted"] == 0
    assert [i["phase"] for i in info(found, "app")] == ["Degraded"]
    assert found.value("rollout_replicas", namespace=NS, name="app", role="stable") == 5
    assert found.value("rollout_available_replicas", namespace=NS, name="app", role="stable") == 5


def test_injected_faults_are_counted_by_http_code_and_error_kind(
    cluster: Cluster, metered: Controller
) -> None:
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")
    faults = cluster.sandbox.faults
    faults.add(verb="update", resource="rollouts", subresource="status", code=409, count=1)
    faults.add(verb="patch", resource="deployments", code=500, count=1)
    faults.add(verb="patch", resource="services", code="timeout", count=1, hold=0.2)
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_step("app", 3, timeout=60)  # reconciling went on through all three
    assert faults.active() == []
    found = scrape(metered.metrics_port)
    api = "rollout_api_requests_total"
    assert found.value(api, verb="PUT", resource="rollouts", subresource="status", code="409") == 1
    assert found.value(api, verb="PATCH", resource="deployments", subresource="", code="500") == 1
    assert found.value(api, verb="PATCH", resource="services", subresource="", code="<error>") == 1
    # What the API server itself logged agrees with what the controller counted.
    injected = Counter(
        (r.resource, r.status) for r in cluster.sandbox.requests.entries() if r.injected
    )
    assert injected == Counter({("rollouts", 409): 1, ("deployments", 500): 1, ("services", 0): 1})
    assert found.value("rollout_reconcile_errors_total", kind="conflict") == 1
    assert found.value("rollout_reconcile_errors_total", kind="kube_error") == 2
    assert found.value("rollout_reconcile_errors_total", kind="crash") == 0
    assert found.value("rollout_workqueue_retries_total") >= 3


def test_a_deleted_rollout_leaves_no_series(cluster: Cluster, metered: Controller) -> None:
    cluster.create("keep")
    cluster.create("gone")
    cluster.wait_phase("keep", "Healthy")
    cluster.wait_phase("gone", "Healthy")
    both = scrape(metered.metrics_port)
    assert {s.labels["name"] for s in both.series("rollout_info")} == {"keep", "gone"}
    cluster.kube.delete(ROLLOUTS, "gone", namespace=NS)
    after = scrape_until(
        metered.metrics_port,
        lambda s: not s.series("rollout_info", name="gone"),
        what="the deleted rollout's info series gone",
    )
    assert not [s for s in after.samples if s.labels.get("name") == "gone"]
    assert [s.labels["phase"] for s in after.series("rollout_info", name="keep")] == ["Healthy"]
