"""Benchmark: one controller over N Rollouts (10,000), C of them (1,000) rolling out at once.

Three processes, as in canary_bench (whose helpers this uses): the sandbox API server, a real
`rollout controller`, and this driver, which creates the objects, watches Rollouts and revision
Deployments (stamping every event with its arrival time), starts the rollouts and runs the CLI.

    python -m tests.bench.scale_bench --rollouts 10000 --concurrent 1000 --repeat 2
    python -m tests.bench.scale_bench --rollouts 10000 --concurrent 1000 --pause-seconds 30 \
        --stagger 30 --out bench-results/scale-staggered.json

Phases and what each figure means (also written into the result, under "definitions"):
1. create: each Rollout's two Services (stable, canary), then the N Rollouts, through the
   API with no controller running (4 client threads), each timed. Not a controller figure.
2. initial sync, timed from starting the controller process: its caches are synced (/readyz
   answers 200), every Rollout has been reconciled once (the driver has seen a status whose
   observedGeneration equals metadata.generation), every Rollout is Healthy (that, with phase
   Healthy: its first revision's Deployment exists, its pods are available, the Services are
   pinned), and the controller is quiet (under 5% of a core for a second: the work queued
   during the sync, such as reconciles for pod-status events, is done).
3. idle: after that, the controller's resident set (VmRSS) sampled for a few seconds: the
   steady-state RSS.
4. concurrent: the counters are reset (SIGUSR1, the sandbox's request log, the kernel's peak-RSS
   mark) and C Rollouts get a new image: at once (a burst: every step of every rollout comes
   due in the same second), or with --stagger S the i-th at i/C * S seconds, as releases
   arrive in a real cluster; peak_in_flight is the most rollouts mid-update at one moment
   (with S shorter than a rollout's length, all C). They walk steps() (setWeight 25, pause 1s,
   setWeight 50, pause 1s) and the promotion without a router (weights are replica shares,
   4 replicas, pods ready after --ready-delay). The phase ends when all C are Healthy on the
   new revision and the old revision is scaled to 0 (after scaleDownDelaySeconds: 1).
   Reconcile throughput = the controller's reconciles / the phase's wall time.
   Step latency, per step of each rollout, from "due" to "done", on the driver's clock (both
   ends are watch arrivals, so the watch delay cancels out to first order):
   - done: the first Rollout event showing the step passed (currentStepIndex beyond it; for
     the promotion, stableRevision = the new revision);
   - due, for a timed pause: when the step was first seen started, plus its duration;
   - due, for setWeight and the promotion (which wait for pods): the last event of one of the
     Rollout's Deployments that came before "done" (by resourceVersion, which the sandbox
     counts globally) and after the step was seen started: the change the step waited for;
     with no such event, when the step was seen started.
   A step that is done in the very status write that starts it has no latency to measure;
   those are counted (done_on_entry) and left out of the percentiles.
   canary_bench has no step latency of its own; its per-reconcile latency (the controller's
   --stats-file) is reported here too, under the same names (reconcile_p50_ms ...).
5. `rollout list -A` (and `-o json`) over the N Rollouts with the real console script and a
   kubeconfig, as a person would run it, each run timed from start to exit; plus the same
   command on an empty namespace (the CLI's start-up, connection and one request).
6. calibration_seconds, before the controller starts and after the last phase (nothing of
   ours busy but the idle sandbox): tests/bench/calibrate.py, a fixed piece of JSON work, timed.
   These machines are shared, and the same code has run 2-3x slower from one hour to the
   next; figures from two runs compare only as far as their calibrations do.
7. cpu_seconds_by_phase: CPU seconds of the sandbox, the controller and this driver in each
   phase, its wall time, and the machine's cores over it: machine_busy_cores (not idle, all
   processes, stolen time included), stolen_cores (taken by the virtual machine's host for
   other guests: our processes wanted the core and waited; the calibration, one thread in a
   quiet moment, does not see it) and others_busy_cores (the rest: processes not ours).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from rollout import labels
from rollout.errors import GoneError, KubeError
from rollout.install import install_crds
from rollout.kube import DEPLOYMENTS, ROLLOUTS, SERVICES, Kind, Kube
from rollout.kube.client import Obj
from tests.bench.calibrate import calibration_seconds
from tests.bench.canary_bench import (
    NS,
    ROOT,
    peak_rss_mib,
    rollout,
    sandbox_url,
    service,
    start_controller,
    start_sandbox,
    stop_sandbox,
    write_report,
    writes_by_resource,
)
from tests.bench.processes import (
    RssSampler,
    cpu_seconds,
    free_port,
    machine_busy_seconds,
    reset_peak_rss,
    scrape,
    timed_cli,
    wait_quiet,
    wait_ready,
)


def steps(pause: int = 1) -> list[dict[str, Any]]:
    """The canary's steps; pauses of `pause` seconds (--pause-seconds)."""
    wait = {"pause": {"duration": f"{pause}s"}}
    return [{"setWeight": 25}, wait, {"setWeight": 50}, wait]


