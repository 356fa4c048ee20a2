"""100 concurrent rollouts through one real `rollout controller` process while it is
SIGKILLed and restarted, about 10% of API requests fail (409, 500, 503, timeouts), watches
drop (cleanly and abruptly), the metrics provider is down for a stretch and the controller's
wall clock jumps forward and back (libfaketime: tests/faults/faketime.py).

Invariants, on every committed state (tests/faults/invariants.py) and at the end: no traffic
on a revision without available pods, no update both promoted and aborted, history only
appended to; every rollout at its expected end, with the history and analysis runs of an
uninterrupted reference run of the same kinds.

Scale, to fit the suite's budget on a 2-core machine: analysis intervals are 1 s where a
production metric measures every minute, so the metrics outage of at least 20 s (and until
the rollouts released into it are aborted by it) stands for 20 minutes or more of a
1-minute-interval metric; pauses and scale-down delays are 1 s; the clock jumps are +300 s,
-8 s, +420 s, -8 s (a jump back delays every timer by its size, which the budget pays for).

Replay a failure with its seed: FAULTS_SEED=N .venv/bin/pytest tests/faults -k hundred
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pytest

from rollout import labels
from tests.e2e.harness import Cluster, ControllerProcess, in_process_controller
from tests.faults.driver import Chaos, Driver
from tests.faults.faketime import WallClock, ensure_installed, remove_leftovers
from tests.faults.invariants import (
    DecisionInvariant,
    HistoryInvariant,
    Invariants,
    TrafficInvariant,
    history_of,
    route_weights,
    runs_of,
)
from tests.faults.metrics_endpoint import ERRORING, MetricsEndpoint
from tests.faults.record import DEPLOYMENTS as DEPLOYMENT_CHANGES
from tests.faults.record import HTTP_ROUTES, VIRTUAL_SERVICES, StoreRecorder
from tests.faults.scenario import (
    ABORTED,
    KINDS,
    PROMOTED,
    REPLICAS,
    Kind,
    create,
    install,
    one_of_each,
    revisions,
    roles,
    routing_kind,
    services,
)

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.alone]

SEED = int(os.environ.get("FAULTS_SEED", "7"))
READY_DELAY = 0.3  # seconds a new pod takes to become available
# The `fragile` path is never served (503): those rollouts are released into the metrics
# outage, and an answer once the outage is over would let a slow one (it may not reach its
# analysis step within the outage under SIGKILLs and faults) pass instead of being aborted.
VALUES = {"good": 0.01, "bad": 0.5}
Reference = dict[str, tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]


def unarmed() -> Invariants:
    """Checkers that build their picture from the first commit and report once armed (the
    first deployment of v1 pins Services before any pod exists: nothing served before it)."""
    return Invariants(
        traffic=TrafficInvariant(armed=False),
        decisions=DecisionInvariant(armed=False),
        history=HistoryInvariant(armed=False),
    )


def reference_run() -> Reference:
    """One rollout of each kind, released by an uninterrupted controller: no kills, faults,
    drops or jumps (the `fragile` metric's path is not served, as in the real run). Returns
    kind -> (history, analysis runs), by revision role."""
    endpoint = MetricsEndpoint()
    endpoint.values = dict(VALUES)
    cluster = Cluster(ready_delay=READY_DELAY)
    recorder = StoreRecorder(cluster.sandbox)
    invariants = unarmed()
    kinds = one_of_each()
    controller = in_process_controller(cluster)
    try:
        install(cluster, endpoint.url)
        for kind in kinds:
            for name in kind.names():
                create(cluster, kind, name)
        driver = Driver(cluster, recorder, invariants, kinds, rng=random.Random(SEED))
        names = list(driver.kind_of)
        driver.wait_for(names, "healthy on v1", timeout=30)
        invariants.arm()
        driver.release(timeout=40)
        driver.pump()
        assert invariants.violations == [], "\n".join(map(str, invariants.violations))
        return {
            kind.key: (
                history_of(driver.world.status(name), roles(name)),
                runs_of(driver.world.status(name), roles(name)),
            )
            for kind in kinds
            for name in kind.names()
        }
    finally:
        controller.stop()
        cluster.close()
        endpoint.close()


def end_problems(
    cluster: Cluster, kind: Kind, name: str, v1_uid: str, reference: Reference
) -> list[str]:
    """Read from the API once the faults are off: how the rollout differs from its expected
    end, and from the history and analysis runs of the reference run (empty: it does not)."""
    v1, v2 = revisions(name)
    status = cluster.status(name)
    primary, secondary = services(kind, name)
    pins = (cluster.pinned(primary), cluster.pinned(secondary))
    replicas = cluster.replicas(name)
    problems = []
    if kind.expect == PROMOTED:
        expected = ("Healthy", v2, v2, {v2: (REPLICAS, REPLICAS), v1: (0, 0)}, (v2, v2))
    else:
        assert kind.expect == ABORTED
        expected = ("Degraded", v1, v2, {v1: (REPLICAS, REPLICAS), v2: (0, 0)}, (v1, v1))
        if not status.get("abort") or "error-ratio" not in status.get("abortMessage", ""):
            problems.append(f"not aborted by its analysis: {status.get('abortMessage')!r}")
        # The stable is untouched: the same Deployment object, with the same template.
        v1_deployment = cluster.revisions(name).get(v1, {"metadata": {}})["metadata"]
        if v1_deployment.get("uid") != v1_uid:
            problems.append("the stable's Deployment was replaced")
        if '"app:v1"' not in (v1_deployment.get("annotations") or {}).get(labels.TEMPLATE, ""):
            problems.append("the stable's template changed")
    found = (
        status.get("phase"),
        status.get("stableRevision"),
        status.get("currentRevision"),
        replicas,
        pins,
    )
    if found != expected:
        problems.append(f"(phase, stable, current, replicas, pins) {found}, expected {expected}")
    routing = routing_kind(kind)
    if routing is not None:
        obj = cluster.kube.get(routing, name, namespace="default")
        key = VIRTUAL_SERVICES if kind.router == "istio" else HTTP_ROUTES
        weights = dict(route_weights(key, obj))
        if weights != {primary: 100, secondary: 0}:
            problems.append(f"routing weights {weights}")
    history, runs = reference[kind.key]
    if history_of(status, roles(name)) != history:
        problems.append(f"history {history_of(status, roles(name))}, reference {history}")
    if runs_of(status, roles(name)) != runs:
        problems.append(f"analysis runs {runs_of(status, roles(name))}, reference {runs}")
    return [f"{name}: {p}" for p in problems]


def stable_shrank(recorder: StoreRecorder, position: int, kinds: tuple[Kind, ...]) -> list[str]:
    """Aborted rollouts with a router whose stable (v1) Deployment lost desired pods at any
    moment of the release: with a router the stable keeps its full size throughout."""
    routed = {n for k in kinds if k.router != "none" and k.expect == ABORTED for n in k.names()}
    shrank = set()
    for change in recorder.since(position):
        if change.kind != DEPLOYMENT_CHANGES or change.type == "DELETED":
            continue
        meta_labels = change.obj["metadata"].get("labels") or {}
        name = str(meta_labels.get(labels.NAME))
        desired = (change.obj.get("spec") or {}).get("replicas", 1)
        if (
            name in routed
            and meta_labels.get(labels.REVISION) == revisions(name)[0]
            and desired < REPLICAS
        ):
            shrank.add(name)
    return sorted(shrank)


@pytest.mark.timeout(240)
def test_a_hundred_rollouts_converge_under_kills_faults_outage_and_clock_jumps(
    tmp_path: Path,
) -> None:
    print(f"fault suite seed {SEED} (replay: FAULTS_SEED={SEED})")
    began = time.monotonic()
    library = ensure_installed()  # Debian's libfaketime, installed with apt-get if missing
    reference = reference_run()
    reference_took = time.monotonic() - began

    rng = random.Random(SEED)
    clock = WallClock(library, tmp_path / "faketime.rc")
    endpoint = MetricsEndpoint()
    endpoint.values = dict(VALUES)
    cluster = Cluster(ready_delay=READY_DELAY)
    recorder = StoreRecorder(cluster.sandbox)
    invariants = unarmed()
    kubeconfig = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(kubeconfig)
    controller = ControllerProcess(kubeconfig, env=clock.env())
    chaos = Chaos(rng, controller, clock, endpoint)
    try:
        install(cluster, endpoint.url)
        for kind in KINDS:
            for name in kind.names():
                create(cluster, kind, name)
        controller.start()
        driver = Driver(cluster, recorder, invariants, KINDS, rng=rng)
        names = list(driver.kind_of)
        assert len(names) == 100
        driver.wait_for(names, "healthy on v1", timeout=60)
        setup_took = time.monotonic() - began - reference_took
        v1_uids = {n: cluster.revisions(n)[revisions(n)[0]]["metadata"]["uid"] for n in names}
        armed_at, armed_wall = driver.position, time.time()
        early = invariants.arm()
        assert early == [], "\n".join(map(str, early))

        driver.chaos = chaos
        release_took = driver.release(timeout=120)
        chaos.stop(cluster)
        driver.wait_for(names, "at end", timeout=20)  # and still there with the faults off
        driver.pump()

        assert invariants.violations == [], "\n".join(map(str, invariants.violations))
        problems = [
            problem
            for kind in KINDS
            for name in kind.names()
            for problem in end_problems(cluster, kind, name, v1_uids[name], reference)
        ]
        assert problems == [], "\n".join(problems)
        assert stable_shrank(recorder, armed_at, KINDS) == []
        # No reconcile crashed (logged with a traceback), e.g. on a call libfaketime breaks.
        log = controller.log.read_text(errors="replace")
        assert "Traceback" not in log, log[log.index("Traceback") :][:3000]

        # The faults were there, at the rate and of the kinds the issue asks for.
        requests = [r for r in cluster.sandbox.requests.entries() if r.started >= armed_wall]
        injected = [r for r in requests if r.injected]
        share = len(injected) / len(requests)
        codes = {r.status for r in injected}
        assert 0.08 <= share <= 0.14, f"{share:.1%} of {len(requests)} requests failed"
        assert {0, 409, 500, 503} <= codes, codes  # 0: a timeout, dropped without an answer
        assert chaos.killed == chaos.kills
        assert clock.jumps == list(chaos.jumps)
        assert chaos.outage_started is not None and chaos.outage_ended is not None
        outage = chaos.outage_ended - chaos.outage_started
        assert outage >= chaos.outage
        assert endpoint.requests[ERRORING] > 0 and chaos.drops >= 10
        print(
            f"seed {SEED}: reference run {reference_took:.1f}s, set-up {setup_took:.1f}s, "
            f"release under chaos {release_took:.1f}s; {len(requests)} API requests, "
            f"{len(injected)} failed on purpose ({share:.1%}, codes {sorted(codes)}); "
            f"{chaos.killed} kills, {chaos.drops} watch drops, clock jumps {clock.jumps}, "
            f"metrics outage {outage:.1f}s ({endpoint.requests[ERRORING]} answered 503); "
            f"{invariants.fed} commits checked ({invariants.traffic.checked} traffic checks)"
        )
        print("chaos timeline:\n  " + "\n  ".join(chaos.timeline))
    except AssertionError as err:
        timeline = "\n  ".join(chaos.timeline)
        raise AssertionError(f"{err}\nreplay: FAULTS_SEED={SEED}\nchaos:\n  {timeline}") from err
    finally:
        proc = controller.proc
        controller.kill()
        if proc is not None:
            remove_leftovers(proc.pid)
        cluster.close()
        endpoint.close()
