"""Reconciling one Rollout: observe, decide, persist the decision, act.

The order is the crash-safety argument. The new status is written first, with the
resourceVersion we read (a conflict means someone else wrote: we re-observe and decide again);
only then are the actions carried out. A controller killed anywhere in between finds, on restart,
a status that says what it meant to do and a world that shows how far it got; the engine derives
the remaining actions from the two.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from pydantic import ValidationError

from rollout import service_check
from rollout.analysis.preflight import run_preflight
from rollout.engine import Decision, Inputs, decide, decide_invalid, revision_hash
from rollout.engine.actions import RemoveManagedRoutes, SetWeight
from rollout.engine.analysis import AnalysisInputs
from rollout.errors import KubeError, NotFoundError, SpecError
from rollout.kube import DEPLOYMENTS, EVENTS, ROLLOUTS, Kube
from rollout.kube.client import Obj
from rollout.metrics import ControllerMetrics
from rollout.models import HistoryEntry, Rollout, RolloutStatus
from rollout.models.time import format_time
from rollout.notify.events import notices
from rollout.notify.sender import Notifier
from rollout.reconciler.analyst import Analyst
from rollout.reconciler.execute import Executor
from rollout.reconciler.informer import Informer, object_key
from rollout.reconciler.observe import build_world
from rollout.reconciler.specs import Parsed, SpecCache
from rollout.routing import RoutingObjectNotFoundError, TrafficRouter

log = logging.getLogger(__name__)


@dataclass
class Caches:
    rollouts: Informer
    deployments: Informer
    services: Informer

    def remember(self, obj: Obj) -> None:
        kind = obj.get("kind")
        target = {
            "Rollout": self.rollouts,
            "Deployment": self.deployments,
            "Service": self.services,
        }.get(str(kind))
        if target is not None:
            target.write_through(obj)


# Status fields that only mirror pod counts (and what is derived from them). A change in these
# alone is written at most once per REFRESH_SECONDS, or with the next real decision; it would
# otherwise double the status writes (every scale is followed by pods becoming ready).
VOLATILE_FIELDS = frozenset(
    {
        "replicas",
        "updatedReplicas",
        "readyReplicas",
        "availableReplicas",
        "canary",
        "message",
        "progressMarker",
        "lastProgressAt",
    }
)
REFRESH_SECONDS = 2.0


def builtin_queries(router: TrafficRouter) -> dict[str, str]:
    """The router's query set, plus the ratios people judge by (counts stay available)."""
    queries = dict(getattr(router, "queries", {}) or {})
    errors, total = queries.get("error-count"), queries.get("request-count")
    if errors and total:
        queries["error-ratio"] = f"({errors}) / ({total})"
        queries["success-ratio"] = f"1 - (({errors}) / ({total}))"
    return queries


def significant(status: dict[str, Any]) -> dict[str, Any]:
    """The part of a status whose change must be written at once."""
    kept = {k: v for k, v in status.items() if k not in VOLATILE_FIELDS}
    kept["conditions"] = [
        (c.get("type"), c.get("status"), c.get("reason")) for c in status.get("conditions") or []
    ]
    return kept


FINALIZER = "rollout.dev/routing"
"""On Rollouts with a traffic router: deletion waits until routing is back on stable."""
ROUTING_RETRY_SECONDS = 10
ROUTING_READ_BACK_SECONDS = 0.25
# Only actions that the decision emits while the traffic layer differs from what it wants (a
# step's SetRoute is repeated on every reconcile of the step, and would make this a loop).
ROUTING_ACTIONS = (SetWeight, RemoveManagedRoutes)


def settled(inputs: Inputs, decision: Decision) -> bool:
    """Would deciding again from the status this decision writes, on the same world, change
    nothing? Then the reconcile that the write's own watch event would bring is redundant: the
    world our actions change comes back through its own watch events (Deployments, Services)
    or a timer (routing read-back), and what falls due later through `requeue_at`.

    A decision is one pass: a gate runs before the steps advance, so a step just reached may
    call for more (a background analysis that starts there). Then this is False and that echo
    reconcile does it, as it always has. One more `decide` costs less than a reconcile (about
    a tenth of one: no parsing, no requests); in a 2,000-Rollout run 28% of all reconciles were
    these echoes. Asked only when the status is written (a changed status)."""
    # The measurements taken for this decision are in its status now; the echo would take
    # only those that fall due, and `requeue_at` already says when that is.
    analysis = replace(inputs.analysis, measurements={})
    again = decide(replace(inputs, status=decision.status, analysis=analysis))
    return (
        again.status == decision.status
        and again.actions == decision.actions
        and again.requeue_at == decision.requeue_at
        and not again.events
        and not again.terminations
    )