PAUSE_STEPS = {i for i, step in enumerate(steps()) if "pause" in step}
TRANSITIONS = len(steps()) + 1  # each step, then the promotion
TARGETS = {
    "controller_steady_rss_mib": 1024.0,
    "step_latency_p99_seconds": 2.0,
    "list_all_seconds": 2.0,
}


@dataclass(frozen=True)
class Seen:
    """One Rollout as the driver's watch saw it."""

    t: float  # arrival, time.monotonic()
    rv: int
    generation: int
    observed: int  # status.observedGeneration (0: none yet)
    phase: str
    step: int
    current: str
    stable: str

    @classmethod
    def of(cls, obj: Obj, t: float) -> Seen:
        meta, status = obj["metadata"], obj.get("status") or {}
        return cls(
            t=t,
            rv=int(meta["resourceVersion"]),
            generation=int(meta.get("generation") or 1),
            observed=int(status.get("observedGeneration") or 0),
            phase=str(status.get("phase") or ""),
            step=int(status.get("currentStepIndex") or 0),
            current=str(status.get("currentRevision") or ""),
            stable=str(status.get("stableRevision") or ""),
        )

    @property
    def reconciled(self) -> bool:
        return self.observed == self.generation

    @property
    def healthy(self) -> bool:
        return self.reconciled and self.phase == "Healthy"


