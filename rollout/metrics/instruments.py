"""`ControllerMetrics`: the registry of one controller and the instruments its code updates.

What is counted where: reconciles and their errors in the controller's worker loop, API requests
in the one Kubernetes wrapper (`Kube`, through a request observer), measurements in the
analyst, decisions and finished analysis runs when the reconciler has written the status that
records them (so each is counted once, as each becomes one Event). The per-rollout gauges are
not here: `StateCollector` computes them at scrape time.

Every recording method swallows its own failures (logged, the first time with a traceback):
instrumentation must never break a reconcile.
"""

from __future__ import annotations

import functools
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Concatenate, ParamSpec

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from rollout.models import HistoryEntry, RolloutStatus

log = logging.getLogger(__name__)

PREFIX = "rollout_"

CONFLICT = "conflict"
KUBE_ERROR = "kube_error"
CRASH = "crash"
FENCED = "fenced"
ERROR_KINDS = (CONFLICT, KUBE_ERROR, CRASH, FENCED)
"""`kind` of rollout_reconcile_errors_total: a 409 (observe again), another API error, a bug,
a write withheld because leadership was lost mid-reconcile."""

# Kube's verbs as the API server names them in its own apiserver_request_total.
VERBS = {
    "get": "GET",
    "list": "LIST",
    "watch": "WATCH",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "delete": "DELETE",
}
NO_RESPONSE = "<error>"
"""`code` of a request that got no HTTP answer (timeout, refused or dropped connection), as
client-go's rest_client_requests_total has it."""

# Reconciles take 10-100 ms, webhook calls can hold one for seconds.
RECONCILE_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30)

P = ParamSpec("P")


def _never_raises(
    method: Callable[Concatenate[ControllerMetrics, P], None],
) -> Callable[Concatenate[ControllerMetrics, P], None]:
    @functools.wraps(method)
    def guarded(self: ControllerMetrics, /, *args: P.args, **kwargs: P.kwargs) -> None:
        try:
            method(self, *args, **kwargs)
        except Exception:  # instrumentation must never break what it instruments
            self._failed(method.__name__)

    return guarded


class ControllerMetrics:
    """The metrics of one controller, in a registry of its own (`registry`)."""

    def __init__(self, *, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        reg = self.registry
        self._reconcile = Histogram(
            f"{PREFIX}reconcile_duration_seconds",
            "Time taken by one reconcile of one Rollout, errors included.",
            registry=reg,
            buckets=RECONCILE_BUCKETS,
        )
        self._reconcile_errors = Counter(
            f"{PREFIX}reconcile_errors",
            "Reconciles that ended in an error, by kind: conflict (409: observe again), "
            "kube_error (another API error), crash (a bug), fenced (leadership lost mid-reconcile: "
            "the rest of its writes withheld).",
            ["kind"],
            registry=reg,
        )
        for kind in ERROR_KINDS:  # present from the start, so rate() sees the first one
            self._reconcile_errors.labels(kind)
        self._api_requests = Counter(
            f"{PREFIX}api_requests",
            "Kubernetes API requests made by the controller, by verb (GET, LIST, WATCH, POST, "
            "PUT, PATCH, DELETE), resource, subresource and HTTP code (<error>: no answer).",
            ["verb", "resource", "subresource", "code"],
            registry=reg,
        )
        self._decisions = Counter(
            f"{PREFIX}decisions",
            "Decisions recorded in status.history (each also an Event), by reason.",
            ["reason"],
            registry=reg,
        )
        self._measurements = Counter(
            f"{PREFIX}analysis_measurements",
            "Analysis measurements taken, by run kind, metric provider and phase.",
            ["kind", "provider", "phase"],
            registry=reg,
        )
        self._runs = Counter(
            f"{PREFIX}analysis_runs",
            "Analysis runs finished, by run kind and the phase they finished in.",
            ["kind", "phase"],
            registry=reg,
        )
        self._retries = Counter(
            f"{PREFIX}workqueue_retries",
            "Keys put back on the work queue after a failed reconcile.",
            registry=reg,
        )
        self._leader = Gauge(
            f"{PREFIX}controller_leader",
            "1 while this controller is the one acting on Rollouts, else 0.",
            registry=reg,
        )
        self._failures: set[str] = set()
        self._failures_lock = threading.Lock()

    # -- recording ---------------------------------------------------------------------------
    @_never_raises
    def reconciled(self, seconds: float) -> None:
        self._reconcile.observe(seconds)

    @_never_raises
    def reconcile_failed(self, kind: str) -> None:
        """`kind`: one of ERROR_KINDS."""
        self._reconcile_errors.labels(kind).inc()

    @_never_raises
    def api_request(self, verb: str, resource: str, subresource: str, code: int) -> None:
        """A request `Kube` made (`verb` is Kube's: get, list, ... update); `code` 0: no answer."""
        self._api_requests.labels(
            VERBS.get(verb, verb.upper()), resource, subresource, str(code) if code else NO_RESPONSE
        ).inc()

    @_never_raises
    def decided(self, entries: Iterable[HistoryEntry]) -> None:
        """New history entries, once they are written."""
        for entry in entries:
            self._decisions.labels(entry.reason).inc()

    @_never_raises
    def runs_finished(self, old: RolloutStatus, new: RolloutStatus) -> None:
        """Analysis runs that are done in the written status `new` and were not in `old`."""
        before = {(r.name, r.revision, r.started_at): r.phase for r in old.analysis_runs}
        for run in new.analysis_runs:
            if not run.phase.done:
                continue
            previous = before.get((run.name, run.revision, run.started_at))
            if previous is None or not previous.done:
                self._runs.labels(run.kind.value, run.phase.value).inc()

    @_never_raises
    def measured(self, kind: str, provider: str, phase: str) -> None:
        self._measurements.labels(kind, provider, phase).inc()

    @_never_raises
    def retried(self) -> None:
        self._retries.inc()

    @_never_raises
    def set_leader(self, leader: bool) -> None:
        """1 while this controller leads (always, without leader election)."""
        self._leader.set(1 if leader else 0)

    # -- reading -----------------------------------------------------------------------------
    def value(self, name: str, labels: dict[str, str] | None = None) -> float | None:
        """One sample's current value (tests and benchmarks), None when it does not exist."""
        return self.registry.get_sample_value(name, labels or {})

    def _failed(self, what: str) -> None:
        with self._failures_lock:
            first = what not in self._failures
            self._failures.add(what)
        if first:
            log.exception("metrics: recording %s failed (further failures logged at debug)", what)
        else:
            log.debug("metrics: recording %s failed", what, exc_info=True)
