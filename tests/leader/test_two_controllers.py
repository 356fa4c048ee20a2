"""Two real `rollout controller` processes against one sandbox, with short leases (3 s
duration, 2 s renew deadline, 0.5 s retry period).

What this proves, and how: which replica holds the Lease is read from the Lease; that the
standby did not reconcile or write is read from the standby's own metrics (its reconcile count
and its API requests by verb and resource, counted by its Kube client for every request it
sends). The sandbox's request log cannot tell the two apart (requests carry no identity), so
"the resumed old leader wrote nothing" rests on that process's own counters, taken before it
was frozen and again after it ran on. The test freezes it while idle; a reconcile in flight at
the moment of the freeze is test_fencing.py's (made exact there, in one process: the write
guard withholds the rest of its writes).
"""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from rollout.errors import NotFoundError
from rollout.kube.kinds import LEASES
from tests.e2e.harness import NS, Cluster, ControllerProcess
from tests.e2e.test_canary import rev
from tests.e2e.test_crash_and_faults import promote_when_waiting
from tests.metrics.scrape import Scrape, scrape

LEASE = ("--lease-duration", "3", "--renew-deadline", "2", "--retry-period", "0.5")
WRITES = ("POST", "PUT", "PATCH", "DELETE")
# Leases of 3 s renewed every 0.5 s: a neighbour test hogging the CPU would make the
# leader miss its renewals, so these run alone.
pytestmark = pytest.mark.alone


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Replica:
    def __init__(self, kubeconfig: Path, identity: str) -> None:
        self.port = free_port()
        options = (*LEASE, "--metrics-port", str(self.port), "--metrics-address", "127.0.0.1")
        self.process = ControllerProcess(kubeconfig, identity=identity, options=options)
        self.identity = identity

    def readyz(self) -> str:
        try:
            return httpx.get(f"http://127.0.0.1:{self.port}/readyz", timeout=2).text.strip()
        except httpx.TransportError:
            return "down"

    def metrics(self) -> Scrape:
        return scrape(self.port)

    def reconciles(self) -> float:
        return self.metrics().value("rollout_reconcile_duration_seconds_count")

    def writes(self) -> dict[str, float]:
        """Write requests this process sent, by resource (the Lease excluded)."""
        found: dict[str, float] = {}
        for sample in self.metrics().series("rollout_api_requests_total"):
            resource = sample.labels["resource"]
            if sample.labels["verb"] in WRITES and resource != "leases":
                found[resource] = found.get(resource, 0) + sample.value
        return found

    def signal(self, sig: signal.Signals) -> None:
        assert self.process.proc is not None
        self.process.proc.send_signal(sig)


def wait_for(check: Callable[[], bool], what: str, timeout: float) -> float:
    """Seconds it took."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, f"timed out ({timeout}s) waiting for {what}"
        time.sleep(0.05)
    return time.monotonic() - started


def quiet(replica: Replica) -> tuple[float, dict[str, float]]:
    """Its reconcile count and writes once they have not moved for half a second."""
    last = (replica.reconciles(), replica.writes())
    deadline = time.monotonic() + 10
    while True:
        time.sleep(0.5)
        now = (replica.reconciles(), replica.writes())
        if now == last:
            return now
        assert time.monotonic() < deadline, f"{replica.identity} never went idle"
        last = now


def holder(cluster: Cluster) -> str:
    try:
        spec = cluster.kube.get(LEASES, "rollout-controller", namespace=NS).get("spec") or {}
    except NotFoundError:  # not created yet
        return ""
    return str(spec.get("holderIdentity") or "")


def finish(cluster: Cluster, image: str, timeout: float) -> None:
    """Play the person on call until the release of `image` is done."""

    def done() -> bool:
        promote_when_waiting(cluster, "app")
        status = cluster.status("app")
        return status.get("phase") == "Healthy" and status.get("stableRevision") == rev(image)

    wait_for(done, f"the release of {image}", timeout)


@pytest.fixture
def kubeconfig(cluster: Cluster, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(path)
    return path


@pytest.fixture
def replicas(kubeconfig: Path) -> Iterator[tuple[Replica, Replica]]:
    a, b = Replica(kubeconfig, "ctl-a"), Replica(kubeconfig, "ctl-b")
    yield a, b
    for replica in (a, b):
        if replica.process.proc is not None and replica.process.proc.poll() is None:
            replica.signal(signal.SIGCONT)  # a stopped process ignores SIGKILL until resumed
        replica.process.kill()


@pytest.mark.e2e
def test_one_replica_acts_and_the_standby_takes_over_on_kill_and_on_freeze(
    cluster: Cluster, replicas: tuple[Replica, Replica]
) -> None:
    a, b = replicas
    a.process.start()
    wait_for(lambda: a.readyz() == "ok: leader", "ctl-a leading", 20)
    b.process.start()
    wait_for(lambda: b.readyz() == "ok: standby", "ctl-b standing by", 20)
    assert holder(cluster) == "ctl-a"

    # Only the leader reconciles.
    cluster.create("app")
    cluster.wait_phase("app", "Healthy", timeout=15)
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_step("app", 1, timeout=15)  # mid-release
    assert a.reconciles() > 0
    assert b.reconciles() == 0 and b.writes() == {}
    assert b.metrics().value("rollout_controller_leader") == 0
    assert a.metrics().value("rollout_controller_leader") == 1

    # SIGKILL the leader: the standby takes over within the lease duration (+ a retry period
    # and slack for the first observation), and the release completes.
    a.process.kill()
    wait_for(lambda: holder(cluster) == "ctl-b", "ctl-b to take over", 3 + 0.5 + 2.5)
    finish(cluster, "app:v2", 20)
    assert b.reconciles() > 0

    # The old leader comes back as a standby; then the new leader is frozen while idle.
    a.process.start()
    wait_for(lambda: a.readyz() == "ok: standby", "ctl-a back as standby", 20)
    frozen_reconciles, frozen_writes = quiet(b)
    b.signal(signal.SIGSTOP)
    wait_for(lambda: holder(cluster) == "ctl-a", "ctl-a to take over from frozen ctl-b", 6.0)
    cluster.api.set_image(NS, "app", "app", "app:v3")  # work for whoever leads
    cluster.wait_step("app", 1, timeout=15)  # ctl-a is working on it
    b.signal(signal.SIGCONT)
    # Resumed, ctl-b sees events for the release, yet must neither reconcile nor write.
    finish(cluster, "app:v3", 20)
    wait_for(lambda: b.readyz() == "ok: standby", "ctl-b to know it stands by", 5)
    assert b.metrics().value("rollout_controller_leader") == 0
    assert b.reconciles() == frozen_reconciles
    assert b.writes() == frozen_writes
    assert holder(cluster) == "ctl-a"
    assert cluster.status("app")["stableRevision"] == rev("app:v3")