class Tracker:
    """The driver's view of the cluster: a watch on Rollouts and one on revision Deployments,
    every event stamped with its arrival time. Counts, kept as events arrive, say when every
    Rollout was first reconciled, first Healthy, and (for the followed ones) finished."""

    def __init__(self, kube: Kube, expected: int) -> None:
        self._kube = kube
        self._lock = threading.Lock()
        self.expected = expected
        self.latest: dict[str, Seen] = {}
        self.counts = {"reconciled": 0, "healthy": 0, "finished": 0}
        self.reached: dict[str, float] = {}  # count name -> arrival of the event completing it
        self.followed: dict[str, str] = {}  # name -> its stable revision when followed
        self.timeline: dict[str, list[Seen]] = defaultdict(list)
        self.deployment_events: dict[str, list[tuple[float, int]]] = defaultdict(list)
        self.replicas: dict[str, dict[str, int]] = defaultdict(dict)  # rollout -> dep -> n
        self.relists = 0
        self.events = 0
        self._stop = threading.Event()

    def start(self) -> None:
        for kind, selector, handle in (
            (ROLLOUTS, None, self._rollout),
            (DEPLOYMENTS, labels.NAME, self._deployment),
        ):
            version = self._list(kind, selector, handle)
            threading.Thread(
                target=self._watch, args=(kind, selector, version, handle), daemon=True
            ).start()

    def stop(self) -> None:
        self._stop.set()

    def follow(self, names: Iterable[str]) -> None:
        """Record the timelines of these Rollouts from now on; count them finished once
        Healthy on a new revision with the old one scaled to 0."""
        with self._lock:
            for name in names:
                self.followed[name] = self.latest[name].stable
            self.counts["finished"] = 0
            self.reached.pop("finished", None)

    def wait(self, count: str, target: int, *, timeout: float) -> float:
        """Block until `count` reaches `target`; the arrival time of the event that did it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if count in self.reached and self.counts[count] >= target:
                    return self.reached[count]
            time.sleep(0.05)
        raise TimeoutError(
            f"{count}: {self.counts[count]} of {target} after {timeout:.0f}s "
            f"({self.relists} relists)"
        )

    # -- events ----------------------------------------------------------------------------
    def _list(self, kind: Kind, selector: str | None, handle: Callable[[Obj, float], None]) -> str:
        items, version = self._kube.list(kind, namespace=NS, label_selector=selector)
        now = time.monotonic()
        for obj in items:
            handle(obj, now)
        return version

    def _watch(
        self,
        kind: Kind,
        selector: str | None,
        version: str,
        handle: Callable[[Obj, float], None],
    ) -> None:
        while not self._stop.is_set():
            try:
                for event in self._kube.watch(
                    kind,
                    namespace=NS,
                    resource_version=version,
                    label_selector=selector,
                    timeout_seconds=600,
                ):
                    if self._stop.is_set():
                        return
                    now = time.monotonic()
                    version = str(event.object["metadata"].get("resourceVersion", version))
                    if event.type != "BOOKMARK":
                        handle(event.object, now)
            except GoneError:
                self.relists += 1  # event times lost for what happened meanwhile: reported
                version = self._list(kind, selector, handle)
            except KubeError:
                self._stop.wait(0.1)

    def _rollout(self, obj: Obj, t: float) -> None:
        seen = Seen.of(obj, t)
        name = obj["metadata"]["name"]
        with self._lock:
            self.events += 1
            before = self._flags(name)
            self.latest[name] = seen
            if name in self.followed:
                self.timeline[name].append(seen)
            self._count(before, self._flags(name), t)

    def _deployment(self, obj: Obj, t: float) -> None:
        meta = obj["metadata"]
        owner = (meta.get("labels") or {}).get(labels.NAME)
        if not owner:
            return
        with self._lock:
            self.events += 1
            before = self._flags(owner)
            self.replicas[owner][meta["name"]] = int((obj.get("spec") or {}).get("replicas", 1))
            if owner in self.followed:
                self.deployment_events[owner].append((t, int(meta["resourceVersion"])))
            self._count(before, self._flags(owner), t)

    def _flags(self, name: str) -> tuple[bool, bool, bool]:
        seen = self.latest.get(name)
        if seen is None:
            return False, False, False
        finished = (
            name in self.followed
            and seen.healthy
            and seen.stable == seen.current
            and seen.stable not in ("", self.followed[name])
            and sum(1 for n in self.replicas[name].values() if n) == 1
        )
        return seen.reconciled, seen.healthy, finished

    def _count(self, before: tuple[bool, ...], after: tuple[bool, ...], t: float) -> None:
        targets = {"reconciled": self.expected, "healthy": self.expected}
        targets["finished"] = len(self.followed)
        for key, was, now in zip(("reconciled", "healthy", "finished"), before, after, strict=True):
            self.counts[key] += int(now) - int(was)
            if self.counts[key] >= targets[key] > 0 and key not in self.reached:
                self.reached[key] = t


# -- step latency ------------------------------------------------------------------------------
def step_latencies(tracker: Tracker, pause: float = 1.0) -> dict[str, Any]:
    """Due -> done per step of every followed Rollout (see the module's docstring)."""
    by_kind: dict[str, list[float]] = defaultdict(list)
    on_entry = 0
    missing = 0
    for name, old_stable in tracker.followed.items():
        seen = [s for s in tracker.timeline[name] if s.generation > 1 and s.reconciled]
        seen = [s for s in seen if s.current and s.current != old_stable]
        deployments = tracker.deployment_events[name]
        for index in range(TRANSITIONS):
            promotion = index == TRANSITIONS - 1
            started = next((s for s in seen if s.step >= index), None)
            done = next(
                (s for s in seen if (s.stable == s.current if promotion else s.step > index)),
                None,
            )
            if started is None or done is None:
                missing += 1
                continue
            if started.rv == done.rv:
                on_entry += 1
                continue
            if index in PAUSE_STEPS:
                kind, due = "pause", started.t + pause
            else:
                kind = "promotion" if promotion else "setWeight"
                waited = [t for t, rv in deployments if started.rv < rv < done.rv]
                due = max(waited, default=started.t)
            by_kind[kind].append(done.t - due)
    every = [x for xs in by_kind.values() for x in xs]
    return {
        **summary(every),
        "by_step_kind": {k: summary(v) for k, v in sorted(by_kind.items())},
        "done_on_entry": on_entry,
        "not_seen": missing,
    }


def summary(values: list[float]) -> dict[str, Any]:
    if not values:
        return {"count": 0}
    ordered = sorted(values)

    def pct(p: float) -> float:
        return round(ordered[min(len(ordered) - 1, int(p * len(ordered)))], 3)

    return {
        "count": len(ordered),
        "p50_seconds": pct(0.50),
        "p90_seconds": pct(0.90),
        "p99_seconds": pct(0.99),
        "max_seconds": round(ordered[-1], 3),
        "min_seconds": round(ordered[0], 3),
    }


# -- one run -----------------------------------------------------------------------------------
def create_all(kube: Kube, names: list[str], threads: int, pause: int = 1) -> tuple[float, float]:
    """Each Rollout's two Services, then the Rollouts: the seconds each took."""

    def services(name: str) -> None:
        for svc in (f"{name}-stable", f"{name}-canary"):
            kube.create(SERVICES, service(svc, app=name), namespace=NS)

    def one(name: str) -> None:
        kube.create(ROLLOUTS, rollout(name, "app:v1", steps=steps(pause)), namespace=NS)

    seconds = []
    with ThreadPoolExecutor(threads) as pool:
        for create in (services, one):
            started = time.monotonic()
            list(pool.map(create, names))
            seconds.append(time.monotonic() - started)
    return seconds[0], seconds[1]


def start_updates(kube: Kube, names: list[str], threads: int, spread: float = 0.0) -> None:
    """Give each Rollout the new image: all at once, or the i-th at i/len * `spread` seconds
    (--stagger: as releases arrive in a real cluster, not all in the same second)."""
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}}}
    began = time.monotonic()

    def one(item: tuple[int, str]) -> None:
        index, name = item
        delay = began + spread * index / len(names) - time.monotonic()
        if delay > 0:
            time.sleep(delay)
        kube.patch(ROLLOUTS, name, patch, namespace=NS)

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, enumerate(names)))


