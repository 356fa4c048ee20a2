"""The decision benchmark's world: scenarios, traffic and errors per 10-second bin, and
the three policies run on it (ours, Flagger-style, Argo-style). See decision_bench.py."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from rollout.analysis.judge import JudgePolicy, JudgeState, judge
from rollout.analysis.slo import Counts
from rollout.models.slo import StepGate

ROOT = Path(__file__).resolve().parents[2]
BIN = 10  # seconds per simulated bin
CHECK = 60  # seconds between checks, for every policy
PODS = 10
STEPS = (0.05, 0.10, 0.25, 0.50)
STEP_SECONDS = 600
MAX_STEP_SECONDS = 3 * STEP_SECONDS
# Room for every step at its longest, plus one retried step and its cool-off.
HORIZON_MINUTES = (len(STEPS) + 1) * MAX_STEP_SECONDS // 60 + 20

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
    withdrawn_at: float | None = None
    """Ours: when the first failed verdict withdrew the canary's traffic (None: never)."""

    @property
    def detected_at(self) -> float:
        """When the canary first lost its traffic to a verdict: withdrawn, or rolled back."""
        return self.seconds if self.withdrawn_at is None else self.withdrawn_at


# --- ours ---------------------------------------------------------------------------------------


def run_ours(
    world: World, policy: JudgePolicy | None = None, gate: StepGate | None = None
) -> Outcome:
    """The step gate as the product runs it with `gate`'s retries (default: the spec's): a
    rollback verdict with a retry left (per step) withdraws the canary's traffic for
    `retryAfter`, then the same step starts again with a fresh test. With the retries used up,
    a rollback verdict `retryAfter` or more into a retried step is a new incident: the retries
    come back, once (at most 2 x retries withdrawals per step), as in gating._new_incident."""
    policy = policy or JudgePolicy()
    gate = gate or StepGate()
    traffic = Traffic(world)
    checks_latency = world.scenario.base_slow is not None
    error_state, slow_state = JudgeState(), JudgeState()
    retries = gate.retries
    withdrawals = 0  # at the current step
    withdrawn_at: float | None = None
    t = 0.0
    index = 0
    while index < len(STEPS):
        traffic.run_until(t)  # traffic so far at the old weight
        traffic.weight = STEPS[index]
        step_start = t
        error_state, slow_state = error_state.new_window(), slow_state.new_window()
        withdrawn = False
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
            failed = next((j for j in judgements if j.verdict == "rollback"), None)
            if (
                failed is not None
                and retries == 0
                and 0 < withdrawals < 2 * gate.retries
                and t - step_start >= gate.retry_after
            ):
                retries = gate.retries  # a new incident, long into the retry
            if failed is not None and retries == 0:
                requests = traffic.canary_requests(t)
                return Outcome("rollback", t, requests, failed.reason, withdrawn_at)
            if failed is not None:
                retries -= 1
                withdrawals += 1
                withdrawn_at = t if withdrawn_at is None else withdrawn_at
                traffic.run_until(t)
                traffic.weight = 0.0
                t += gate.retry_after
                error_state, slow_state = JudgeState(), JudgeState()
                withdrawn = True
                break
            if all(v == "pass" for v in verdicts) and t - step_start >= STEP_SECONDS:
                break
            if t - step_start >= MAX_STEP_SECONDS:
                last = judgements[0].reason if judgements else "NoData"
                return Outcome("paused", t, traffic.canary_requests(t), last, withdrawn_at)
        if not withdrawn:
            index += 1
            retries, withdrawals = gate.retries, 0  # per step, as the engine counts them
    return Outcome("promoted", t, traffic.canary_requests(t), withdrawn_at=withdrawn_at)


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
