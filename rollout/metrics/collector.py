"""`StateCollector`: gauges computed at scrape time from the controller's caches.

Nothing here is updated as things happen: each scrape reads the Rollouts and Deployments in
the informer caches (what the controller itself decides from) and the work queue. So a deleted
Rollout is gone from the next scrape, a phase change replaces the series instead of leaving the
old phase behind, and nothing needs cleaning up. Only these per-rollout gauges carry
`namespace` and `name`; revisions appear by role (stable, canary, baseline, old), never by hash.

The objects are read as the plain dicts the caches hold (no model parsing: a scrape of a
thousand rollouts must stay cheap). A malformed object is skipped and logged, never raised.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field, fields
from typing import Any, Protocol

from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric

from rollout import labels
from rollout.engine.world import baseline_of
from rollout.metrics.instruments import PREFIX

log = logging.getLogger(__name__)

Obj = dict[str, Any]

STABLE, CANARY, BASELINE, OLD = "stable", "canary", "baseline", "old"
ALWAYS_SHOWN = (STABLE, CANARY)
"""Roles with a series for every rollout (0 when absent); baseline and old only when present."""
KEY = ["namespace", "name"]
NO_ROUTER = "none"
UNKNOWN_PHASE = "Unknown"  # created, not reconciled yet


class RolloutSource(Protocol):
    def all(self) -> list[Obj]: ...


class DeploymentSource(Protocol):
    def by_index(self, namespace: str | None, value: str) -> list[Obj]:
        """Deployments of one Rollout (the cache indexes them by the rollout.dev/name label)."""
        ...


class QueueState(Protocol):
    @property
    def adds(self) -> int: ...

    def __len__(self) -> int: ...


class StateCollector:
    """Register in a CollectorRegistry; `collect()` is called on every scrape."""

    def __init__(
        self, rollouts: RolloutSource, deployments: DeploymentSource, queue: QueueState
    ) -> None:
        self._rollouts = rollouts
        self._deployments = deployments
        self._queue = queue
        self._logged = False

    def describe(self) -> Iterator[Metric]:
        """The families without samples (lets the registry detect clashing names)."""
        yield from _Families().all()

    def collect(self) -> Iterator[Metric]:
        families = _Families()
        for obj in self._rollouts.all():
            try:
                self._add_rollout(families, obj)
            except Exception:  # one odd object must not take the whole scrape down
                self._log_once(obj)
        families.workqueue_depth.add_metric([], len(self._queue))
        families.workqueue_adds.add_metric([], self._queue.adds)
        yield from families.all()

    def _add_rollout(self, families: _Families, obj: Obj) -> None:
        meta = obj["metadata"]
        namespace, name = str(meta.get("namespace") or ""), str(meta["name"])
        spec, status = obj.get("spec") or {}, obj.get("status") or {}
        strategies = spec.get("strategy") or {}
        strategy = "blueGreen" if "blueGreen" in strategies else "canary"
        routing = (strategies.get(strategy) or {}).get("trafficRouting") or {}
        router = next((str(k) for k in routing if k != "managedRoutes"), NO_ROUTER)
        phase = str(status.get("phase") or UNKNOWN_PHASE)
        step = status.get("currentStepIndex")
        step = None if step is None else int(step)
        weights = (status.get("canary") or {}).get("weights") or {}
        weight = int((weights.get("canary") or {}).get("weight") or 0)
        desired, available = self._replicas_by_role(obj, status)
        # Everything read before anything is added: a rollout is shown whole or not at all.
        key = [namespace, name]
        families.info.add_metric([*key, phase, strategy, router], 1)
        if step is not None:
            families.current_step_index.add_metric(key, step)
        families.canary_weight.add_metric(key, weight)
        for role in (*ALWAYS_SHOWN, *(r for r in (BASELINE, OLD) if r in desired)):
            families.replicas.add_metric([*key, role], desired.get(role, 0))
            families.available_replicas.add_metric([*key, role], available.get(role, 0))

    def _replicas_by_role(self, obj: Obj, status: Obj) -> tuple[dict[str, int], dict[str, int]]:
        meta = obj["metadata"]
        uid = meta.get("uid")
        stable, current = status.get("stableRevision"), status.get("currentRevision")
        desired: dict[str, int] = {}
        available: dict[str, int] = {}
        for dep in self._deployments.by_index(meta.get("namespace"), meta["name"]):
            dep_meta = dep["metadata"]
            owners = dep_meta.get("ownerReferences") or []
            if dep_meta.get("deletionTimestamp") or (
                uid and not any(o.get("uid") == uid for o in owners)
            ):
                continue  # being deleted, or left by a previous Rollout of the same name
            revision = (dep_meta.get("labels") or {}).get(labels.REVISION)
            if not revision:
                continue
            role = _role(revision, stable, current)
            replicas = int((dep.get("spec") or {}).get("replicas", 1))
            ready = int((dep.get("status") or {}).get("availableReplicas") or 0)
            desired[role] = desired.get(role, 0) + replicas
            available[role] = available.get(role, 0) + min(ready, replicas)
        return desired, available

    def _log_once(self, obj: Any) -> None:
        meta = obj.get("metadata") if isinstance(obj, dict) else None
        where = f"{(meta or {}).get('namespace')}/{(meta or {}).get('name')}"
        if not self._logged:
            self._logged = True
            log.exception("metrics: rollout %s skipped (further ones logged at debug)", where)
        else:
            log.debug("metrics: rollout %s skipped", where, exc_info=True)


def _role(revision: str, stable: str | None, current: str | None) -> str:
    if revision == stable or (stable is None and revision == current):
        return STABLE  # before the first revision is recorded as stable, it is the one deployed
    if stable is not None and revision == baseline_of(stable):
        return BASELINE
    if revision == current:
        return CANARY  # blue-green: the new (preview) revision
    return OLD  # superseded canaries, an old stable within its scale-down delay


@dataclass
class _Families:
    """One scrape's families (built anew each time: nothing outlives the scrape)."""

    info: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            f"{PREFIX}info",
            "One series per Rollout (value 1) with its phase, strategy and router "
            "(none: traffic follows pod counts).",
            labels=[*KEY, "phase", "strategy", "router"],
        )
    )
    current_step_index: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            f"{PREFIX}current_step_index",
            "status.currentStepIndex: the canary step the Rollout is at, counted from 0 "
            "(the number of steps once all are done; 0 for blue-green).",
            labels=KEY,
        )
    )
    canary_weight: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            f"{PREFIX}canary_weight",
            "Percent of traffic on the canary (blue-green: the new revision), as measured: "
            "status.canary.weights.",
            labels=KEY,
        )
    )
    replicas: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            f"{PREFIX}replicas",
            "Desired pods of the Rollout's revisions by role: stable, canary (blue-green: the "
            "new revision), baseline, old (superseded or scaling down).",
            labels=[*KEY, "role"],
        )
    )
    available_replicas: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            f"{PREFIX}available_replicas",
            "Available pods of the Rollout's revisions by role (as rollout_replicas).",
            labels=[*KEY, "role"],
        )
    )
    workqueue_depth: GaugeMetricFamily = field(
        default_factory=lambda: GaugeMetricFamily(
            f"{PREFIX}workqueue_depth",
            "Rollouts waiting in the work queue (not counting those being reconciled).",
        )
    )
    workqueue_adds: CounterMetricFamily = field(
        default_factory=lambda: CounterMetricFamily(
            f"{PREFIX}workqueue_adds",
            "Keys put on the work queue (an add of a key already waiting is not counted).",
        )
    )

    def all(self) -> tuple[Metric, ...]:
        return tuple(getattr(self, f.name) for f in fields(self))