def peak_in_flight(tracker: Tracker) -> int:
    """The most followed Rollouts mid-update at one moment: from the first event of the new
    generation to the one showing the new revision stable (what "concurrent" means)."""
    edges: list[tuple[float, int]] = []
    for name, old_stable in tracker.followed.items():
        seen = [s for s in tracker.timeline[name] if s.generation > 1]
        new = [s for s in seen if s.current and s.current != old_stable]
        finished = [s for s in new if s.stable == s.current]
        if not seen or not finished:
            continue
        edges += [(seen[0].t, 1), (finished[0].t, -1)]
    level = peak = 0
    for _, change in sorted(edges):
        level += change
        peak = max(peak, level)
    return peak


def run(
    n: int,
    concurrent: int,
    workdir: Path,
    *,
    ready_delay: float = 0.5,
    workers: int = 4,
    list_runs: int = 3,
    idle_seconds: float = 5.0,
    pause: int = 1,
    stagger: float = 0.0,
    timeout: float = 900.0,
) -> dict[str, Any]:
    kubeconfig = workdir / "kubeconfig"
    stats_file = workdir / "stats.json"
    names = [f"svc-{i:05d}" for i in range(n)]
    phases_cpu: dict[str, dict[str, float]] = {}
    sandbox = start_sandbox(kubeconfig, ready_delay=ready_delay)
    url = sandbox_url(kubeconfig)
    kube = Kube.from_config(kubeconfig=str(kubeconfig))
    watcher_kube = Kube.from_config(kubeconfig=str(kubeconfig))
    controller: subprocess.Popen[bytes] | None = None
    tracker: Tracker | None = None
    result: dict[str, Any] = {"rollouts": n, "concurrent": concurrent}

    def cpu(phase: str, pids: dict[str, int]) -> Callable[[], None]:
        """Start counting CPU seconds of `pids`, this driver and the whole machine (other
        processes share its cores: their load is noise in every figure); call the result to
        stop."""
        first = {k: cpu_seconds(p) for k, p in pids.items()}
        driver, machine, began = time.process_time(), machine_busy_seconds(), time.monotonic()

        def stop() -> None:
            used = {k: cpu_seconds(p) - first[k] for k, p in pids.items()}
            used["driver"] = time.process_time() - driver
            wall = time.monotonic() - began
            busy, stolen = machine_busy_seconds()
            everyone, stolen = busy - machine[0], stolen - machine[1]
            phases_cpu[phase] = {
                **{k: round(v, 1) for k, v in used.items()},
                "wall": round(wall, 1),
                "machine_busy_cores": round(everyone / wall, 2),
                "others_busy_cores": round(
                    max(0.0, everyone - stolen - sum(used.values())) / wall, 2
                ),
                "stolen_cores": round(stolen / wall, 2),
            }

        return stop

    try:
        install_crds(kube)
        stop_cpu = cpu("create", {"sandbox": sandbox.pid})
        services_s, rollouts_s = create_all(kube, names, threads=4, pause=pause)
        stop_cpu()
        result["create"] = {
            "rollouts_seconds": round(rollouts_s, 2),
            "rollouts_per_second": round(n / rollouts_s),
            "services_seconds": round(services_s, 2),
            "services": 2 * n,
            "sandbox_rss_mib": round(peak_rss_mib(sandbox.pid, "VmRSS"), 1),
        }
        print(f"created {n} rollouts in {rollouts_s:.1f}s", file=sys.stderr, flush=True)

        tracker = Tracker(watcher_kube, expected=n)
        tracker.start()
        port = free_port()
        result["calibration_seconds"] = {"before": calibration_seconds()}
        started = time.monotonic()
        controller = start_controller(
            kubeconfig, stats_file, workdir / "controller.log", workers=workers, metrics_port=port
        )
        pids = {"controller": controller.pid, "sandbox": sandbox.pid}
        stop_cpu = cpu("sync", pids)
        ready = wait_ready(port, timeout=timeout) - started
        reconciled = tracker.wait("reconciled", n, timeout=timeout) - started
        healthy = tracker.wait("healthy", n, timeout=timeout) - started
        quiet = wait_quiet(controller.pid, timeout=timeout) - started
        stop_cpu()
        result["sync"] = {
            "caches_synced_seconds": round(ready, 1),
            "all_reconciled_once_seconds": round(reconciled, 1),
            "all_healthy_seconds": round(healthy, 1),
            "controller_quiet_seconds": round(quiet, 1),
            "controller_peak_rss_mib": round(peak_rss_mib(controller.pid), 1),
            "sandbox_rss_mib": round(peak_rss_mib(sandbox.pid, "VmRSS"), 1),
        }
        print(f"sync: {result['sync']}", file=sys.stderr, flush=True)

        time.sleep(1.0)
        stop_cpu = cpu("idle", pids)
        with RssSampler(pids, interval=0.5) as idle:
            time.sleep(idle_seconds)
        stop_cpu()
        scrape_s, scrape_bytes, counters = scrape(port)
        reconciles = counters.pop("reconciles", 0)
        result["sync"]["reconciles"] = int(reconciles)
        result["sync"]["reconciles_per_rollout"] = round(reconciles / n, 2)
        result["sync"]["api_requests_per_rollout_by_verb"] = {
            k: round(v / n, 2) for k, v in sorted(counters.items())
        }
        result["metrics_scrape"] = {"seconds": round(scrape_s, 2), "bytes": scrape_bytes}
        rss = idle.samples["controller"]
        result["idle"] = {
            "controller_rss_mib": round(statistics.median(rss), 1),
            "controller_rss_min_max_mib": [round(min(rss), 1), round(max(rss), 1)],
            "controller_cpu_percent": round(100 * phases_cpu["idle"]["controller"] / idle_seconds),
            "sandbox_rss_mib": round(statistics.median(idle.samples["sandbox"]), 1),
        }
        print(f"idle: {result['idle']}", file=sys.stderr, flush=True)

        updating = names[:concurrent]
        controller.send_signal(signal.SIGUSR1)  # measure the concurrent phase only
        httpx.delete(f"{url}/sandbox/requests", timeout=30)
        hwm_reset = reset_peak_rss(controller.pid)
        time.sleep(0.2)
        tracker.follow(updating)
        relists = tracker.relists
        stop_cpu = cpu("concurrent", pids)
        with RssSampler(pids) as busy:
            started = time.monotonic()
            start_updates(kube, updating, threads=4, spread=stagger)
            patched = time.monotonic() - started
            finished = tracker.wait("finished", concurrent, timeout=timeout) - started
        stop_cpu()
        time.sleep(1.0)  # let trailing reconciles (status refreshes) land in the counters
        peak = peak_rss_mib(controller.pid)
        by_resource = writes_by_resource(url)
        by_resource["rollouts"] = by_resource.get("rollouts", 0) - concurrent  # our patches
        controller.send_signal(signal.SIGTERM)
        controller.wait(timeout=60)
        stats = json.loads(stats_file.read_text())
        requests = stats["api_requests"]
        per_step = concurrent * TRANSITIONS
        result["concurrent"] = {
            "start_patches_seconds": round(patched, 1),
            "wall_seconds": round(finished, 1),
            "finished": tracker.counts["finished"],
            "reconciles": stats["reconciles"],
            "reconciles_per_second": round(stats["reconciles"] / finished, 1),
            "reconciles_per_step": round(stats["reconciles"] / per_step, 2),
            "reconcile_p50_ms": round(stats["latency_seconds"]["p50"] * 1000, 1),
            "reconcile_p99_ms": round(stats["latency_seconds"]["p99"] * 1000, 1),
            "reconcile_max_ms": round(stats["latency_seconds"]["max"] * 1000, 1),
            "stagger_seconds": stagger,
            "peak_in_flight": peak_in_flight(tracker),
            "step_latency": step_latencies(tracker, pause),
            "api_requests_per_step_by_verb": {
                k: round(v / per_step, 2) for k, v in sorted(requests.items())
            },
            "api_requests_per_step": round(sum(requests.values()) / per_step, 2),
            "writes_per_step_by_resource": {
                k: round(v / per_step, 2) for k, v in sorted(by_resource.items()) if v
            },
            "controller_peak_rss_mib": round(peak, 1) if hwm_reset else None,
            "controller_peak_rss_sampled_mib": round(max(busy.samples["controller"]), 1),
            "sandbox_peak_rss_sampled_mib": round(max(busy.samples["sandbox"]), 1),
            "driver_watch_relists": tracker.relists - relists,
        }
        print(f"concurrent: {result['concurrent']}", file=sys.stderr, flush=True)

        result["list"] = list_timings(kubeconfig, n, list_runs)
        result["sandbox"] = {
            "peak_rss_mib": round(peak_rss_mib(sandbox.pid), 1),
            "rss_mib": round(peak_rss_mib(sandbox.pid, "VmRSS"), 1),
        }
        result["cpu_seconds_by_phase"] = phases_cpu
        result["calibration_seconds"]["after"] = calibration_seconds()
    finally:
        if controller is not None and controller.poll() is None:
            controller.kill()
        if tracker is not None:
            tracker.stop()
        kube.close()
        watcher_kube.close()
        stop_sandbox(sandbox)
    return result


