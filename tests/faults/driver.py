"""Drives a set of rollouts from v1 to v2 and plays the on-call, optionally under `Chaos`:
SIGKILLs of the controller process, API faults, dropped watches, a metrics-provider outage
and wall-clock jumps, all scheduled from one seeded random generator (the same seed gives the
same schedule; reactions to it still vary with timing).

Every tick feeds the committed changes to the invariant checkers (so they are checked
throughout, on every state, not at the end) and to a `World` that tells the driver where each
rollout stands without reading the API.
"""

from __future__ import annotations

import contextlib
import random
import time
from dataclasses import dataclass, field
from functools import partial

from rollout.api import ActionError
from rollout.sandbox.faults import Code
from tests.e2e.harness import NS, Cluster, ControllerProcess
from tests.faults.faketime import WallClock, remove_leftovers
from tests.faults.invariants import Invariants, Violation
from tests.faults.metrics_endpoint import ERRORING, REFUSING, UP, MetricsEndpoint
from tests.faults.record import StoreRecorder
from tests.faults.scenario import Kind as RolloutKind
from tests.faults.scenario import World, at_end, retried, waiting_for_promotion

TICK = 0.1
WRITES = ("create", "update", "patch", "delete")
PROGRESS_EVERY = 5.0  # seconds between progress lines in the chaos timeline
RELEASES_PER_TICK = 4

# API faults, each on every N-th request it matches (they compose: a request one fault lets
# through is counted by the next): conflicts on writes, 5xx and timeouts on everything. This
# makes about 10% of all requests fail (the test measures and asserts the share).
FAULTS: tuple[tuple[str | None, Code, int], ...] = (
    ("update", 409, 12),
    ("patch", 409, 12),
    (None, 500, 25),
    (None, 503, 30),
    (None, "timeout", 60),
)
# Every resource the controller reads or writes for these rollouts. (Secrets are not among
# them: no template, header or notification of the scenario refers to one.)
FAULTED_RESOURCES = (
    "rollouts",
    "analysistemplates",
    "deployments",
    "services",
    "virtualservices",
    "httproutes",
    "events",
    "leases",
    "serviceaccounts",
)
TIMEOUT_HOLD = 0.5  # seconds a "timeout" holds the request before dropping the connection


