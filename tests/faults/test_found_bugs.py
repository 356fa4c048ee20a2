"""Regression tests for the product bugs the fault suite (test_hundred_rollouts.py) found, each
reproduced on its own, deterministically, and each now fixed; where the fix is:

- canary Service pinned before the canary has a pod: rollout/engine/decide.py
- transient error reading an AnalysisTemplate aborts the release: rollout/reconciler/analyst.py
  (and rollout/secrets.py, for a Secret read the same way)
- weight written on a retry never read back: rollout/reconciler/reconcile.py
- informer back-off not reset after a watch that worked: rollout/reconciler/informer.py
- a 5xx in a preflight check holds the release until the preflight deadline:
  rollout/analysis/preflight.py (and rollout/engine/gating.py, which looks again soon)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from rollout.errors import TransientKubeError
from rollout.kube import SERVICES
from rollout.kube.client import Obj, WatchEvent
from rollout.reconciler.informer import Informer
from tests.e2e.harness import Cluster, in_process_controller
from tests.faults.invariants import Invariants, TrafficInvariant
from tests.faults.metrics_endpoint import MetricsEndpoint
from tests.faults.record import StoreRecorder
from tests.faults.scenario import GOOD, PROMOTED, Kind, create, install, revisions

pytestmark = pytest.mark.e2e


class Release:
    """One rollout of `kind` on a sandbox with an in-process controller, Healthy on v1."""

    def __init__(self, kind: Kind, *, ready_delay: float) -> None:
        self.name = kind.names()[0]
        self.cluster = Cluster(ready_delay=ready_delay)
        self.recorder = StoreRecorder(self.cluster.sandbox)
        self.endpoint = MetricsEndpoint()
        self.endpoint.values = {"good": 0.01}
        self.controller = in_process_controller(self.cluster)
        install(self.cluster, self.endpoint.url)
        create(self.cluster, kind, self.name)
        self.cluster.wait_phase(self.name, "Healthy", timeout=20)

    def set_v2(self) -> None:
        self.cluster.api.set_image("default", self.name, "app", "app:v2")

    def close(self) -> None:
        self.controller.stop()
        self.cluster.close()
        self.endpoint.close()


@pytest.fixture
def release(request: pytest.FixtureRequest) -> Iterator[Release]:
    kind, ready_delay = request.param
    r = Release(kind, ready_delay=ready_delay)
    yield r
    r.close()


@pytest.mark.parametrize("release", [(Kind("plain", 1, PROMOTED), 1.0)], indirect=True)
def test_the_canary_service_is_pinned_only_once_the_canary_has_an_available_pod(
    release: Release,
) -> None:
    """The bug: at the start of an update the canary Service's selector moved from the
    stable's pods to the new revision's before that revision had a pod, so for the pods'
    start-up time (`ready_delay`, here 1 s) it had no endpoints. Asserted now: the traffic
    checker finds no violation up to step 1, i.e. the selector moves only once the canary
    has an available pod, as the blue-green preview Service (strategies/bluegreen.py) and
    Argo Rollouts do ("delaying service switch ... ReplicaSet has zero availability")."""
    invariants = Invariants(traffic=TrafficInvariant(armed=False))
    invariants.feed(release.recorder.since(0))
    position = len(release.recorder)
    invariants.arm()
    release.set_v2()
    release.cluster.wait_step(release.name, 1, timeout=20)
    assert invariants.feed(release.recorder.since(position)) == []


@pytest.mark.parametrize("release", [(Kind("plain", 1, PROMOTED), 0.3)], indirect=True)
def test_a_transient_error_in_a_preflight_check_does_not_hold_the_release(
    release: Release,
) -> None:
    """The bug (seed 23 of the fault run): a preflight check that met a 5xx was a failed
    check; the rollout paused on it, and as what preflight reads is not watched and an
    unchanged status is not written, nothing looked again before the preflight deadline
    (600 s by default). Asserted now: three 503s on the ServiceAccount read delay the
    release by their retries only (rollout/analysis/preflight.py re-raises them for the
    reconcile's back-off; rollout/engine/gating.py looks again within 10 s in any case)."""
    release.cluster.sandbox.faults.add(verb="get", resource="serviceaccounts", code=503, count=3)
    release.set_v2()
    release.cluster.wait_step(release.name, 1, timeout=8)


@pytest.mark.parametrize(
    "release", [(Kind("good", 1, PROMOTED, analysis=GOOD), 0.3)], indirect=True
)
@pytest.mark.parametrize("code", [500, 503])
def test_a_transient_error_reading_an_analysis_template_does_not_abort_the_release(
    release: Release, code: int
) -> None:
    """The bug: the templates are read on every reconcile of an update, and any KubeError,
    a 5xx included, became ConfigError "could not be read": the run went to Error and the
    update was rolled back at once (history: ..., StepCompleted, RolloutAborted), although
    the template was there and the metric answered a good value. Asserted now: with one
    5xx on reading the template at the analysis step, the reconcile is retried and the
    release is promoted, not aborted."""
    release.set_v2()
    release.cluster.wait_step(release.name, 1, timeout=20)  # at the analysis step
    release.cluster.sandbox.faults.add(verb="get", resource="analysistemplates", code=code)
    done = release.cluster.wait(
        release.name,
        lambda r: (
            (r.get("status") or {}).get("abort")
            or (r.get("status") or {}).get("stableRevision") == revisions(release.name)[1]
        ),
        timeout=20,
        what="promoted or aborted",
    )
    assert not done["status"].get("abort"), done["status"].get("abortMessage")


@pytest.mark.parametrize(
    "release", [(Kind("istio", 1, PROMOTED, router="istio"), 1.0)], indirect=True
)
def test_a_weight_written_on_a_retry_is_read_back_and_the_step_completes(
    release: Release,
) -> None:
    """Six failed VirtualService writes of the step's weight (60), then a successful one. The
    bug: the reconcile that wrote the status ("waiting", 3/3 canary pods) had its weight
    write fail; the retry that succeeded had no status change to write and returned no time
    to look again, and routing objects are not watched: nothing reconciled the rollout
    again, so it waited at step 3/3 with 60% already routed, until an unrelated event or
    the progress deadline (default 600 s, which then aborts a healthy release). Asserted
    now: the weight is read back and the step completes within 8 s. The count 6 makes the
    failed retries outlast the 2 s in which count-only status changes are held back."""
    release.set_v2()
    release.cluster.wait_step(release.name, 2, timeout=20)  # scaling the canary to 3 pods
    release.cluster.sandbox.faults.add(verb="update", resource="virtualservices", code=500, count=6)
    release.cluster.wait_step(release.name, 3, timeout=8)


class _Recorder(threading.Event):
    """The informer's stop event: records each back-off wait, stops after `limit` of them."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.waits: list[float] = []
        self.limit = limit

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is not None and timeout >= 0.1:
            self.waits.append(timeout)
        if len(self.waits) >= self.limit:
            self.set()
        return self.is_set()


class _BreakingWatches:
    """A cluster whose every watch delivers an event and then breaks (a connection reset):
    each stream worked, none ended cleanly."""

    def __init__(self) -> None:
        self.version = 1

    def list(self, kind: Any, **_: Any) -> tuple[list[Obj], str]:
        return [], str(self.version)

    def watch(self, kind: Any, **_: Any) -> Iterator[WatchEvent]:
        self.version += 1
        meta = {"name": "svc", "namespace": "default", "resourceVersion": str(self.version)}
        yield WatchEvent("MODIFIED", {"metadata": meta})
        raise TransientKubeError("watch ended: Response ended prematurely")


def test_a_watch_that_worked_and_then_broke_is_resumed_at_once() -> None:
    """The bug: the informer reset its back-off only when a watch ended cleanly. A stream
    reset after delivering events (a load balancer, an API server restart, the sandbox's
    abrupt drops) doubled it each time: 0.1, 0.2, 0.4 ... 10 s without a watch, while the
    cluster changed (seen in the fault run's controller log: "retrying in 10.0s"). Asserted
    now: after a watch that delivered an event and broke, the wait is never above 0.2 s,
    as client-go resets its back-off once a watch has run well."""
    informer = Informer(_BreakingWatches(), SERVICES, on_change=lambda obj: None)  # type: ignore[arg-type]
    stop = _Recorder(limit=8)
    informer._stop = stop
    started = time.monotonic()
    informer._run()
    assert time.monotonic() - started < 1  # waits are recorded, not waited
    assert max(stop.waits) <= 0.2, stop.waits
