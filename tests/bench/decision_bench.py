"""Benchmark: decision quality of the step gate (`judge`) against Flagger- and Argo-style checks.

A seeded simulator plays a canary rollout many times per scenario and asks three policies to
drive it on the same worlds (the same seeds: the same incidents, bursts and outages):

- ours: `rollout.analysis.judge.judge` with the default `JudgePolicy`, steps 5/10/25/50% of
  10 min each, checked every 60 s on the counts since the step started; on "rollback", with the
  default `StepGate` (retries 1, retryAfter 5m), the first one withdraws the canary (weight 0)
  for 5 min and the same step starts again with a fresh test, the second rolls back unless it
  comes 5 min or more into the retry (a new incident: the retry comes back, once per step; as
  the engine does: rollout/engine/gating.py); advance on "pass" once the step's 10 min are over;
  "pause" (a fast burn on both versions) and "continue" hold the step; a step not passed
  within 30 min (3x) ends the run as paused ("no decision": nothing bad was promoted, but a
  person has to look). The judge's state carries across steps (`new_window()` at each step
  start; a retry starts a new state); a check that hits a telemetry outage does not call it.
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
from typing import Any

from rollout.analysis.judge import JudgePolicy
from rollout.models.slo import StepGate
from tests.bench.decision_sim import POLICIES, ROOT, SCENARIOS, Outcome, Scenario, World

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
    detected = [o.detected_at / 60 for o in rollbacks]
    withdrawn = sum(o.withdrawn_at is not None for o in outcomes)
    promoted_minutes = [o.seconds / 60 for o in outcomes if o.decision == "promoted"]
    summary: dict[str, Any] = {
        "runs": runs,
        "rollback": asdict(Rate(len(rollbacks), runs)),
        "promoted": asdict(Rate(promoted, runs)),
        "paused": asdict(Rate(paused, runs)),
        "withdrawn": asdict(Rate(withdrawn, runs)),
        "detection_minutes_p50": statistics.median(detected) if detected else None,
        "detection_minutes_p90": _percentile(detected, 0.9),
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
    is false), "missed" where it is (promoted); "withdrawn": runs where ours took the canary's
    traffic away for a retry; detection (traffic off the canary: withdrawn or rolled back),
    rollback time and bad-version requests over the runs that rolled back."""
    header = (
        f"{'scenario':<22} {'policy':<8} {'runs':>5}  {'rate [95% CI]':<25}"
        f"{'paused [95% CI]':<22}{'withdrawn':>10}{'detect p50/p90':>15}{'rollback p50':>13}"
        f"{'bad-version req':>16}{'promote min':>12}"
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
            p50, p90 = r["detection_minutes_p50"], r["detection_minutes_p90"]
            detect = f"{_fmt(p50, '.1f')}/{_fmt(p90, '.1f')}" if worse else "-"
            back = _fmt(r["rollback_minutes_p50"], ".1f") if worse else "-"
            requests = _fmt(r["canary_requests_before_rollback_mean"], ".0f") if worse else "-"
            withdrawn = f"{r['withdrawn']['rate'] * 100:.1f}%"
            lines.append(
                f"{name:<22} {policy:<8} {r['runs']:>5}  {label:<8} {rate.text():<16}"
                f" {paused.text():<22}{withdrawn:>10}{detect:>15}{back:>13}{requests:>16}"
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
        "step_gate_defaults": StepGate().to_dict(),
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
