"""`LeaderElector`: one acting controller among replicas, through a coordination.k8s.io/v1 Lease.

The semantics are client-go's (`k8s.io/client-go/tools/leaderelection`):

- The Lease records `holderIdentity`, `leaseDurationSeconds`, `acquireTime`, `renewTime` and
  `leaseTransitions`. Every write is a PUT guarded by the resourceVersion we read (a create when
  the Lease is absent); a 409 means someone else wrote first, so this attempt fails and the
  next one reads again.
- A Lease held by someone else is taken over only once it has not changed for its
  `leaseDurationSeconds`, measured on *our* monotonic clock from when *we* saw it change. The
  `renewTime` written in it is never compared with our wall clock: clocks on two machines
  disagree, monotonic time elapsed on one does not.
- The leader renews every `retry_period`. `is_leader()` is true only while the last successful
  renew (the monotonic time its attempt started) is younger than `renew_deadline`, computed at
  each call: a process that was stopped (SIGSTOP, a long GC pause, a frozen VM) answers false as
  soon as it runs again, before it has renewed or even noticed. Since `renew_deadline` is
  shorter than `lease_duration`, we stop acting before anyone else may start.
- A clean `stop()` releases the Lease (holder cleared, duration 1 s), so a standby takes over
  within a retry period instead of a lease duration.
- A holder whose identity equals ours is us (a restarted process with a stable identity, such
  as a StatefulSet pod name): it renews at once, without waiting for its predecessor's lease.

The controller asks `is_leader()` before each reconcile and again before each write it sends
(its client's write guard), so a reconcile running when the process is frozen stops at its next
write once resumed. What this cannot do: stop a write already sent, or one whose check passed
an instant before the freeze. Status writes are resourceVersion-guarded as well (they 409 if
the new leader wrote); the other writes have only the check.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from rollout.errors import ConflictError, KubeError, NotFoundError
from rollout.kube import Kube
from rollout.kube.client import Obj
from rollout.kube.kinds import LEASES

log = logging.getLogger(__name__)

DEFAULT_LEASE_NAME = "rollout-controller"
DEFAULT_LEASE_DURATION = 15
DEFAULT_RENEW_DEADLINE = 10.0
DEFAULT_RETRY_PERIOD = 2.0


def default_identity() -> str:
    """hostname-pid: distinct for two processes on one machine."""
    return f"{socket.gethostname()}-{os.getpid()}"


def micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime (RFC 3339 with microseconds, UTC)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class LeaderElector:
    def __init__(
        self,
        kube: Kube,
        *,
        name: str = DEFAULT_LEASE_NAME,
        namespace: str = "default",
        identity: str | None = None,
        lease_duration: int = DEFAULT_LEASE_DURATION,
        renew_deadline: float = DEFAULT_RENEW_DEADLINE,
        retry_period: float = DEFAULT_RETRY_PERIOD,
        monotonic: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = _utcnow,
        on_change: Callable[[bool], None] | None = None,
    ) -> None:
        """`monotonic` decides everything; `wall_clock` only fills acquireTime/renewTime for
        people reading the Lease. `on_change(leading)` is called from the elector's thread
        (or `try_acquire_or_renew`'s caller) when leadership is gained or lost."""
        if not 0 < retry_period < renew_deadline < lease_duration:
            raise ValueError(
                "leader election needs 0 < retry period < renew deadline < lease duration, got "
                f"{retry_period} / {renew_deadline} / {lease_duration}"
            )
        self._kube = kube
        self.name = name
        self.namespace = namespace
        self.identity = identity or default_identity()
        self.lease_duration = lease_duration
        self.renew_deadline = renew_deadline
        self.retry_period = retry_period
        self._monotonic = monotonic
        self._wall = wall_clock
        self.on_change = on_change
        self._lock = threading.Lock()
        self._leading = False  # what on_change was last told
        self._renewed_at: float | None = None  # monotonic start of our last successful write
        self._observed_rv: str | None = None
        self._observed_at = 0.0  # monotonic time we saw the Lease change last
        self._attempted = False
        self.heartbeat = monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- state -------------------------------------------------------------------------------
    def is_leader(self) -> bool:
        """True while our last successful renew is younger than the renew deadline."""
        with self._lock:
            renewed = self._renewed_at
        return renewed is not None and self._monotonic() - renewed < self.renew_deadline

    @property
    def state_known(self) -> bool:
        """At least one attempt has finished (we know whether we lead or stand by)."""
        return self._attempted

    # -- one round ---------------------------------------------------------------------------
    def try_acquire_or_renew(self) -> bool:
        """One read and, when ours to take, one write. True when we hold the Lease now."""
        started = self._monotonic()
        self.heartbeat = started
        try:
            ok = self._attempt(started)
        except KubeError as err:
            log.warning("leader election: lease %s/%s: %s", self.namespace, self.name, err)
            ok = False
        self._attempted = True
        if ok:
            with self._lock:
                self._renewed_at = started
        self._notify()
        return ok

    def _attempt(self, started: float) -> bool:
        now = self._wall()
        try:
            lease = self._kube.get(LEASES, self.name, namespace=self.namespace)
        except NotFoundError:
            body = {
                "apiVersion": LEASES.api_version,
                "kind": LEASES.kind,
                "metadata": {"name": self.name, "namespace": self.namespace},
                "spec": self._spec(now, acquired=now, transitions=0),
            }
            try:
                created = self._kube.create(LEASES, body, namespace=self.namespace)
            except ConflictError:  # someone created it between our read and our write
                return False
            self._observe(created, started)
            log.info("leader election: %s acquired new lease %s", self.identity, self.name)
            return True
        spec: dict[str, Any] = lease.get("spec") or {}
        self._observe(lease, started)
        holder = spec.get("holderIdentity") or ""
        if holder and holder != self.identity:
            duration = float(spec.get("leaseDurationSeconds") or self.lease_duration)
            if started < self._observed_at + duration:
                with self._lock:
                    self._renewed_at = None  # someone else holds it: we certainly do not
                return False
        ours = holder == self.identity
        lease["spec"] = self._spec(
            now,
            acquired=spec.get("acquireTime") if ours else now,
            transitions=int(spec.get("leaseTransitions") or 0) + (0 if ours else 1),
        )
        try:
            written = self._kube.replace(LEASES, lease, namespace=self.namespace)
        except ConflictError:
            log.debug("leader election: lease %s changed under us; reading again", self.name)
            return False
        self._observe(written, started)
        if not ours:
            log.info(
                "leader election: %s took over lease %s from %r", self.identity, self.name, holder
            )
        return True

    def _spec(self, now: datetime, *, acquired: datetime | str | None, transitions: int) -> Obj:
        acquire = micro_time(acquired) if isinstance(acquired, datetime) else acquired
        return {
            "holderIdentity": self.identity,
            "leaseDurationSeconds": self.lease_duration,
            "acquireTime": acquire or micro_time(now),
            "renewTime": micro_time(now),
            "leaseTransitions": transitions,
        }

    def _observe(self, lease: Obj, at: float) -> None:
        rv = str(lease["metadata"].get("resourceVersion", ""))
        if rv != self._observed_rv:
            self._observed_rv = rv
            self._observed_at = at

    def _notify(self) -> None:
        leading = self.is_leader()
        if leading == self._leading:
            return
        self._leading = leading
        log.info(
            "leader election: %s %s lease %s/%s",
            self.identity,
            "now leads with" if leading else "stopped leading with",
            self.namespace,
            self.name,
        )
        if self.on_change is not None:
            self.on_change(leading)

    def release(self) -> None:
        """Give the Lease up if we hold it: holder cleared, so others take it at once."""
        with self._lock:
            held = self._renewed_at is not None
            self._renewed_at = None
        self._notify()
        if not held:
            return
        try:
            lease = self._kube.get(LEASES, self.name, namespace=self.namespace)
            spec = lease.get("spec") or {}
            if spec.get("holderIdentity") != self.identity:
                return
            now = micro_time(self._wall())
            lease["spec"] = {
                **spec,
                "holderIdentity": "",
                "leaseDurationSeconds": 1,
                "renewTime": now,
                "acquireTime": now,
            }
            self._kube.replace(LEASES, lease, namespace=self.namespace)
            log.info("leader election: %s released lease %s", self.identity, self.name)
        except KubeError as err:  # ConflictError included: then it is not ours any more
            log.warning("leader election: could not release lease %s: %s", self.name, err)

    # -- the loop ----------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="leader-elector", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def stop(self, *, release: bool = True) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if release:
            self.release()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.try_acquire_or_renew()
            # A leader whose renews keep failing gives up at the deadline without waiting for
            # the next round: wake up then to tell on_change.
            wait = self.retry_period
            with self._lock:
                renewed = self._renewed_at
            if renewed is not None:
                left = renewed + self.renew_deadline - self._monotonic()
                if 0 < left < wait:
                    wait = left
            if self._stop.wait(wait):
                break
            self._notify()
