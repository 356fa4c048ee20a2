"""The controller process: caches, a work queue, workers, and timers.

Timers live in APScheduler but are never the source of truth: each reconcile returns the next
time the Rollout needs looking at (from timestamps in its status), and the timer is set to that.
After a restart the first list of Rollouts reconciles every one of them, which sets every timer
again; nothing is lost with the process.

Metrics (rollout.metrics) live in the controller's own registry; with `metrics_port` set,
`start()` serves them on `/metrics` (a port that cannot be bound is logged: metrics never stop
the controller), with `/healthz` and `/readyz` beside them.

With a `LeaderElector` (rollout.reconciler.leader), informers and caches run on every replica
(a standby is warm) but workers reconcile only while `is_leader()`, checked right before each
reconcile; work queued meanwhile stays queued, and on gaining leadership every cached Rollout
is queued once. Without one, the controller always acts.

Leadership is also checked before every write (a write guard on the client; Lease writes
excepted, they are the elector's): a process frozen mid-reconcile (SIGSTOP, a stalled VM) and
resumed after its renew deadline sends none of the writes left in that reconcile, such as the
actions after the status write that decided them. The reconcile ends with FencedError and its
key waits, queued, for leadership. What no check can stop is a request already on the wire, or
one whose check passed an instant before the freeze.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler

from rollout import labels, registry
from rollout.analysis.gates import RELEASE_GATE_PROVIDER, STEP_GATE_PROVIDER
from rollout.analysis.slo_gates import SLOGates
from rollout.errors import ConflictError, FencedError, KubeError
from rollout.kube import DEPLOYMENTS, ROLLOUTS, SERVICES, Kube
from rollout.kube.client import Obj
from rollout.metrics import ControllerMetrics, MetricsServer, StateCollector
from rollout.metrics.collector import NotificationCollector
from rollout.metrics.instruments import CONFLICT, CRASH, FENCED, KUBE_ERROR
from rollout.models import Rollout
from rollout.notify.sender import Notifier
from rollout.reconciler.analyst import Analyst
from rollout.reconciler.informer import Informer
from rollout.reconciler.leader import LeaderElector
from rollout.reconciler.queue import WorkQueue
from rollout.reconciler.reconcile import Caches, RolloutReconciler
from rollout.routing import TrafficRouter
from rollout.selectors import parse_label_selector

log = logging.getLogger(__name__)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Controller:
    def __init__(
        self,
        kube: Kube,
        *,
        namespace: str | None = None,
        workers: int = 4,
        clock: Callable[[], datetime] = utcnow,
        max_backoff: float = 30.0,
        metrics_port: int | None = None,
        metrics_address: str = "0.0.0.0",
        elector: LeaderElector | None = None,
        heartbeat_timeout: float = 60.0,
        rollout_selector: str | None = None,
    ) -> None:
        """`metrics_port`: serve /metrics there from `start()` (0: a free one, which the
        `metrics_port` property then tells); None serves nothing (the metrics are still kept,
        in `metrics`). `elector`: act only while it says we lead (None: always act); the
        controller starts it and, on `stop()`, releases the Lease. `heartbeat_timeout`:
        /healthz fails when a worker or the elector has not looped for this long.
        `rollout_selector`: a label selector; only the Rollouts it matches are ours (the
        others belong to another shard, which runs its own controller with its own Lease)."""
        if rollout_selector:  # a typo would otherwise fail every list of the Rollouts
            parse_label_selector(rollout_selector)  # SelectorError names what is wrong
        self._kube = kube
        self._workers = workers
        self._max_backoff = max_backoff
        self.queue = WorkQueue()
        self._failures: dict[str, int] = {}
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._elector = elector
        if elector is not None:
            elector.on_change = self._on_leadership
            kube.set_write_guard(self._fence)
        self._heartbeats: dict[str, float] = {}
        self._heartbeat_timeout = heartbeat_timeout
        self._routers: dict[str, TrafficRouter] = {}
        self._service_users: dict[str, set[str]] = {}
        self._workload_users: dict[str, set[str]] = {}  # workloadRef Deployment -> Rollouts
        self.reconcile_seconds: deque[float] = deque(maxlen=100_000)  # for benchmarks
        self.reconciles = 0
        self._scheduler = BackgroundScheduler(timezone=UTC)
        self._timers: dict[str, datetime] = {}  # job id -> the run time last set
        self.caches = Caches(
            rollouts=Informer(
                kube,
                ROLLOUTS,
                namespace=namespace,
                label_selector=rollout_selector,
                on_change=self._on_rollout,
            ),
            # Every Deployment, not only our revisions: a workloadRef names one of the user's,
            # and a change to its template is what starts an update.
            deployments=Informer(
                kube,
                DEPLOYMENTS,
                namespace=namespace,
                index_label=labels.NAME,
                on_change=self._on_deployment,
            ),
            services=Informer(kube, SERVICES, namespace=namespace, on_change=self._on_service),
        )
        self.metrics = ControllerMetrics()
        self.metrics.registry.register(
            StateCollector(self.caches.rollouts, self.caches.deployments, self.queue)
        )
        kube.add_request_observer(self.metrics.api_request)
        self._metrics_server = (
            None
            if metrics_port is None
            else MetricsServer(
                self.metrics.registry,
                address=metrics_address,
                port=metrics_port,
                checks={"/healthz": self.liveness, "/readyz": self.readiness},
            )
        )
        self._gates = SLOGates()
        self._analyst = Analyst(
            kube,
            gates={
                RELEASE_GATE_PROVIDER: self._gates.release,
                STEP_GATE_PROVIDER: self._gates.step,
            },
            on_measurement=self.metrics.measured,
        )
        self.notifier = Notifier(kube)
        self.metrics.registry.register(NotificationCollector(self.notifier))
        self._reconciler = RolloutReconciler(
            kube,
            self.caches,
            clock=clock,
            router_for=self._router_for,
            analyst=self._analyst,
            notifier=self.notifier,
            metrics=self.metrics,
            busy=lambda: len(self.queue) > 0,
        )

    # -- lifecycle ---------------------------------------------------------------------------
    @property
    def metrics_port(self) -> int | None:
        """The port /metrics is served on (the bound one when 0 was asked), or None."""
        return self._metrics_server.port if self._metrics_server is not None else None

    def start(self, *, sync_timeout: float = 60.0) -> None:
        self.metrics.set_leader(self._elector is None)
        self._start_metrics_server()
        self._scheduler.start()
        self.notifier.start()
        for informer in (self.caches.deployments, self.caches.services, self.caches.rollouts):
            informer.start()
        for informer in (self.caches.deployments, self.caches.services, self.caches.rollouts):
            if not informer.synced.wait(sync_timeout):
                raise KubeError(f"could not list {informer.kind.plural} in {sync_timeout:.0f}s")
        for i in range(self._workers):
            thread = threading.Thread(target=self._work, name=f"worker-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)
        if self._elector is not None:
            self._elector.start()
        log.info("controller started with %d workers", self._workers)

    def stop(self) -> None:
        self._stop.set()
        self.queue.close()
        for informer in (self.caches.rollouts, self.caches.deployments, self.caches.services):
            informer.stop()
        self._scheduler.shutdown(wait=False)
        for thread in self._threads:
            thread.join(timeout=5)
        if self._elector is not None:  # after the workers: nothing reconciles once released
            self._elector.stop(release=True)
        self._analyst.close()  # the providers' HTTP connection pools
        self._gates.close()
        self.notifier.stop()
        if self._metrics_server is not None:
            self._metrics_server.stop()
        self._kube.remove_request_observer(self.metrics.api_request)
        if self._elector is not None:
            self._kube.set_write_guard(None)

    def _start_metrics_server(self) -> None:
        if self._metrics_server is None:
            return
        try:
            self._metrics_server.start()
        except OSError as err:
            where = f"{self._metrics_server.address}:{self._metrics_server.port}"
            log.error("metrics: cannot serve on %s (%s); running without /metrics", where, err)
            self._metrics_server = None

    # -- leadership and health ---------------------------------------------------------------
    def is_leader(self) -> bool:
        return self._elector is None or self._elector.is_leader()

    def _fence(self, verb: str, resource: str) -> None:
        """The write guard: withhold every write but the Lease's while we do not lead. The
        elector's own writes must go out (a stale renew is refused by the Lease's
        resourceVersion: a 409, not a second leader)."""
        if resource != "leases" and not self.is_leader():
            raise FencedError(f"{verb} {resource} withheld: this controller no longer leads")

    def _on_leadership(self, leading: bool) -> None:
        self.metrics.set_leader(leading)
        if leading:
            for obj in self.caches.rollouts.all():
                self._on_rollout(obj)

    def liveness(self) -> tuple[bool, str]:
        """/healthz: every thread alive and the workers' and elector's loops recent."""
        if self._stop.is_set():
            return False, "stopping"
        now = time.monotonic()
        for informer in (self.caches.rollouts, self.caches.deployments, self.caches.services):
            if not informer.alive():
                return False, f"informer {informer.kind.plural} is not running"
        for thread in self._threads:
            if not thread.is_alive():
                return False, f"{thread.name} is not running"
            beat = self._heartbeats.get(thread.name, now)
            if now - beat > self._heartbeat_timeout:
                return False, f"{thread.name} has not looped for {now - beat:.0f}s"
        if self._elector is not None and self._elector.alive():
            beat = self._elector.heartbeat
            if now - beat > max(self._heartbeat_timeout, 2 * self._elector.retry_period):
                return False, f"leader elector has not looped for {now - beat:.0f}s"
        elif self._elector is not None and self._threads:
            return False, "leader elector is not running"
        return True, "ok"

    def readiness(self) -> tuple[bool, str]:
        """/readyz: caches synced and, with leader election, leader or standby known."""
        for informer in (self.caches.rollouts, self.caches.deployments, self.caches.services):
            if not informer.synced.is_set():
                return False, f"{informer.kind.plural} cache not synced"
        if not self._threads:
            return False, "workers not started"
        if self._elector is None:
            return True, "ok: leader (no leader election)"
        if not self._elector.state_known:
            return False, "leader election: state not known yet"
        return True, "ok: leader" if self._elector.is_leader() else "ok: standby"

    def run_forever(self) -> None:
        self.start()
        try:
            while not self._stop.wait(1.0):
                pass
        finally:
            self.stop()

    def stats(self) -> dict[str, Any]:
        """Reconcile count and latency, and API requests by verb, since start or reset."""
        durations = sorted(self.reconcile_seconds)

        def pct(p: float) -> float:
            return durations[min(len(durations) - 1, int(p * len(durations)))] if durations else 0.0

        return {
            "reconciles": self.reconciles,
            "latency_seconds": {
                "p50": pct(0.50),
                "p90": pct(0.90),
                "p99": pct(0.99),
                "max": durations[-1] if durations else 0.0,
            },
            "api_requests": dict(self._kube.requests),
        }

    def reset_stats(self) -> None:
        self.reconcile_seconds.clear()
        self.reconciles = 0
        self._kube.requests.clear()

    # -- events from the caches --------------------------------------------------------------
    def _on_rollout(self, obj: Obj) -> None:
        meta = obj["metadata"]
        key = f"{meta.get('namespace') or ''}/{meta['name']}"
        ref = ((obj.get("spec") or {}).get("workloadRef") or {}).get("name")
        if ref:
            self._workload_users.setdefault(f"{meta.get('namespace') or ''}/{ref}", set()).add(key)
        self.queue.add(key)

    def _on_deployment(self, obj: Obj) -> None:
        meta = obj["metadata"]
        ns = meta.get("namespace") or ""
        owner = (meta.get("labels") or {}).get(labels.NAME)
        if owner:
            self.queue.add(f"{ns}/{owner}")
        for key in tuple(self._workload_users.get(f"{ns}/{meta['name']}", ())):
            self.queue.add(key)

    def _on_service(self, obj: Obj) -> None:
        meta = obj["metadata"]
        for key in self._service_users.get(f"{meta.get('namespace') or ''}/{meta['name']}", ()):
            self.queue.add(key)

    # -- work ----------------------------------------------------------------------------------
    def _router_for(self, rollout: Rollout) -> TrafficRouter:
        strategy = rollout.spec.strategy
        routing = strategy.traffic_routing
        name = routing.router_name if routing is not None else "replicas"
        ns = rollout.metadata.namespace or ""
        for svc, _ in strategy.pinned_services:
            self._service_users.setdefault(f"{ns}/{svc}", set()).add(rollout.key)
        if name not in self._routers:
            self._routers[name] = registry.load("routers", name)(self._kube)
        return self._routers[name]

    def _work(self) -> None:
        name = threading.current_thread().name
        while not self._stop.is_set():
            self._heartbeats[name] = time.monotonic()
            if not self.is_leader():
                self._stop.wait(0.1)  # a standby leaves the queue alone
                continue
            key = self.queue.get(timeout=0.5)
            if key is None:
                continue
            try:
                if self.is_leader():
                    self._process(key)
                else:  # lost since it was taken: it stays queued for when we lead again
                    self.queue.add(key)
            finally:
                self.queue.done(key)

    def _process(self, key: str) -> None:
        namespace, _, name = key.partition("/")
        started = time.perf_counter()
        try:
            requeue_at = self._reconciler.reconcile(namespace, name)
        except FencedError as err:
            # Not a failure of the rollout: no back-off, and the key waits for leadership.
            log.info("%s: leadership lost mid-reconcile, stopped before a write: %s", key, err)
            self.metrics.reconcile_failed(FENCED)
            self.queue.add(key)
            return
        except ConflictError as err:
            log.debug("%s: conflict, observing again: %s", key, err)
            self.metrics.reconcile_failed(CONFLICT)
            self._failures.pop(key, None)
            self._retry(key, utcnow() + timedelta(milliseconds=20))
            return
        except Exception as err:  # the outer boundary: one bad rollout never stalls the others
            failures = self._failures.get(key, 0) + 1
            self._failures[key] = failures
            delay = min(0.1 * 2 ** (failures - 1), self._max_backoff)
            if isinstance(err, KubeError):
                log.warning("%s: %s (retry in %.1fs)", key, err, delay)
                self.metrics.reconcile_failed(KUBE_ERROR)
            else:
                log.exception("%s: reconcile failed (retry in %.1fs)", key, delay)
                self.metrics.reconcile_failed(CRASH)
            self._retry(key, utcnow() + timedelta(seconds=delay))
            return
        finally:
            seconds = time.perf_counter() - started
            self.reconcile_seconds.append(seconds)
            self.reconciles += 1
            self.metrics.reconciled(seconds)
        self._failures.pop(key, None)
        if requeue_at is not None:
            self._schedule(key, requeue_at, kind="timer")

    def _retry(self, key: str, at: datetime) -> None:
        self.metrics.retried()
        self._schedule(key, at, kind="retry")

    def _schedule(self, key: str, at: datetime, *, kind: str) -> None:
        job = f"{kind}:{key}"
        if self._timers.get(job) == at:
            # Still pending for that very time (a pause's end is the same on every reconcile
            # during it): replacing the job would cost a scheduler lock and wake-up for nothing.
            return
        self._timers[job] = at
        self._scheduler.add_job(
            self._fire,
            "date",
            run_date=at,
            args=[job, key, at],
            id=job,
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _fire(self, job: str, key: str, at: datetime) -> None:
        """A timer came due. Its entry goes first: a job that has fired is not pending, even
        if the reconcile it brings asks for the same time again (a clock stepped back, a
        decision that finds the time not yet reached); only a pending job may be left alone.
        Fired and then asked again meanwhile, the entry is gone and the time is set anew."""
        if self._timers.get(job) == at:
            del self._timers[job]
        self.queue.add(key)
