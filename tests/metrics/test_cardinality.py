"""Label cardinality stays bounded: release after release adds no series, no label ever holds a
revision hash, and only the per-rollout gauges carry namespace/name."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from rollout import labels
from rollout.metrics import StateCollector
from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster
from tests.metrics.scrape import Scrape, scrape

PER_ROLLOUT = {
    "rollout_info",
    "rollout_current_step_index",
    "rollout_canary_weight",
    "rollout_replicas",
    "rollout_available_replicas",
}
SeriesKey = tuple[str, frozenset[tuple[str, str]]]


def series(found: Scrape) -> set[SeriesKey]:
    return {(s.name, frozenset(s.labels.items())) for s in found.samples}


def may_come_later(key: SeriesKey) -> bool:
    """Series a later release may add without being unbounded: an API answer other than 2xx
    (a 409 now and then) has its own series; their number is bounded by the HTTP codes."""
    name, pairs = key
    code = dict(pairs).get("code", "")
    return name.startswith("rollout_api_requests") and not code.startswith("2")


def test_many_releases_add_no_series_and_no_revision_hash_labels(
    cluster: Cluster, metered: Controller
) -> None:
    cluster.create("app", steps=[{"setWeight": 50}], replicas=2)
    cluster.wait_phase("app", "Healthy")
    revisions = {cluster.status("app")["stableRevision"]}
    seen: list[set[SeriesKey]] = []
    for version in range(2, 9):
        cluster.api.set_image(NS, "app", "app", f"app:v{version}")
        done = cluster.wait_phase("app", "Healthy")
        assert done["status"]["currentRevision"] == done["status"]["stableRevision"]
        revisions.add(done["status"]["stableRevision"])
        seen.append(series(scrape(metered.metrics_port)))
    assert len(revisions) == 8
    revisions |= set(cluster.revisions("app"))

    second, last = seen[1], seen[-1]
    added = {k for k in last - second if not may_come_later(k)}
    assert not added, f"series added by later releases: {sorted(added)}"
    per_rollout = {k for k in last if k[0] in PER_ROLLOUT}
    assert per_rollout == {k for k in second if k[0] in PER_ROLLOUT}
    # stable, canary and old (all earlier revisions together) for each of the two gauges
    roles = {dict(p)["role"] for n, p in per_rollout if n == "rollout_replicas"}
    assert roles == {"stable", "canary", "old"}
    assert len(last) < 150, f"{len(last)} series for one rollout"

    values = {v for _, pairs in last for _, v in pairs}
    assert not values & revisions, "a revision hash is used as a label value"
    for name, pairs in last:
        keys = {k for k, _ in pairs}
        if name not in PER_ROLLOUT:
            assert not keys & {"namespace", "name"}, f"{name} is labelled per rollout"


def rollout_obj(i: int, **status: Any) -> dict[str, Any]:
    return {
        "metadata": {"namespace": NS, "name": f"r{i}", "uid": f"u{i}"},
        "spec": {"strategy": {"canary": {"trafficRouting": {"istio": {}, "managedRoutes": []}}}},
        "status": {"phase": "Progressing", "currentStepIndex": 1, **status},
    }


def deployment(i: int, revision: str, replicas: int, available: int) -> dict[str, Any]:
    return {
        "metadata": {
            "name": f"r{i}-{revision}",
            "labels": {labels.NAME: f"r{i}", labels.REVISION: revision},
            "ownerReferences": [{"uid": f"u{i}"}],
        },
        "spec": {"replicas": replicas},
        "status": {"availableReplicas": available},
    }


class Source:
    def __init__(self, rollouts: list[dict[str, Any]], deps: dict[str, list[dict[str, Any]]]):
        self.rollouts, self.deps = rollouts, deps

    def all(self) -> list[dict[str, Any]]:
        return self.rollouts

    def by_index(self, namespace: str | None, value: str) -> list[dict[str, Any]]:
        return self.deps.get(value, [])


class Queue:
    adds = 7

    def __len__(self) -> int:
        return 3


def collected(source: Source) -> dict[str, list[Any]]:
    registry = CollectorRegistry()
    registry.register(StateCollector(source, source, Queue()))
    text = generate_latest(registry).decode()
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_the_per_rollout_gauges_grow_with_rollouts_never_with_revisions() -> None:
    rollouts, deps = [], {}
    for i in range(100):
        status = {
            "stableRevision": "s",
            "currentRevision": "c",
            "canary": {"weights": {"canary": {"revision": "c", "weight": 30}}},
        }
        rollouts.append(rollout_obj(i, **status))
        # 40 superseded revisions each, a baseline, the stable and the canary
        old = [deployment(i, f"old{n}", 1, 1) for n in range(40)]
        deps[f"r{i}"] = [
            *old,
            deployment(i, "s", 4, 4),
            deployment(i, "s-baseline", 1, 0),
            deployment(i, "c", 2, 1),
        ]
    families = collected(Source(rollouts, deps))
    assert len(families["rollout_info"]) == 100
    assert families["rollout_info"][0].labels == {
        "namespace": NS,
        "name": "r0",
        "phase": "Progressing",
        "strategy": "canary",
        "router": "istio",
    }
    assert len(families["rollout_replicas"]) == 100 * 4  # stable, canary, baseline, old
    by_role = {s.labels["role"]: s.value for s in families["rollout_replicas"][:4]}
    assert by_role == {"stable": 4, "canary": 2, "baseline": 1, "old": 40}
    available = {s.labels["role"]: s.value for s in families["rollout_available_replicas"][:4]}
    assert available == {"stable": 4, "canary": 1, "baseline": 0, "old": 40}
    assert families["rollout_canary_weight"][0].value == 30
    assert families["rollout_workqueue_depth"][0].value == 3
    assert families["rollout_workqueue_adds"][0].value == 7


def test_a_rollout_not_reconciled_yet_and_a_malformed_one_do_not_break_the_scrape() -> None:
    fresh = {"metadata": {"namespace": NS, "name": "fresh"}, "spec": {}}
    broken = {"metadata": {"namespace": NS, "name": "broken"}, "status": {"currentStepIndex": "x"}}
    families = collected(Source([broken, fresh], {}))
    (shown,) = families["rollout_info"]
    assert shown.labels["name"] == "fresh" and shown.labels["phase"] == "Unknown"
    assert shown.labels["router"] == "none"
    assert {s.labels["role"]: s.value for s in families["rollout_replicas"]} == {
        "stable": 0,
        "canary": 0,
    }
    assert not [s for f in families.values() for s in f if s.labels.get("name") == "broken"]
