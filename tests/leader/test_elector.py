"""LeaderElector against the sandbox's real Lease API, with fake clocks (one per replica: their
monotonic clocks have nothing in common) and no sleeps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout.kube import Kube
from rollout.kube.client import Obj
from rollout.kube.kinds import LEASES
from rollout.reconciler.leader import LeaderElector
from rollout.sandbox import Sandbox, start_sandbox

NS = "default"
NAME = "rollout-controller"


class FakeClock:
    """A monotonic clock and a wall clock that move only when told."""

    def __init__(self, *, wall: datetime | None = None) -> None:
        self.now = 1000.0
        self.wall_at_start = wall or datetime(2026, 12, 2, 6, 0, tzinfo=UTC)
        self.start = self.now

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return self.wall_at_start + timedelta(seconds=self.now - self.start)

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def sandbox() -> Iterator[Sandbox]:
    with start_sandbox() as sb:
        yield sb


@pytest.fixture
def kube(sandbox: Sandbox) -> Iterator[Kube]:
    k = Kube(sandbox.api_client())
    yield k
    k.close()


def elector(kube: Kube, identity: str, clock: FakeClock, **kwargs: Any) -> LeaderElector:
    return LeaderElector(
        kube,
        name=NAME,
        namespace=NS,
        identity=identity,
        monotonic=clock.monotonic,
        wall_clock=clock.wall,
        **kwargs,
    )


def lease(kube: Kube) -> Obj:
    return kube.get(LEASES, NAME, namespace=NS)


def test_acquires_an_absent_lease_with_kubernetes_fields(kube: Kube) -> None:
    clock = FakeClock()
    a = elector(kube, "a", clock)
    assert not a.is_leader() and not a.state_known
    assert a.try_acquire_or_renew()
    assert a.is_leader() and a.state_known
    got = lease(kube)
    assert got["apiVersion"] == "coordination.k8s.io/v1" and got["kind"] == "Lease"
    assert got["spec"] == {
        "holderIdentity": "a",
        "leaseDurationSeconds": 15,
        "acquireTime": "2026-12-02T06:00:00.000000Z",
        "renewTime": "2026-12-02T06:00:00.000000Z",
        "leaseTransitions": 0,
    }


def test_renew_moves_renew_time_and_keeps_acquire_time_and_transitions(kube: Kube) -> None:
    clock = FakeClock()
    a = elector(kube, "a", clock)
    assert a.try_acquire_or_renew()
    before = lease(kube)
    clock.advance(2)
    assert a.try_acquire_or_renew()
    after = lease(kube)
    assert after["metadata"]["resourceVersion"] != before["metadata"]["resourceVersion"]
    assert after["spec"]["renewTime"] == "2026-12-02T06:00:02.000000Z"
    assert after["spec"]["acquireTime"] == before["spec"]["acquireTime"]
    assert after["spec"]["leaseTransitions"] == 0
    clock.advance(9.9)  # 9.9 s after the last renew: still within the 10 s deadline
    assert a.is_leader()


def test_a_standby_waits_a_lease_duration_on_its_own_clock_then_takes_over(kube: Kube) -> None:
    clock_a, clock_b = FakeClock(), FakeClock()
    clock_b.now = 5.0  # another machine's monotonic clock: unrelated numbers
    a, b = elector(kube, "a", clock_a), elector(kube, "b", clock_b)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    for _ in range(10):  # a keeps renewing: b never gets it, however long it tries
        clock_a.advance(2)
        clock_b.advance(2)
        assert a.try_acquire_or_renew()
        assert not b.try_acquire_or_renew() and not b.is_leader()
    # a stops renewing (dead). b last saw the Lease change at its current time.
    clock_b.advance(14.9)
    assert not b.try_acquire_or_renew()
    clock_b.advance(0.1)
    assert b.try_acquire_or_renew() and b.is_leader()
    spec = lease(kube)["spec"]
    assert spec["holderIdentity"] == "b"
    assert spec["leaseTransitions"] == 1
    assert spec["acquireTime"] == spec["renewTime"]


def test_the_renew_time_written_by_another_machine_is_not_trusted(kube: Kube) -> None:
    """A holder whose wall clock is far behind writes renewTimes long past: the Lease is
    still live to us, because what counts is when *we* saw it change."""
    skewed = FakeClock(wall=datetime(2020, 1, 1, tzinfo=UTC))
    a, b = elector(kube, "a", skewed), elector(kube, "b", FakeClock())
    assert a.try_acquire_or_renew()
    assert lease(kube)["spec"]["renewTime"].startswith("2020-")
    assert not b.try_acquire_or_renew()


def test_a_write_that_loses_the_race_gets_409_and_reads_again(kube: Kube, sandbox: Sandbox) -> None:
    clock_a, clock_b = FakeClock(), FakeClock()
    a, b = elector(kube, "a", clock_a), elector(kube, "b", clock_b)
    assert a.try_acquire_or_renew()
    clock_b.advance(15)  # b has watched a's Lease unchanged for a lease duration...
    assert not b.try_acquire_or_renew()  # ...but only from now on: first sight
    clock_b.advance(15)
    # a renews between b's read and b's write: b's PUT carries a stale resourceVersion.
    real_get = kube.get

    def get_then_renew(*args: object, **kwargs: object) -> Obj:
        got = real_get(*args, **kwargs)  # type: ignore[arg-type]
        kube.get = real_get  # type: ignore[method-assign]
        clock_a.advance(2)
        assert a.try_acquire_or_renew()
        return got

    kube.get = get_then_renew  # type: ignore[method-assign]
    assert not b.try_acquire_or_renew()
    assert [r.status for r in sandbox.requests.entries() if r.verb == "update"][-1] == 409
    assert lease(kube)["spec"]["holderIdentity"] == "a"
    assert not b.is_leader()
    # Reading again, b sees the change and starts counting afresh.
    assert not b.try_acquire_or_renew()
    assert a.is_leader()


def test_is_leader_is_false_at_once_after_a_pause_longer_than_the_renew_deadline(
    kube: Kube,
) -> None:
    clock = FakeClock()
    changes: list[bool] = []
    a = elector(kube, "a", clock, on_change=changes.append)
    assert a.try_acquire_or_renew()
    assert changes == [True]
    clock.advance(10.0)  # frozen (SIGSTOP) for the renew deadline: no call was made since
    assert not a.is_leader()
    # When it runs again its next round renews (nobody took over) and it leads again.
    assert a.try_acquire_or_renew()
    assert a.is_leader()


def test_a_leader_whose_renews_fail_gives_up_at_the_renew_deadline(
    kube: Kube, sandbox: Sandbox
) -> None:
    clock = FakeClock()
    changes: list[bool] = []
    a = elector(kube, "a", clock, on_change=changes.append)
    assert a.try_acquire_or_renew()
    sandbox.faults.add(verb="update", resource="leases", code=500, count=100)
    for _ in range(4):
        clock.advance(2)
        assert not a.try_acquire_or_renew()
        assert a.is_leader()  # 8 s since the last renew
    clock.advance(2)
    assert not a.try_acquire_or_renew()
    assert not a.is_leader()
    assert changes == [True, False]


def test_release_clears_the_holder_so_a_standby_takes_over_at_once(kube: Kube) -> None:
    clock_a, clock_b = FakeClock(), FakeClock()
    a, b = elector(kube, "a", clock_a), elector(kube, "b", clock_b)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    a.stop(release=True)  # never started: stop only releases
    assert not a.is_leader()
    released = lease(kube)["spec"]
    assert released["holderIdentity"] == ""
    assert released["leaseDurationSeconds"] == 1
    assert b.try_acquire_or_renew()  # no time passed
    spec = lease(kube)["spec"]
    assert spec["holderIdentity"] == "b" and spec["leaseTransitions"] == 1


def test_release_leaves_a_lease_someone_else_holds_alone(kube: Kube) -> None:
    clock_a, clock_b = FakeClock(), FakeClock()
    a, b = elector(kube, "a", clock_a), elector(kube, "b", clock_b)
    assert a.try_acquire_or_renew()
    assert not b.try_acquire_or_renew()
    clock_b.advance(15)
    assert b.try_acquire_or_renew()  # a was presumed dead
    a.release()
    assert lease(kube)["spec"]["holderIdentity"] == "b"


def test_a_restarted_process_with_the_same_identity_renews_at_once(kube: Kube) -> None:
    first = elector(kube, "pod-0", FakeClock())
    assert first.try_acquire_or_renew()
    acquired = lease(kube)["spec"]["acquireTime"]
    restarted = elector(kube, "pod-0", FakeClock())  # killed, no release
    assert restarted.try_acquire_or_renew()
    spec = lease(kube)["spec"]
    assert spec["acquireTime"] == acquired and spec["leaseTransitions"] == 0


@pytest.mark.parametrize(
    ("duration", "deadline", "retry"), [(15, 15.0, 2.0), (15, 10.0, 10.0), (15, 10.0, 0.0)]
)
def test_settings_must_order_retry_deadline_and_duration(
    kube: Kube, duration: int, deadline: float, retry: float
) -> None:
    with pytest.raises(ValueError, match="retry period < renew deadline < lease duration"):
        LeaderElector(kube, lease_duration=duration, renew_deadline=deadline, retry_period=retry)