@dataclass
class Chaos:
    """The fault schedule. `outage` is the shortest metrics outage (seconds); it lasts until
    every rollout released into it (`after_outage`) has been aborted by it, at most
    `outage_max`. `jumps` are the wall-clock steps, in order, at random moments."""

    rng: random.Random
    controller: ControllerProcess
    clock: WallClock
    endpoint: MetricsEndpoint
    kills: int = 6
    jumps: tuple[int, ...] = (300, -8, 420, -8)
    outage: float = 20.0
    outage_max: float = 60.0
    timeline: list[str] = field(default_factory=list)
    killed: int = 0
    drops: int = 0
    outage_started: float | None = None
    outage_ended: float | None = None
    _t0: float = 0.0
    _next_kill: float | None = None
    _boot: int = 0  # request-log position at the current controller's start
    _booted_at: float = 0.0
    _early_kill: bool = False
    _next_drop: float = 0.0
    _jump_at: list[float] = field(default_factory=list)
    _outage_at: float = 0.0

    def note(self, what: str) -> None:
        self.timeline.append(f"{time.monotonic() - self._t0:6.2f}s {what}")

    def start(self, cluster: Cluster) -> None:
        self._t0 = now = time.monotonic()
        faults = cluster.sandbox.faults
        for resource in FAULTED_RESOURCES:
            for verb, code, every in FAULTS:
                faults.add(
                    verb=verb,
                    resource=resource,
                    code=code,
                    every=every,
                    count=10**9,
                    hold=TIMEOUT_HOLD,
                )
        self.note(f"API faults on {', '.join(FAULTED_RESOURCES)}: {FAULTS}")
        self._next_drop = now + self.rng.uniform(0.3, 1.5)
        self._jump_at = sorted(now + self.rng.uniform(2.0, 40.0) for _ in self.jumps)
        self._outage_at = now + self.rng.uniform(4.0, 6.0)
        self._plan_kill(now)

    def _plan_kill(self, now: float) -> None:
        # A quarter of the kills land during start-up (listing, the first reconciles), the
        # others at a random moment once the new process watches and acts.
        self._early_kill = self.rng.random() < 0.25
        self._next_kill = now + self.rng.uniform(0.2, 1.0) if self._early_kill else None
        self._booted_at = now

    def _watching(self, cluster: Cluster) -> bool:
        entries = cluster.sandbox.requests.entries()[self._boot :]
        watched = {r.resource for r in entries if r.verb == "watch" and r.status == 200}
        return {"rollouts", "deployments", "services"} <= watched

    def tick(self, cluster: Cluster, world: World, fragile: list[str]) -> None:
        now = time.monotonic()
        if self.killed < self.kills:
            if self._next_kill is None and self._watching(cluster):
                self._next_kill = now + self.rng.uniform(0.2, 3.0)
            if self._next_kill is not None and now >= self._next_kill:
                proc = self.controller.proc
                pid = proc.pid if proc is not None else None
                self.controller.kill()
                if pid is not None:
                    remove_leftovers(pid)
                self.killed += 1
                when = "during start-up" if self._early_kill else "while acting"
                self.note(f"SIGKILL controller #{self.killed} (pid {pid}, {when})")
                time.sleep(self.rng.uniform(0.0, 0.5))
                self._boot = len(cluster.sandbox.requests.entries())
                self.controller.start()
                self._plan_kill(time.monotonic())
        if now >= self._next_drop:
            abrupt = self.rng.random() < 0.5
            closed = cluster.sandbox.drop_watches(abrupt=abrupt)
            self.drops += 1
            if self.drops % 10 == 1:
                self.note(
                    f"drop watches #{self.drops} ({'abrupt' if abrupt else 'clean'}: {closed})"
                )
            self._next_drop = now + self.rng.uniform(0.4, 1.5)
        while self._jump_at and now >= self._jump_at[0]:
            self._jump_at.pop(0)
            seconds = self.jumps[len(self.clock.jumps)]
            self.clock.jump(seconds)
            self.note(f"wall clock jumps {seconds:+d}s (offset now {self.clock.offset:+d}s)")
        self._outage(now, world, fragile)

    def _outage(self, now: float, world: World, fragile: list[str]) -> None:
        if self.outage_ended is not None or now < self._outage_at:
            return
        if self.outage_started is None:
            self.outage_started = now
            self.endpoint.set_mode(REFUSING)
            self.note("metrics provider down (connection refused)")
            return
        down = now - self.outage_started
        if self.endpoint.mode == REFUSING and down >= self.outage / 2:
            self.endpoint.set_mode(ERRORING)
            self.note("metrics provider answers 503")
        aborted = all(world.status(n).get("abort") for n in fragile)
        if (down >= self.outage and aborted) or down >= self.outage_max:
            self.endpoint.set_mode(UP)
            self.outage_ended = now
            self.note(f"metrics provider back after {down:.1f}s")

    @property
    def in_outage(self) -> bool:
        return self.outage_started is not None and self.outage_ended is None

    def done(self) -> bool:
        return (
            self.killed >= self.kills
            and len(self.clock.jumps) == len(self.jumps)
            and self.outage_ended is not None
        )

    def stop(self, cluster: Cluster) -> None:
        cluster.sandbox.faults.clear()
        self.endpoint.set_mode(UP)
        self.note("API faults off")