class NotificationSource(Protocol):
    def snapshot(self) -> Any:
        """The notifier's Stats: `by_kind` {(sink, outcome): count} and `retries`."""
        ...


class NotificationCollector:
    """Notification deliveries by sink (webhook, slack, cloudEvents) and outcome (sent,
    failed: given up after every attempt, dropped: never queued), read from the notifier at
    scrape time; the notifier counts, this only shows."""

    def __init__(self, notifier: NotificationSource) -> None:
        self._notifier = notifier

    def describe(self) -> Iterator[Metric]:
        yield from self._families()

    def collect(self) -> Iterator[Metric]:
        stats = self._notifier.snapshot()
        deliveries, retries = self._families()
        for (sink, outcome), count in sorted(stats.by_kind.items()):
            deliveries.add_metric([sink, outcome], count)
        retries.add_metric([], stats.retries)
        yield deliveries
        yield retries

    @staticmethod
    def _families() -> tuple[CounterMetricFamily, CounterMetricFamily]:
        return (
            CounterMetricFamily(
                f"{PREFIX}notifications",
                "Notification deliveries by sink and outcome (sent; failed: given up after "
                "every attempt; dropped: the queue was full).",
                labels=["sink", "outcome"],
            ),
            CounterMetricFamily(
                f"{PREFIX}notification_retries", "Notification attempts that are tried again."
            ),
        )