class RolloutReconciler:
    def __init__(
        self,
        kube: Kube,
        caches: Caches,
        *,
        clock: Callable[[], datetime],
        router_for: Callable[[Rollout], TrafficRouter],
        analyst: Analyst | None = None,
        notifier: Notifier | None = None,
        metrics: ControllerMetrics | None = None,
        busy: Callable[[], bool] = lambda: False,
    ) -> None:
        """`busy`: is other work waiting for the workers? Then `settled` is not asked (see
        `_quiet`)."""
        self._kube = kube
        self._busy = busy
        self._metrics = metrics
        self._analyst = analyst or Analyst(kube)
        self._notifier = notifier
        self._caches = caches
        self._clock = clock
        self._router_for = router_for
        self._stale_since: dict[str, datetime] = {}  # key -> first unwritten count change
        self._specs = SpecCache()

    def reconcile(self, namespace: str, name: str) -> datetime | None:
        """One pass over one Rollout. Returns when to look again at the latest (or None)."""
        raw = self._caches.rollouts.get(namespace, name)
        if raw is None:
            return None
        if raw["metadata"].get("deletionTimestamp"):
            # Owner references let Kubernetes delete the revisions; routing is ours to restore.
            self._finalize(raw)
            return None
        now = self._clock()
        generation = int(raw["metadata"].get("generation") or 1)
        try:
            status = RolloutStatus.model_validate(raw.get("status") or {})
        except ValidationError as err:
            log.error("%s/%s: unreadable status, not acting: %s", namespace, name, err)
            return None
        try:
            parsed = self._specs.parse(f"{namespace}/{name}", raw)
        except SpecError as err:
            message = "; ".join(
                f"{p.path}: {p.reason}" if p.path else p.reason for p in err.problems
            )
            return self._persist(raw, status, decide_invalid(status, generation, message, now), now)
        rollout = parsed.rollout.model_copy(update={"status": status})

        template, problem = self._template(parsed)
        if problem:
            decision = decide_invalid(
                status, generation, problem, now, reason="WorkloadRefNotFound"
            )
            return self._persist(raw, status, decision, now)
        assert template is not None

        router = self._router_for(rollout)
        if router.exact_weights and FINALIZER not in rollout.metadata.finalizers:
            # Before the first routing write: deleting the Rollout must restore the routes.
            self._set_finalizer(raw, add=True)
            return now
        try:
            routing = router.read(rollout)
        except RoutingObjectNotFoundError as err:
            # Nothing is written until the object exists; look again soon (no watch on it).
            decision = decide_invalid(
                status, generation, err.message, now, reason="RoutingObjectNotFound"
            )
            self._persist(raw, status, decision, now)
            return now + timedelta(seconds=ROUTING_RETRY_SECONDS)
        strategy = rollout.spec.strategy
        service_names = [s for s, _ in strategy.pinned_services]
        services = {s: self._caches.services.get(namespace, s) for s in service_names}
        wrong = service_check.problems(
            rollout, (template.get("metadata") or {}).get("labels") or {}, services
        )
        if wrong:
            message = "; ".join(f"{path}: {why}" for path, why in wrong)
            return self._persist(raw, status, decide_invalid(status, generation, message, now), now)
        world = build_world(
            rollout,
            self._caches.deployments.by_index(namespace, name),
            services,
            routing=routing,
            workload=self._workload(rollout),
        )
        resolved = AnalysisInputs()
        revision = parsed.revision or revision_hash(template)
        if revision != status.stable_revision or status.current_revision != status.stable_revision:
            # Templates and Secrets are read only while an update is (or is about to be) under
            # way: the very decision that sees a new template needs the release gate's metrics.
            resolved = self._analyst.resolve(rollout)
        measured = self._analyst.measure(
            rollout, resolved, now, builtin_queries=builtin_queries(router)
        )
        inputs = Inputs(
            name=name,
            spec=rollout.spec,
            status=status,
            generation=generation,
            template=template,
            world=world,
            now=now,
            traffic_routing=router.exact_weights,
            analysis=measured,
            preflight=self._preflight(rollout, template, revision, services),
            revision=revision,
            steps_hash=parsed.steps_hash,
        )
        decision = decide(inputs)
        refresh_at = self._persist(
            raw, status, decision, now, quiet=lambda: self._quiet(inputs, decision)
        )
        self._notify(rollout, template, status, decision, now)
        Executor(self._kube, router, remember=self._caches.remember).run(rollout, decision.actions)
        self._analyst.terminate(rollout, resolved, decision.terminations, now)
        # Routing objects are not watched: after writing one, look again soon so that the next
        # decision reads the weight back (a step waits for it), even when this reconcile had
        # no status change whose watch event would bring the rollout back.
        routed = any(isinstance(a, ROUTING_ACTIONS) for a in decision.actions)
        read_back = now + timedelta(seconds=ROUTING_READ_BACK_SECONDS) if routed else None
        times = [t for t in (decision.requeue_at, refresh_at, read_back) if t is not None]
        return min(times, default=None)

    def _quiet(self, inputs: Inputs, decision: Decision) -> bool:
        """May the echo of this status write be skipped? Asked only while the workers have
        nothing else waiting. With a backlog the echo waits in the queue behind it, and the
        watch events our actions bring (pods ready after a scale) fold into that same queued
        reconcile, so skipping it saves nothing: in a 1,000-rollout burst the reconciles per
        step were 1.53-1.54 with `settled` asked and 1.54-1.55 without, while its extra decide
        cost 15-25% of the controller's CPU (tests/bench/scale_bench.py, 2026-12-03)."""
        return not self._busy() and settled(inputs, decision)

    def _notify(
        self,
        rollout: Rollout,
        template: dict[str, Any],
        old: RolloutStatus,
        decision: Decision,
        now: datetime,
    ) -> None:
        """Hand what this (written) decision tells to the notifier; it sends in the background."""
        subscriptions = rollout.spec.notifications
        if self._notifier is None or not subscriptions:
            return
        containers = (template.get("spec") or {}).get("containers") or []
        found = notices(
            namespace=rollout.metadata.namespace or "default",
            name=rollout.metadata.name,
            old=old,
            new=decision.status,
            entries=decision.events,
            now=now,
            images=[str(c.get("image", "")) for c in containers if isinstance(c, dict)],
        )
        if found:
            self._notifier.submit(subscriptions, found)

    def _preflight(
        self,
        rollout: Rollout,
        template: dict[str, Any],
        revision: str,
        services: dict[str, Obj | None],
    ) -> tuple[str, ...] | None:
        """Failing preflight checks, made only while a new revision has not started (they read
        several objects; once the update is under way they would only cost requests)."""
        status = rollout.status
        if not rollout.spec.preflight.enabled or status.stable_revision is None:
            return None
        if revision == status.stable_revision:
            return None
        started = status.update_started_at is not None or (status.current_step_index or 0) > 0
        if revision == status.current_revision and (started or status.abort):
            return None
        # The pinned Services come from the watch-fed cache (a missing one is not found;
        # its creation comes back by watch): reading them would be two requests per update.
        checks = run_preflight(self._kube, rollout, template, services=services)
        return tuple(c.message for c in checks if not c.ok)

    def _finalize(self, raw: Obj) -> None:
        """The Rollout is being deleted: put all traffic back on stable through its router,
        then let it go. A spec we cannot read, or a routing object already gone, has nothing
        to restore."""
        if FINALIZER not in (raw["metadata"].get("finalizers") or []):
            return
        try:
            rollout = self._specs.parse(object_key(raw), raw).rollout
            stable = (raw.get("status") or {}).get("stableRevision")
            if stable:
                self._router_for(rollout).finalize(rollout, stable=stable)
        except (SpecError, RoutingObjectNotFoundError) as err:
            log.warning("%s: nothing to restore on deletion: %s", raw["metadata"]["name"], err)
        self._set_finalizer(raw, add=False)

    def _set_finalizer(self, raw: Obj, *, add: bool) -> None:
        meta = raw["metadata"]
        current = [f for f in meta.get("finalizers") or [] if f != FINALIZER]
        wanted = [*current, FINALIZER] if add else current
        patch = {"metadata": {"finalizers": wanted, "resourceVersion": meta["resourceVersion"]}}
        written = self._kube.patch(ROLLOUTS, meta["name"], patch, namespace=meta.get("namespace"))
        self._caches.rollouts.write_through(written)

    def _template(self, parsed: Parsed) -> tuple[dict[str, Any] | None, str]:
        if parsed.template is not None:
            return parsed.template, ""
        rollout = parsed.rollout
        workload = self._workload(rollout)
        if workload is None:
            ref = rollout.spec.workload_ref
            return None, f"workloadRef: Deployment {ref.name if ref else '?'} not found"
        template = (workload.get("spec") or {}).get("template")
        if not isinstance(template, dict):
            return None, "workloadRef: the Deployment has no pod template"
        return template, ""

    def _workload(self, rollout: Rollout) -> Obj | None:
        ref = rollout.spec.workload_ref
        if ref is None:
            return None
        try:
            return self._kube.get(DEPLOYMENTS, ref.name, namespace=rollout.metadata.namespace)
        except NotFoundError:
            return None

    def _persist(
        self,
        raw: Obj,
        old: RolloutStatus,
        decision: Decision,
        now: datetime,
        *,
        quiet: Callable[[], bool] = lambda: False,
    ) -> datetime | None:
        """Write the status (guarded by the resourceVersion we read), then the events.
        Returns when to look again if a counts-only change was held back. `quiet`, asked only
        when the status is written: it needs no further decision, so its own watch event
        brings no reconcile."""
        meta = raw["metadata"]
        key = f"{meta.get('namespace') or ''}/{meta['name']}"
        new, before = decision.status.to_dict(), old.to_dict()
        if new == before:
            self._stale_since.pop(key, None)
        else:
            if significant(new) == significant(before):
                since = self._stale_since.setdefault(key, now)
                refresh_at = since + timedelta(seconds=REFRESH_SECONDS)
                if now < refresh_at:
                    return refresh_at
            # A shallow copy: the body is only serialised, and the cached `raw` must not change.
            body = {**raw, "status": new}
            written = self._kube.replace(
                ROLLOUTS, body, namespace=meta.get("namespace"), sub="status"
            )
            self._caches.rollouts.write_through(written, quiet=quiet())
            self._stale_since.pop(key, None)
            raw = written
            if self._metrics is not None:  # counted once: this status is now the one we read
                self._metrics.runs_finished(old, decision.status)
        if self._metrics is not None:
            self._metrics.decided(decision.events)
        for entry in decision.events:
            self._event(raw, entry)
        return None

    def _event(self, raw: Obj, entry: HistoryEntry) -> None:
        meta = raw["metadata"]
        warning = entry.reason in {
            "RolloutAborted",
            "ProgressDeadlineExceeded",
            "InvalidSpec",
            "WorkloadRefNotFound",
        }
        stamp = format_time(entry.time)
        body = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"generateName": f"{meta['name']}.", "namespace": meta.get("namespace")},
            "involvedObject": {
                "apiVersion": raw.get("apiVersion"),
                "kind": raw.get("kind"),
                "name": meta["name"],
                "namespace": meta.get("namespace"),
                "uid": meta.get("uid"),
                "resourceVersion": meta.get("resourceVersion"),
            },
            "reason": entry.reason,
            "message": entry.message,
            "type": "Warning" if warning else "Normal",
            "firstTimestamp": stamp,
            "lastTimestamp": stamp,
            "count": 1,
            "source": {"component": "rollout-controller"},
            "reportingComponent": "rollout.dev/controller",
        }
        try:
            self._kube.create(EVENTS, body, namespace=meta.get("namespace"))
        except KubeError as err:  # events are informative; a lost one must not stall a rollout
            log.warning("event %s for %s not recorded: %s", entry.reason, meta["name"], err)