class Driver:
    def __init__(
        self,
        cluster: Cluster,
        recorder: StoreRecorder,
        invariants: Invariants,
        kinds: tuple[RolloutKind, ...],
        *,
        rng: random.Random,
        chaos: Chaos | None = None,
    ) -> None:
        self.cluster = cluster
        self.recorder = recorder
        self.invariants = invariants
        self.kinds = kinds
        self.rng = rng
        self.chaos = chaos
        self.world = World()
        self.position = 0
        self.kind_of = {name: kind for kind in kinds for name in kind.names()}
        self.promoted_at: dict[str, float] = {}

    def pump(self) -> list[Violation]:
        """Feed what was committed since the last call to the world and the checkers."""
        changes = self.recorder.since(self.position)
        self.position += len(changes)
        self.world.apply(changes)
        return self.invariants.feed(changes)

    def wait_for(self, names: list[str], done: str, *, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            pending = [n for n in names if not self._reached(n, done)]
            if not pending:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"not {done} within {timeout:.0f}s: {self.describe(pending)}")
            time.sleep(TICK)

    def _reached(self, name: str, done: str) -> bool:
        if done == "at end":
            return at_end(self.world, self.kind_of[name], name)
        status = self.world.status(name)
        rollout = self.world.rollout(name)
        return (
            status.get("phase") == "Healthy"
            and status.get("observedGeneration") == rollout["metadata"]["generation"]
            and status.get("stableRevision") == status.get("currentRevision")
        )

    def describe(self, names: list[str]) -> str:
        lines = []
        for name in names[:20]:
            s = self.world.status(name)
            lines.append(
                f"\n  {name}: {s.get('phase')} step {s.get('currentStepIndex')} "
                f"abort={s.get('abort')} {s.get('message')!r} replicas={self.world.replicas(name)}"
            )
        more = f"\n  ... and {len(names) - 20} more" if len(names) > 20 else ""
        return "".join(lines) + more

    def release(self, *, timeout: float) -> float:
        """Set app:v2 on every rollout (staggered, in a random order; the `after_outage` ones
        once the metrics provider is down), promote at manual pauses, until every rollout is at
        its expected end and the chaos is over. Returns the seconds it took."""
        started = time.monotonic()
        deadline = started + timeout
        names = [n for n in self.kind_of if not self.kind_of[n].after_outage]
        later = [n for n in self.kind_of if self.kind_of[n].after_outage]
        fragile = list(later)
        self.rng.shuffle(names)
        if self.chaos is not None:
            self.chaos.start(self.cluster)
        next_progress, since = started + PROGRESS_EVERY, time.time()
        while True:
            self.pump()
            if self.chaos is not None:
                self.chaos.tick(self.cluster, self.world, fragile)
                if later and self.chaos.in_outage:
                    names += later
                    later = []
            elif later:
                names += later
                later = []
            for name in names[:RELEASES_PER_TICK]:
                # A 409 comes back as "changed while this command ran": run it again.
                set_image = partial(self.cluster.api.set_image, NS, name, "app", "app:v2")
                retried(set_image, also=(ActionError,))
            del names[:RELEASES_PER_TICK]
            self._on_call()
            done = sum(self._reached(n, "at end") for n in self.kind_of)
            finished = not names and not later and done == len(self.kind_of)
            if self.chaos is not None and time.monotonic() >= next_progress:
                next_progress += PROGRESS_EVERY
                recent = [r for r in self.cluster.sandbox.requests.entries() if r.started >= since]
                writes = sum(r.verb in WRITES and r.resource != "events" for r in recent)
                since = time.time()
                self.chaos.note(
                    f"progress: {done}/{len(self.kind_of)} rollouts at their end; "
                    f"{len(recent)} API requests ({writes} writes) in {PROGRESS_EVERY:.0f}s"
                )
            if finished and (self.chaos is None or self.chaos.done()):
                return time.monotonic() - started
            if time.monotonic() > deadline:
                pending = [n for n in self.kind_of if not self._reached(n, "at end")]
                timeline = "\n  ".join(self.chaos.timeline if self.chaos else [])
                raise AssertionError(
                    f"not converged within {timeout:.0f}s ({len(pending)} rollouts): "
                    f"{self.describe(pending)}\nchaos:\n  {timeline}"
                )
            time.sleep(TICK)

    def _on_call(self) -> None:
        now = time.monotonic()
        for name, kind in self.kind_of.items():
            if not waiting_for_promotion(self.world, kind, name):
                continue
            if now - self.promoted_at.get(name, 0.0) < 1.0:
                continue  # asked already; the controller has not taken it in yet
            self.promoted_at[name] = now
            # Refused (aborted meanwhile, or promoted by an earlier request): nothing to do.
            with contextlib.suppress(ActionError):
                retried(partial(self.cluster.api.promote, NS, name))
