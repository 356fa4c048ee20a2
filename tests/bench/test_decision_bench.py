"""Keeps tests/bench/decision_bench.py from rotting: a few seeds of each policy, in seconds."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from rollout.models.slo import StepGate
from tests.bench import decision_bench as bench
from tests.bench import decision_sim as sim


def scenario(name: str) -> sim.Scenario:
    return next(s for s in sim.SCENARIOS if s.name == name)


def outcomes(policy: str, name: str, runs: int) -> list[sim.Outcome]:
    run = sim.POLICIES[policy]
    return [run(sim.World(scenario(name), (1, 0, r))) for r in range(runs)]


def test_ours_detects_five_points_of_errors_fast_and_passes_a_healthy_canary() -> None:
    bad = outcomes("ours", "errors +5pp", 20)
    assert sum(o.decision == "rollback" for o in bad) >= 19
    # Withdrawn at the first or second check of the 5% step, caught again as fast after the
    # 5-minute cool-off: a few hundred requests each time.
    assert all(o.withdrawn_at is not None and o.withdrawn_at <= 180 for o in bad)
    assert max(o.seconds for o in bad) <= 180 + 300 + 180
    assert max(o.canary_requests for o in bad) < 2000

    healthy = outcomes("ours", "healthy", 10)
    assert sum(o.decision == "rollback" for o in healthy) <= 1
    promoted = [o for o in healthy if o.decision == "promoted"]
    assert len(promoted) >= 8
    # Four steps of at least 10 minutes each.
    assert all(o.seconds >= 40 * 60 for o in promoted)


def test_a_burst_on_the_canary_is_withdrawn_then_passes_where_no_retry_rolls_back() -> None:
    def burst() -> sim.World:
        world = sim.World(scenario("healthy"), (1, 0, 0))
        world.bursts = [(30.0, 150.0, 0.0)]  # 2 min of 10% errors on the canary's only pod
        return world

    retried = sim.run_ours(burst())
    assert retried.decision == "promoted" and retried.withdrawn_at == 60.0
    at_once = sim.run_ours(burst(), gate=StepGate(retries=0))
    assert (at_once.decision, at_once.seconds) == ("rollback", 60.0)
    assert at_once.withdrawn_at is None


def test_flagger_style_rolls_back_the_tick_after_the_fifth_failed_check() -> None:
    bad = outcomes("flagger", "errors +5pp", 5)
    # Ticks at 1..5 min fail (stuck at 10%), the 6th tick sees failedChecks = 5 and rolls back.
    assert {(o.decision, o.seconds) for o in bad} == {("rollback", 360.0)}
    assert all(3000 < o.canary_requests < 4200 for o in bad)  # 6 min at 10 rps
    healthy = outcomes("flagger", "healthy", 5)
    # 10% -> 50% in four passing checks, promoted by the fifth.
    assert {(o.decision, o.seconds) for o in healthy} == {("promoted", 300.0)}


def test_argo_style_aborts_on_the_fourth_failure_and_on_the_fifth_consecutive_error() -> None:
    bad = outcomes("argo", "errors +5pp", 5)
    assert {(o.decision, o.seconds) for o in bad} == {("rollback", 240.0)}  # failureLimit 3

    world = sim.World(scenario("telemetry gaps"), (1, 0, 0))
    world.outages = [(100.0, 200.0)]  # one 100 s outage: queries at 120, 130, ..., 160 fail
    outcome = sim.run_argo(world)
    assert (outcome.decision, outcome.seconds) == ("rollback", 160.0)


def test_a_shared_incident_does_not_make_ours_roll_back() -> None:
    results = outcomes("ours", "shared incident", 10)
    assert sum(o.decision == "rollback" for o in results) <= 1
    flagger = outcomes("flagger", "shared incident", 10)
    assert sum(o.decision == "rollback" for o in flagger) >= 5  # absolute thresholds cannot tell


def test_wilson_interval() -> None:
    assert bench.wilson(0, 100)[0] == pytest.approx(0.0, abs=1e-12)
    assert bench.wilson(0, 100)[1] == pytest.approx(0.0370, abs=1e-4)
    low, high = bench.wilson(10, 100)
    assert low == pytest.approx(0.0552, abs=1e-4)
    assert high == pytest.approx(0.1744, abs=1e-4)


def test_main_writes_results_with_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "decisions.json"
    args = ["--runs", "3", "--scenarios", "healthy", "errors +5pp", "--out", str(out)]
    assert bench.main(args) == 0
    report = json.loads(out.read_text())
    assert report["command"].startswith("python -m tests.bench.decision_bench --runs 3")
    assert report["runs_per_scenario_and_policy"] == 3
    assert set(report["results"]) == {"healthy", "errors +5pp"}
    assert set(report["results"]["healthy"]) == {"ours", "flagger", "argo"}
    assert report["results"]["errors +5pp"]["ours"]["missed_regression"]["count"] == 0
    printed = capsys.readouterr().out
    assert "targets for ours" in printed
    assert "errors +5pp" in printed