def list_timings(kubeconfig: Path, n: int, runs: int) -> dict[str, Any]:
    """`rollout list -A` with the console script, as a person runs it."""
    cli = Path(sys.executable).parent / "rollout"
    base = [str(cli), "list", "--kubeconfig", str(kubeconfig)]
    plain, as_json, empty = [], [], []
    for _ in range(runs):
        seconds, out = timed_cli([*base, "-A"])
        rows = out.decode().count("\n") - 1  # the header
        if rows != n:
            raise AssertionError(f"rollout list -A printed {rows} rows, not {n}")
        plain.append(round(seconds, 2))
        seconds, out = timed_cli([*base, "-A", "-o", "json"])
        if len(json.loads(out)["items"]) != n:
            raise AssertionError("rollout list -A -o json did not print every rollout")
        as_json.append(round(seconds, 2))
        seconds, _ = timed_cli([*base, "-n", "kube-public"])
        empty.append(round(seconds, 2))
    return {
        "list_all_seconds": plain,
        "list_all_json_seconds": as_json,
        "list_empty_namespace_seconds": empty,
    }


def verdicts(result: dict[str, Any]) -> dict[str, Any]:
    latency = result["concurrent"]["step_latency"].get("p99_seconds", float("inf"))
    return {
        "controller_steady_rss_mib": {
            "target": f"< {TARGETS['controller_steady_rss_mib']:.0f}",
            "measured": result["idle"]["controller_rss_mib"],
            "met": result["idle"]["controller_rss_mib"] < TARGETS["controller_steady_rss_mib"],
        },
        "step_latency_p99_seconds": {
            "target": f"< {TARGETS['step_latency_p99_seconds']}",
            "measured": latency,
            "met": latency < TARGETS["step_latency_p99_seconds"],
        },
        "list_all_seconds": {
            "target": f"< {TARGETS['list_all_seconds']}",
            "measured": max(result["list"]["list_all_seconds"]),
            "met": max(result["list"]["list_all_seconds"]) < TARGETS["list_all_seconds"],
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rollouts", type=int, default=10_000, help="Rollouts in the cluster")
    parser.add_argument("--concurrent", type=int, default=1000, help="of them, updated at once")
    parser.add_argument("--ready-delay", type=float, default=0.5, help="pods ready after (s)")
    parser.add_argument("--workers", type=int, default=4, help="controller --workers")
    parser.add_argument("--list-runs", type=int, default=3, help="timed runs of each list")
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="RSS sampling window")
    parser.add_argument("--pause-seconds", type=int, default=1, help="each pause step (s)")
    parser.add_argument(
        "--stagger", type=float, default=0.0, help="start the updates over this many s (0: at once)"
    )
    parser.add_argument("--repeat", type=int, default=1, help="whole runs, one after another")
    parser.add_argument("--timeout", type=float, default=900.0, help="per wait (s)")
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "scale.json"))
    args = parser.parse_args(argv)
    if not 0 < args.concurrent <= args.rollouts:
        parser.error("--concurrent must be between 1 and --rollouts")
    command = shlex.join(["python", "-m", "tests.bench.scale_bench", *(argv or sys.argv[1:])])
    results = []
    for _ in range(args.repeat):
        started = time.monotonic()
        with tempfile.TemporaryDirectory() as tmp:
            result = run(
                args.rollouts,
                args.concurrent,
                Path(tmp),
                ready_delay=args.ready_delay,
                workers=args.workers,
                list_runs=args.list_runs,
                idle_seconds=args.idle_seconds,
                pause=args.pause_seconds,
                stagger=args.stagger,
                timeout=args.timeout,
            )
        result["run_seconds"] = round(time.monotonic() - started, 1)
        result["targets"] = verdicts(result)
        print(json.dumps(result), flush=True)
        results.append(result)
    report = {
        "command": command,
        "machine": {
            "nproc": os.cpu_count(),
            "python": platform.python_version(),
            "platform": platform.platform(),
        },
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "config": {
            "steps": steps(args.pause_seconds),
            "replicas": 4,
            "services_per_rollout": 2,
            "ready_delay_seconds": args.ready_delay,
            "controller_workers": args.workers,
            "updates_started_over_seconds": args.stagger,
            "router": "none (weights are replica shares)",
        },
        "definitions": __doc__,
        "results": results,
    }
    return write_report(args.out, report)


if __name__ == "__main__":
    sys.exit(main())
