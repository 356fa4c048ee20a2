"""Benchmark: decision quality of the step gate (`judge`) against Flagger- and Argo-style checks.

A seeded simulator plays a canary rollout many times per scenario and asks three policies to
drive it on the same worlds (the same seeds: the same incidents, bursts and outages):

- ours: `rollout.analysis.judge.judge` with the default `JudgePolicy`, steps 5/10/25/50% of
  10 min each, checked every 60 s on the counts since the step started; rollback on "rollback",
  advance on "pass" once the step's 10 min are over; "pause" (a fast burn on both versions)
  and "continue" hold the step; a step not passed within 30 min (3x) ends the run as paused
  ("no decision": nothing bad was promoted, but a person has to look). The judge's state
  carries across steps (`new_window()` at each step start); a check that hits a telemetry
  outage simply does not call it.
- Flagger-style: success rate >= 99% over the last 1m, every 60 s; the first tick only sets the
  weight to 10%, each passing check adds 10% up to 50%, a passing check at 50% promotes; a
  failing check (or no data: empty or NaN) adds 1 to failedChecks, CUMULATIVE, and the tick after
  failedChecks reaches 5 rolls back (flagger scheduler.go checks the threshold at the start of a
  tick).
- Argo-style: background analysis over steps 5/10/25/50% of 10 min each; `result[0] >= 0.99` on
  the last 1m ratio every 60 s (the first one interval after the start, as with initialDelay
  60s); failureLimit 3, so the 4th failed measurement aborts (Argo's "failed > limit"); no data
  is `result[0]` on an empty vector, an Error, retried 10 s later (Argo's error retry), and the
  5th consecutive Error aborts (consecutiveErrorLimit 4). Real Argo evaluates NaN (0/0 with the
  series present) as Failed, not Error; counting every no-data as Error is the brief's choice
  and is the kinder of the two to Argo.

World (analysis.md §6): 100 rps (0.5 rps in the low-traffic scenarios), Poisson arrivals in 10 s
bins, routed by weight (canary w, stable 1 - w), each request failing with the version's error
rate (0.1% baseline), so bad and good counts are independent Poisson. Ten pods: the canary has
max(1, round(10 w)) of them.
- noisy: each version's error rate is redrawn every minute from a Beta with the baseline as mean
  and a coefficient of variation of 50% (independently per version: pods of two versions do not
  share their bad minutes); plus bursts, on average one per hour per service, each hitting one
  pod chosen at random among the ten (so the canary with probability = its share of pods), for
  30-120 s, during which that pod fails 10% of its requests. Parameters fixed before any policy
  was run on them.
- latency (+50 ms p99): latency is modelled as the fraction of requests slower than the SLO
  latency threshold, 1% for the stable and 2% for the canary (a +50 ms shift at the tail puts
  another 1% of requests over the line). Every policy checks this "slow" count exactly as it
  checks errors, with the same thresholds (ours: a second `judge` with the same default policy
  and its own state; Flagger/Argo: fast fraction >= 99%). No histogram, no p99 estimation. So
  this scenario measures detection only: with the stable at 1% slow, the same thresholds on a
  healthy latency would fail Flagger/Argo checks half the time and keep ours from passing (a
  real latency gate uses the latency SLO's own budget), so there is no healthy-latency twin.
- gaps: telemetry outages, on average two per hour, 30-180 s each, during which every query
  returns no data (the counters keep counting in the apps, so counts since the step started are
  complete again afterwards).
- incident: +5 pp errors on BOTH versions for 5 minutes, starting 1-5 min after the canary.
- two diagnostic scenarios split the noisy baseline into its over-dispersion and its bursts.

Run: python -m tests.bench.decision_bench [--runs 1000]
Results: bench-results/decisions.json (with the command, the machine and the date).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import statistics
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rollout.analysis.judge import JudgePolicy, JudgeState, judge
from rollout.analysis.slo import Counts

ROOT = Path(__file__).resolve().parents[2]
BIN = 10  # seconds per simulated bin
CHECK = 60  # seconds between checks, for every policy
PODS = 10
STEPS = (0.05, 0.10, 0.25, 0.50)
STEP_SECONDS = 600
MAX_STEP_SECONDS = 3 * STEP_SECONDS
HORIZON_MINUTES = len(STEPS) * MAX_STEP_SECONDS // 60 + 10

Decision = Literal["rollback", "promoted", "paused"]


@dataclass(frozen=True)
class Scenario:
    name: str
    canary_worse: bool
    """Whether rolling back is the right answer (a regression) or a false rollback."""
    rps: float = 100.0
    base_error: float = 0.001
    canary_extra_error: float = 0.0
    base_slow: float | None = None
    """Fraction of requests over the latency threshold; None: the latency check is off."""
    canary_extra_slow: float = 0.0
    dispersion_cv: float = 0.0
    bursts_per_hour: float = 0.0
    burst_error: float = 0.10
    outages_per_hour: float = 0.0
    incident_extra_error: float = 0.0
    note: str = ""


SCENARIOS: tuple[Scenario, ...] = (
    Scenario("healthy", False, note="canary = stable, 0.1% errors"),
    Scenario("errors +0.1pp", True, canary_extra_error=0.001, note="0.2% vs 0.1%"),
    Scenario("errors +1pp", True, canary_extra_error=0.01),
    Scenario("errors +5pp", True, canary_extra_error=0.05),
    Scenario(
        "latency +50ms p99",
        True,
        base_slow=0.01,
        canary_extra_slow=0.01,
        note="slow fraction 1% -> 2%",
    ),
    Scenario(
        "noisy baseline",
        False,
        dispersion_cv=0.5,
        bursts_per_hour=1.0,
        note="beta per minute per version (cv 50%) + single-pod bursts",
    ),
    Scenario("low traffic healthy", False, rps=0.5),
    Scenario("low traffic +5pp", True, rps=0.5, canary_extra_error=0.05),
    Scenario("telemetry gaps", False, outages_per_hour=2.0),
    Scenario("shared incident", False, incident_extra_error=0.05, note="+5pp on both for 5 min"),
    # Diagnostics, not in the brief's list: the noisy baseline's two ingredients apart.
    Scenario("noisy: dispersion only", False, dispersion_cv=0.5, note="no bursts"),
    Scenario("noisy: bursts only", False, bursts_per_hour=1.0, note="no over-dispersion"),
)


@dataclass(frozen=True)
class Bin:
    canary_bad: int
    canary_total: int
    stable_bad: int
    stable_total: int
    canary_slow: int
    stable_slow: int


class World:
    """One seeded world: the random events of one run, and the traffic they produce.

    Events (per-minute error rates, bursts, outages, the incident) are drawn up front from the
    seed, so the three policies face the same ones; request counts depend on each policy's
    weights and are drawn as the run goes.
    """

    def __init__(self, scenario: Scenario, seed: Sequence[int]) -> None:
        self.scenario = scenario
        rng = np.random.default_rng(list(seed))
        minutes = HORIZON_MINUTES
        base = scenario.base_error
        if scenario.dispersion_cv > 0:
            # Beta with mean m and cv c: a + b = (1 - m) / (m c^2) - 1.
            size = (1 - base) / (base * scenario.dispersion_cv**2) - 1
            a, b = base * size, (1 - base) * size
            self.rate_canary = [float(v) for v in rng.beta(a, b, minutes)]
            self.rate_stable = [float(v) for v in rng.beta(a, b, minutes)]
        else:
            self.rate_canary = [base] * minutes
            self.rate_stable = [base] * minutes
        horizon = minutes * 60.0
        self.bursts = [
            (start, start + float(rng.uniform(30, 120)), float(rng.uniform()))
            for start in _poisson_times(rng, scenario.bursts_per_hour, horizon)
        ]
        self.burst_on_canary: dict[int, bool] = {}
        self.outages = [
            (start, start + float(rng.uniform(30, 180)))
            for start in _poisson_times(rng, scenario.outages_per_hour, horizon)
        ]
        start = float(rng.uniform(60, 300))
        self.incident = (start, start + 300.0) if scenario.incident_extra_error > 0 else None
        self.rng = rng

    def blind(self, t: float) -> bool:
        """Whether a query at time t returns no data (a telemetry outage)."""
        return any(start <= t < end for start, end in self.outages)

    def draw(self, index: int, weight: float) -> Bin:
        sc = self.scenario
        t = index * BIN
        minute = min(index * BIN // 60, HORIZON_MINUTES - 1)
        p_c = self.rate_canary[minute] + sc.canary_extra_error
        p_s = self.rate_stable[minute]
        if self.incident is not None and self.incident[0] <= t < self.incident[1]:
            p_c += sc.incident_extra_error
            p_s += sc.incident_extra_error
        canary_pods = max(1, round(PODS * weight))
        for i, (start, end, u) in enumerate(self.bursts):
            if start <= t < end:
                # Which version's pod it is gets decided when the burst starts.
                on_canary = self.burst_on_canary.setdefault(i, u < canary_pods / PODS)
                if on_canary:
                    p_c += (sc.burst_error - p_c) / canary_pods
                else:
                    p_s += (sc.burst_error - p_s) / (PODS - canary_pods)
        p_c, p_s = min(p_c, 1.0), min(p_s, 1.0)
        lam_c = sc.rps * weight * BIN
        lam_s = sc.rps * (1.0 - weight) * BIN
        good_c, bad_c, good_s, bad_s = (
            int(v)
            for v in self.rng.poisson(
                (lam_c * (1 - p_c), lam_c * p_c, lam_s * (1 - p_s), lam_s * p_s)
            )
        )
        slow_c = slow_s = 0
        if sc.base_slow is not None:
            slow_c = int(self.rng.binomial(good_c + bad_c, sc.base_slow + sc.canary_extra_slow))
            slow_s = int(self.rng.binomial(good_s + bad_s, sc.base_slow))
        return Bin(bad_c, good_c + bad_c, bad_s, good_s + bad_s, slow_c, slow_s)


def _poisson_times(rng: np.random.Generator, per_hour: float, horizon: float) -> list[float]:
    if per_hour <= 0:
        return []
    times: list[float] = []
    t = 0.0
    while True:
        t += float(rng.exponential(3600.0 / per_hour))
        if t >= horizon:
            return times
        times.append(t)


class Traffic:
    """The run's traffic so far, bin by bin, at whatever weight the policy has set."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.weight = 0.0
        # Prefix sums of the Bin fields: cum[i] = totals of bins [0, i).
        self.cum: list[tuple[int, ...]] = [(0,) * 6]

    def run_until(self, t: float) -> None:
        while (len(self.cum) - 1) * BIN < t:
            b = self.world.draw(len(self.cum) - 1, self.weight)
            last = self.cum[-1]
            self.cum.append(
                (
                    last[0] + b.canary_bad,
                    last[1] + b.canary_total,
                    last[2] + b.stable_bad,
                    last[3] + b.stable_total,
                    last[4] + b.canary_slow,
                    last[5] + b.stable_slow,
                )
            )

    def window(self, start: float, end: float) -> tuple[int, ...]:
        """Sums over [start, end) (multiples of BIN)."""
        self.run_until(end)
        a, b = self.cum[int(start // BIN)], self.cum[int(end // BIN)]
        return tuple(y - x for x, y in zip(a, b, strict=True))

    def canary_requests(self, end: float) -> int:
        return self.window(0, end)[1]


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    seconds: float
    canary_requests: int
    """Requests the canary (the new version) served before the decision."""
    reason: str = ""
    """Why: the judge's reason, or which limit a Flagger/Argo-style run hit."""


# --- ours ---------------------------------------------------------------------------------------


def run_ours(world: World, policy: JudgePolicy | None = None) -> Outcome:
    policy = policy or JudgePolicy()
    traffic = Traffic(world)
    checks_latency = world.scenario.base_slow is not None
    error_state, slow_state = JudgeState(), JudgeState()
    t = 0.0
    for weight in STEPS:
        traffic.weight = weight
        step_start = t
        error_state, slow_state = error_state.new_window(), slow_state.new_window()
        while True:
            t += CHECK
            judgements = []
            if not world.blind(t):  # a failed query: no counts to judge this time
                w = traffic.window(step_start, t)
                e = judge(Counts(w[0], w[1]), Counts(w[2], w[3]), error_state, policy)
                error_state = e.state
                judgements.append(e)
                if checks_latency:
                    s = judge(Counts(w[4], w[1]), Counts(w[5], w[3]), slow_state, policy)
                    slow_state = s.state
                    judgements.append(s)
            verdicts = [j.verdict for j in judgements] or ["continue"]
            for j in judgements:
                if j.verdict == "rollback":
                    return Outcome("rollback", t, traffic.canary_requests(t), j.reason)
            if all(v == "pass" for v in verdicts) and t - step_start >= STEP_SECONDS:
                break
            if t - step_start >= MAX_STEP_SECONDS:
                last = judgements[0].reason if judgements else "NoData"
                return Outcome("paused", t, traffic.canary_requests(t), last)
    return Outcome("promoted", t, traffic.canary_requests(t))


# --- Flagger-style ------------------------------------------------------------------------------


def _check_ok(
    window: tuple[int, ...], bad: int, total: int, threshold: float = 0.99
) -> bool | None:
    """The 1m ratio check: None without data (empty vector or 0/0)."""
    if window[total] <= 0:
        return None
    return (window[total] - window[bad]) / window[total] >= threshold


def _checks(world: World, traffic: Traffic, t: float) -> list[bool | None]:
    """Every metric's 1m check at time t: errors, and latency when the scenario has it."""
    if world.blind(t):
        return [None] * (2 if world.scenario.base_slow is not None else 1)
    w = traffic.window(t - CHECK, t)
    results = [_check_ok(w, 0, 1)]
    if world.scenario.base_slow is not None:
        results.append(_check_ok(w, 4, 1))
    return results


def run_flagger(world: World, threshold: int = 5, step: float = 0.10, top: float = 0.50) -> Outcome:
    traffic = Traffic(world)
    traffic.weight = step  # the first tick only routes stepWeight to the canary
    failed = 0
    t = 0.0
    while True:
        t += CHECK
        if failed >= threshold:
            return Outcome("rollback", t, traffic.canary_requests(t), "failedChecks")
        if not all(ok is True for ok in _checks(world, traffic, t)):
            failed += 1  # no data counts as a failure too
            continue
        if traffic.weight >= top - 1e-9:
            return Outcome("promoted", t, traffic.canary_requests(t))
        traffic.run_until(t)  # traffic so far at the old weight
        traffic.weight = min(top, traffic.weight + step)


# --- Argo-style ---------------------------------------------------------------------------------


def run_argo(world: World, failure_limit: int = 3, error_limit: int = 4) -> Outcome:
    traffic = Traffic(world)
    metrics = 2 if world.scenario.base_slow is not None else 1
    failed = [0] * metrics
    errors = [0] * metrics
    end = len(STEPS) * STEP_SECONDS
    t = float(CHECK)
    while t < end:
        step = min(int(t // STEP_SECONDS), len(STEPS) - 1)
        # The weight of each step holds from its start; bins before t were drawn already.
        for s in range(step + 1):
            if traffic.weight != STEPS[s]:
                traffic.run_until(s * STEP_SECONDS)
                traffic.weight = STEPS[s]
        retry = False
        for m, ok in enumerate(_checks(world, traffic, t)):
            if ok is None:
                errors[m] += 1
                retry = True
                if errors[m] > error_limit:
                    return Outcome("rollback", t, traffic.canary_requests(t), "consecutiveErrors")
                continue
            errors[m] = 0
            if not ok:
                failed[m] += 1
                if failed[m] > failure_limit:
                    return Outcome("rollback", t, traffic.canary_requests(t), "failureLimit")
        t += 10.0 if retry else CHECK
    return Outcome("promoted", end, traffic.canary_requests(end))


POLICIES: dict[str, Callable[[World], Outcome]] = {
    "ours": run_ours,
    "flagger": run_flagger,
    "argo": run_argo,
}


# --- statistics and report ----------------------------------------------------------------------


def wilson(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score 95% interval: sensible at 0 and n, unlike the Wald interval."""
    if n == 0:
        return (0.0, 1.0)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return (max(0.0, centre - half), min(1.0, centre + half))


@dataclass
class Rate:
    count: int
    runs: int
    rate: float = field(init=False)
    low: float = field(init=False)
    high: float = field(init=False)

    def __post_init__(self) -> None:
        self.rate = self.count / self.runs if self.runs else math.nan
        self.low, self.high = wilson(self.count, self.runs)

    def text(self) -> str:
        return f"{self.rate * 100:5.1f}% [{self.low * 100:4.1f},{self.high * 100:5.1f}]"


def _percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(q * len(ordered)) - 1)]


def summarize(scenario: Scenario, outcomes: list[Outcome]) -> dict[str, Any]:
    runs = len(outcomes)
    rollbacks = [o for o in outcomes if o.decision == "rollback"]
    promoted = sum(o.decision == "promoted" for o in outcomes)
    paused = sum(o.decision == "paused" for o in outcomes)
    minutes = [o.seconds / 60 for o in rollbacks]
    promoted_minutes = [o.seconds / 60 for o in outcomes if o.decision == "promoted"]
    summary: dict[str, Any] = {
        "runs": runs,
        "rollback": asdict(Rate(len(rollbacks), runs)),
        "promoted": asdict(Rate(promoted, runs)),
        "paused": asdict(Rate(paused, runs)),
        "rollback_minutes_p50": statistics.median(minutes) if minutes else None,
        "rollback_minutes_p90": _percentile(minutes, 0.9),
        "canary_requests_before_rollback_mean": (
            statistics.fmean(o.canary_requests for o in rollbacks) if rollbacks else None
        ),
        "promote_minutes_p50": statistics.median(promoted_minutes) if promoted_minutes else None,
        "reasons": dict(
            sorted(Counter(f"{o.decision}: {o.reason}" for o in outcomes if o.reason).items())
        ),
    }
    if scenario.canary_worse:
        summary["missed_regression"] = summary["promoted"]
    else:
        summary["false_rollback"] = summary["rollback"]
    return summary


def simulate(
    scenarios: Sequence[Scenario], policies: Sequence[str], runs: int, seed: int
) -> dict[str, dict[str, dict[str, Any]]]:
    results: dict[str, dict[str, dict[str, Any]]] = {}
    for index, scenario in enumerate(SCENARIOS):
        if scenario not in scenarios:
            continue
        results[scenario.name] = {}
        for name in policies:
            run = POLICIES[name]
            outcomes = [run(World(scenario, (seed, index, r))) for r in range(runs)]
            results[scenario.name][name] = summarize(scenario, outcomes)
    return results


@dataclass(frozen=True)
class Target:
    what: str
    scenario: str
    check: Callable[[dict[str, dict[str, dict[str, Any]]]], tuple[bool, str]]


def _rate_at_most(scenario: str, key: str, limit: float) -> Callable[..., tuple[bool, str]]:
    def check(results: dict[str, dict[str, dict[str, Any]]]) -> tuple[bool, str]:
        r = results[scenario]["ours"][key]
        return r["rate"] <= limit, f"{r['rate'] * 100:.2f}% (95% CI {r['high'] * 100:.2f}% max)"

    return check


def _fewer_requests(scenario: str, factor: float) -> Callable[..., tuple[bool, str]]:
    def check(results: dict[str, dict[str, dict[str, Any]]]) -> tuple[bool, str]:
        ours = results[scenario]["ours"]["canary_requests_before_rollback_mean"]
        flagger = results[scenario].get("flagger", {}).get("canary_requests_before_rollback_mean")
        if ours is None or flagger is None:
            return False, "not measured"
        return flagger >= factor * ours, f"{flagger / ours:.1f}x ({ours:.0f} vs {flagger:.0f})"

    return check


TARGETS = (
    Target("false rollbacks <= 1%", "healthy", _rate_at_most("healthy", "false_rollback", 0.01)),
    Target(
        "false rollbacks <= 1%",
        "noisy baseline",
        _rate_at_most("noisy baseline", "false_rollback", 0.01),
    ),
    Target(
        "missed regressions <= 1%",
        "errors +5pp",
        _rate_at_most("errors +5pp", "missed_regression", 0.01),
    ),
    Target(
        "missed regressions <= 5%",
        "errors +1pp",
        _rate_at_most("errors +1pp", "missed_regression", 0.05),
    ),
    Target(
        ">= 5x fewer bad-version requests than Flagger",
        "errors +5pp",
        _fewer_requests("errors +5pp", 5),
    ),
)


def _fmt(value: float | None, spec: str) -> str:
    return "-" if value is None or math.isnan(value) else format(value, spec)


def table(results: dict[str, dict[str, dict[str, Any]]]) -> str:
    """One line per scenario and policy. "false rb" where the canary is not worse (any rollback
    is false), "missed" where it is (promoted); detection and bad-version requests over the
    runs that rolled back."""
    header = (
        f"{'scenario':<22} {'policy':<8} {'runs':>5}  {'rate [95% CI]':<25}"
        f"{'paused [95% CI]':<22}{'detect min p50/p90':>19}{'bad-version req':>16}"
        f"{'promote min':>12}"
    )
    lines = [header, "-" * len(header)]
    by_name = {s.name: s for s in SCENARIOS}
    for name, per_policy in results.items():
        worse = by_name[name].canary_worse
        for policy, r in per_policy.items():
            key = "missed_regression" if worse else "false_rollback"
            label = "missed" if worse else "false rb"
            rate = Rate(r[key]["count"], r["runs"])
            paused = Rate(r["paused"]["count"], r["runs"])
            p50, p90 = r["rollback_minutes_p50"], r["rollback_minutes_p90"]
            detect = f"{_fmt(p50, '.1f')}/{_fmt(p90, '.1f')}" if worse else "-"
            requests = _fmt(r["canary_requests_before_rollback_mean"], ".0f") if worse else "-"
            lines.append(
                f"{name:<22} {policy:<8} {r['runs']:>5}  {label:<8} {rate.text():<16}"
                f" {paused.text():<22}{detect:>19}{requests:>16}"
                f"{_fmt(r['promote_minutes_p50'], '.0f'):>12}"
            )
    return "\n".join(lines)


def evaluate_targets(results: dict[str, dict[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    verdicts = []
    for target in TARGETS:
        if target.scenario not in results or "ours" not in results[target.scenario]:
            continue
        ok, figure = target.check(results)
        verdicts.append(
            {"target": target.what, "scenario": target.scenario, "met": ok, "figure": figure}
        )
    return verdicts


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument(
        "--runs", type=int, default=1000, help="seeded runs per scenario and policy"
    )
    parser.add_argument("--seed", type=int, default=20240601)
    parser.add_argument("--scenarios", nargs="+", default=[s.name for s in SCENARIOS])
    parser.add_argument("--policies", nargs="+", default=list(POLICIES), choices=list(POLICIES))
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "decisions.json"))
    args = parser.parse_args(argv)
    unknown = set(args.scenarios) - {s.name for s in SCENARIOS}
    if unknown:
        parser.error(f"unknown scenarios: {sorted(unknown)}")
    command = "python -m tests.bench.decision_bench " + " ".join(
        sys.argv[1:] if argv is None else argv
    )
    scenarios = [s for s in SCENARIOS if s.name in args.scenarios]
    started = time.perf_counter()
    cpu_started = time.process_time()
    results = simulate(scenarios, args.policies, args.runs, args.seed)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    print(f"{args.runs} seeded runs per scenario and policy ({wall:.0f}s wall, {cpu:.0f}s CPU)")
    print(table(results))
    targets = evaluate_targets(results)
    print("\ntargets for ours:")
    for t in targets:
        mark = "PASS" if t["met"] else "MISS"
        print(f"  {mark}  {t['target']:<48} {t['scenario']:<16} {t['figure']}")
    report = {
        "command": command.strip(),
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, {platform.platform()}, "
        f"Python {platform.python_version()}",
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "wall_seconds": round(wall, 1),
        "cpu_seconds": round(cpu, 1),
        "runs_per_scenario_and_policy": args.runs,
        "seed": args.seed,
        "policy_defaults": asdict(JudgePolicy()),
        "scenarios": [asdict(s) for s in scenarios],
        "results": results,
        "targets": targets,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
