"""Restart safety and fault tolerance, end to end.

- A real `rollout controller` process is SIGKILLed (no clean-up) at random moments while
  several rollouts walk their steps, and restarted; every rollout must end exactly as an
  uninterrupted one does.
- With 409 conflicts, 500s, timeouts and dropped watches injected by the sandbox, rollouts
  still complete.
"""

from __future__ import annotations

import random
import threading
import time
from pathlib import Path

import pytest

from tests.e2e.harness import (
    REFERENCE_HISTORY,
    Cluster,
    ControllerProcess,
    in_process_controller,
)
from tests.e2e.test_canary import rev


def finished(cluster: Cluster, name: str) -> bool:
    status = cluster.status(name)
    replicas = cluster.replicas(name)
    return (
        status.get("phase") == "Healthy"
        and status.get("stableRevision") == rev("app:v2", name)
        and replicas.get(rev("app:v1", name), (0, 0))[0] == 0
    )


def promote_when_waiting(cluster: Cluster, name: str) -> None:
    """Play the person on call: promote a rollout waiting at its manual pause (once)."""
    status = cluster.status(name)
    waiting = any(c.get("reason") == "CanaryPauseStep" for c in status.get("pauseConditions") or [])
    if waiting and status.get("currentStepIndex") == 3 and status.get("promoteStep") is None:
        cluster.api.promote("default", name)


def assert_final_state(cluster: Cluster, name: str) -> None:
    v1, v2 = rev("app:v1", name), rev("app:v2", name)
    status = cluster.status(name)
    assert status["phase"] == "Healthy"
    assert status["stableRevision"] == status["currentRevision"] == v2
    assert cluster.replicas(name) == {v2: (5, 5), v1: (0, 0)}
    assert cluster.pins(name) == (v2, v2)
    assert status["canary"]["weights"]["stable"] == {"revision": v2, "weight": 100}
    reasons = [h["reason"] for h in status["history"]]
    assert reasons == REFERENCE_HISTORY, f"{name}: {reasons}"


@pytest.mark.slow
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_controller_killed_at_random_points_converges_to_the_same_end(
    tmp_path: Path, seed: int
) -> None:
    rng = random.Random(seed)
    cluster = Cluster(ready_delay=0.3)
    kubeconfig = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(kubeconfig)
    controller = ControllerProcess(kubeconfig)
    names = [f"app{i}" for i in range(6)]
    try:
        controller.start()
        for name in names:
            cluster.create(name)
        for name in names:
            cluster.wait_phase(name, "Healthy", timeout=30)
        # Start the releases staggered, so each kill lands at a different point of each one.
        pending = list(names)
        started: list[str] = []
        kills = 0
        next_kill = time.monotonic() + rng.uniform(0.2, 1.5)
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if pending and rng.random() < 0.5:
                name = pending.pop(0)
                cluster.api.set_image("default", name, "app", "app:v2")
                started.append(name)
            if time.monotonic() >= next_kill and (kills < 6):
                controller.kill()
                kills += 1
                time.sleep(rng.uniform(0.0, 0.6))
                controller.start()
                next_kill = time.monotonic() + rng.uniform(0.5, 2.0)
            for name in started:
                promote_when_waiting(cluster, name)
            if not pending and kills >= 4 and all(finished(cluster, n) for n in names):
                break
            time.sleep(0.1)
        assert kills >= 4
        for name in names:
            assert_final_state(cluster, name)
    finally:
        controller.kill()
        cluster.close()


@pytest.mark.slow
def test_rollouts_complete_through_conflicts_errors_timeouts_and_dropped_watches() -> None:
    cluster = Cluster(ready_delay=0.2)
    faults = cluster.sandbox.faults
    controller = in_process_controller(cluster)
    names = [f"svc{i}" for i in range(4)]
    stop = threading.Event()

    def drop_watches() -> None:
        while not stop.wait(0.7):
            cluster.sandbox.drop_watches()

    dropper = threading.Thread(target=drop_watches, daemon=True)
    try:
        for name in names:
            cluster.create(name)
        for name in names:
            cluster.wait_phase(name, "Healthy")
        # From now on: every 3rd status write conflicts, every 4th Deployment patch fails
        # with 500, every 5th Service patch times out, and watches drop all the time.
        faults.add(
            verb="update", resource="rollouts", subresource="status", code=409, every=3, count=1000
        )
        faults.add(verb="patch", resource="deployments", code=500, every=4, count=1000)
        faults.add(verb="patch", resource="services", code="timeout", every=5, count=1000, hold=0.3)
        dropper.start()
        for name in names:
            cluster.api.set_image("default", name, "app", "app:v2")
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not all(finished(cluster, n) for n in names):
            for name in names:
                promote_when_waiting(cluster, name)
            time.sleep(0.1)
        injected = [r for r in cluster.sandbox.requests.entries() if r.injected]
        codes = {r.status for r in injected}
        assert {409, 500} <= codes, f"faults were not exercised: {codes}"
        for name in names:
            assert_final_state(cluster, name)
    finally:
        stop.set()
        faults.clear()
        controller.stop()
        cluster.close()
