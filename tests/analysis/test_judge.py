"""The step gate's decision rule: hand cases, the state across restarts, validity under peeking."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from rollout.analysis.judge import (
    GRID_ID,
    RHO_GRID,
    JudgePolicy,
    JudgeState,
    difference_upper_bound,
    judge,
)
from rollout.analysis.slo import Counts

POLICY = JudgePolicy()
BASELINE = Counts(100, 100_000)  # a stable at 0.1%, the budget of a 99.9% SLO


def mixture_e_value(x: float, n1: float, y: float, n2: float) -> float:
    """The e-value of one increment written out from the formula, independently of judge.py:
    the average over the grid of Bin(K, theta(rho)) / Bin(K, theta0) likelihoods at x."""
    k = x + y
    theta0 = n1 / (n1 + n2)
    total = 0.0
    for rho in RHO_GRID:
        theta = rho * n1 / (rho * n1 + n2)
        total += (theta / theta0) ** x * ((1 - theta) / (1 - theta0)) ** (k - x)
    return total / len(RHO_GRID)


def test_two_errors_in_100_is_not_yet_enough() -> None:
    # Wald's SPRT (p0 0.1%, p1 1%, alpha 5%) rejects here; an anytime-valid mixture at
    # alpha 1% needs more: it pays for being allowed to look at every check.
    j = judge(Counts(2, 100), BASELINE, JudgeState(), POLICY)
    assert j.verdict == "continue"
    assert j.reason == "NotEnoughEvidence"  # also under min_requests: no pass either
    assert j.figures["eValue"] == pytest.approx(mixture_e_value(2, 100, 100, 100_000))
    assert 10 < j.figures["eValue"] < 100  # type: ignore[operator]
    assert "2/100" in j.message


def test_six_in_1000_is_evidence_but_not_enough_and_ten_is() -> None:
    six = judge(Counts(6, 1000), BASELINE, JudgeState(), POLICY)
    assert six.verdict == "continue"
    assert six.figures["eValue"] == pytest.approx(mixture_e_value(6, 1000, 100, 100_000))
    assert 30 < six.figures["eValue"] < 100  # type: ignore[operator]
    # Not a pass either: 0.6% against 0.1% cannot be bounded below the 0.2% margin.
    assert six.figures["differenceUpperBound"] > 0.002  # type: ignore[operator]

    ten = judge(Counts(10, 1000), BASELINE, JudgeState(), POLICY)
    assert ten.verdict == "rollback"
    assert ten.reason == "CanaryWorseThanStable"
    assert ten.figures["eValue"] >= 100  # type: ignore[operator]
    assert "1/alpha" in ten.message and "0.9%" in ten.message


def test_evidence_does_not_depend_on_how_often_one_checks() -> None:
    # At a fixed traffic split the product of the increments' likelihood ratios is the
    # likelihood ratio of the sum: checking 10 times or once gives the same e-value.
    once = judge(Counts(6, 1000), Counts(60, 60_000), JudgeState(), POLICY)
    state = JudgeState()
    increments = [(0, 100), (1, 100), (0, 100), (2, 100), (0, 100), (1, 100), (0, 100), (1, 100)]
    increments += [(1, 100), (0, 100)]
    bad = total = 0
    stable_bad = [5, 6, 7, 6, 6, 5, 7, 6, 6, 6]
    s_bad = 0
    for (b, t), sb in zip(increments, stable_bad, strict=True):
        bad, total, s_bad = bad + b, total + t, s_bad + sb
        j = judge(Counts(bad, total), Counts(s_bad, total * 60), state, POLICY)
        state = j.state
    assert (bad, total, s_bad) == (6, 1000, 60)
    assert j.figures["eValue"] == pytest.approx(once.figures["eValue"], rel=1e-9)


def test_fast_burn_rolls_back_even_against_accumulated_evidence_for_the_canary() -> None:
    # A long healthy history leaves the test's evidence far below 1; a canary that suddenly
    # fails 30% of requests must not wait for the test to climb back.
    healthy_history = JudgeState(log_lr=(-500.0,) * len(RHO_GRID))
    j = judge(Counts(30, 100), Counts(1, 10_000), healthy_history, POLICY)
    assert j.figures["eValue"] < 100  # type: ignore[operator]
    assert j.verdict == "rollback"
    assert j.reason == "CanaryFastBurn"
    assert j.figures["canaryLowerBound"] > 0.0144  # type: ignore[operator]
    assert "1.44%" in j.message


def test_fast_burn_at_three_requests() -> None:
    j = judge(Counts(3, 3), Counts(0, 50), JudgeState(), POLICY)
    assert j.verdict == "rollback"


def test_incident_on_both_versions_pauses_instead_of_blaming_the_canary() -> None:
    j = judge(Counts(50, 1000), Counts(900, 20_000), JudgeState(), POLICY)
    assert j.figures["canaryLowerBound"] > 0.0144  # type: ignore[operator]
    assert j.verdict == "pause"
    assert j.reason == "SharedFastBurn"
    assert j.figures["stableUpperBound"] >= j.figures["canaryLowerBound"]  # type: ignore[operator]


def test_canary_much_worse_during_an_incident_still_rolls_back() -> None:
    j = judge(Counts(200, 1000), Counts(900, 20_000), JudgeState(), POLICY)
    assert j.verdict == "rollback"


def test_healthy_large_sample_passes() -> None:
    j = judge(Counts(5, 5000), BASELINE, JudgeState(), POLICY)
    assert j.verdict == "pass"
    assert j.reason == "CanaryWithinMargin"
    assert j.figures["differenceUpperBound"] < 0.002  # type: ignore[operator]
    assert "95% upper bound" in j.message


def test_clean_canary_below_min_requests_does_not_pass() -> None:
    j = judge(Counts(0, 150), BASELINE, JudgeState(), POLICY)
    assert j.verdict == "continue"
    assert j.reason == "NotEnoughEvidence"
    assert "150 < 200" in j.message


def test_pass_bound_is_tighter_than_the_rule_of_three_but_not_below_it() -> None:
    # 0 errors in 3000: the exact one-sided 95% bound is 1 - 0.05^(1/3000) = 0.0998%; the
    # MOVER-Jeffreys bound of the difference sits close to it (Jeffreys is not conservative).
    upper = difference_upper_bound(Counts(0, 3000), Counts(0, 10**7), 0.95)
    assert 0.0006 < upper < 1 - 0.05 ** (1 / 3000)


@pytest.mark.parametrize(
    ("canary", "stable", "silent"),
    [(Counts(0, 0), BASELINE, "canary"), (Counts(1, 10), Counts(0, 0), "stable")],
)
def test_no_data_is_neither_pass_nor_rollback(canary: Counts, stable: Counts, silent: str) -> None:
    state = judge(Counts(1, 500), Counts(10, 9500), JudgeState(), POLICY).state
    j = judge(canary, stable, state, POLICY)
    assert j.verdict == "continue"
    assert j.reason == "NoData"
    assert silent in j.message
    assert j.state == state  # the next data is measured from the same marks


def test_excess_bad_events_over_the_allowance_roll_back() -> None:
    policy = JudgePolicy(excess_allowance=4)
    j = judge(Counts(8, 3000), BASELINE, JudgeState(), policy)
    assert j.figures["eValue"] < 100  # type: ignore[operator]
    assert j.verdict == "rollback"
    assert j.reason == "ExcessBadEvents"
    assert j.figures["excessBadEvents"] == pytest.approx(5.0)
    # Without an allowance the same counts are no reason to roll back.
    assert judge(Counts(8, 3000), BASELINE, JudgeState(), POLICY).verdict == "continue"


def checks_of_a_rollout() -> list[tuple[Counts, Counts]]:
    """Cumulative counts of 12 checks of one step, a canary slowly getting worse."""
    rng = np.random.default_rng(7)
    out, c, s = [], [0, 0], [0, 0]
    for i in range(12):
        c[1] += 300
        c[0] += int(rng.poisson(300 * (0.001 + 0.0015 * i)))
        s[1] += 5700
        s[0] += int(rng.poisson(5.7))
        out.append((Counts(c[0], c[1]), Counts(s[0], s[1])))
    return out


def test_state_round_trips_and_a_restarted_controller_continues_the_same_test() -> None:
    checks = checks_of_a_rollout()
    state = JudgeState()
    uninterrupted = []
    for canary, stable in checks:
        j = judge(canary, stable, state, POLICY)
        uninterrupted.append(j)
        state = j.state
    assert {j.verdict for j in uninterrupted} >= {"continue", "rollback"}  # a real sequence

    for stop in range(1, len(checks)):
        state = JudgeState()
        for canary, stable in checks[:stop]:
            state = judge(canary, stable, state, POLICY).state
        # What the Rollout status holds: strict JSON (no Infinity/NaN), floats and strings.
        stored = json.loads(json.dumps(state.to_dict(), allow_nan=False))
        assert all(isinstance(v, float | str) for v in stored.values())
        state = JudgeState.from_dict(stored)
        for i, (canary, stable) in enumerate(checks[stop:], start=stop):
            j = judge(canary, stable, state, POLICY)
            assert j == uninterrupted[i]
            state = j.state


def test_overwhelming_evidence_still_serializes_as_strict_json() -> None:
    state = judge(Counts(5000, 10_000), Counts(10, 10_000), JudgeState(), POLICY).state
    assert state.e_value == math.inf
    stored = json.dumps(state.to_dict(), allow_nan=False)
    assert JudgeState.from_dict(json.loads(stored)) == state


def test_from_dict_refuses_a_state_it_cannot_continue() -> None:
    good = JudgeState(log_lr=(0.5,) * len(RHO_GRID), canary_total=10).to_dict()
    assert JudgeState.from_dict(good).canary_total == 10
    with pytest.raises(ValueError, match="grid"):
        JudgeState.from_dict({**good, "grid": "rho=1.5..100"})
    with pytest.raises(ValueError, match="needs 14 values"):
        JudgeState.from_dict({**good, "logLR": "0.0 1.0"})
    with pytest.raises(ValueError, match="judge state"):
        JudgeState.from_dict({k: v for k, v in good.items() if k != "canaryBad"})
    with pytest.raises(ValueError, match="finite"):
        JudgeState.from_dict({**good, "stableTotal": math.nan})
    assert good["grid"] == GRID_ID


def test_counts_that_dip_are_never_counted_twice() -> None:
    # increase() extrapolates: cumulative counts can wobble down between checks.
    direct = judge(Counts(6, 1200), Counts(10, 20_000), JudgeState(), POLICY)
    state = judge(Counts(4, 800), Counts(7, 14_000), JudgeState(), POLICY).state
    state = judge(Counts(3.6, 790), Counts(6.5, 13_900), state, POLICY).state
    wobbly = judge(Counts(6, 1200), Counts(10, 20_000), state, POLICY)
    assert wobbly.figures["eValue"] <= direct.figures["eValue"] * (1 + 1e-9)  # type: ignore[operator]


def test_new_window_keeps_the_evidence_and_counts_the_new_step_from_zero() -> None:
    state = judge(Counts(3, 3000), Counts(60, 57_000), JudgeState(), POLICY).state
    fresh = state.new_window()
    assert fresh.log_lr == state.log_lr
    assert (fresh.canary_total, fresh.stable_total) == (0.0, 0.0)
    # The next step's first check counts all of its events.
    j = judge(Counts(20, 600), Counts(6, 5400), fresh, POLICY)
    one_shot = mixture_e_value(20, 600, 6, 5400)
    assert j.figures["eValue"] != pytest.approx(state.e_value)
    assert j.state.checks == state.checks + 1
    assert one_shot > 100  # this step alone would already be strong evidence


def peeking_runs(
    runs: int,
    *,
    ratio: float,
    rates: tuple[float, float],
    policy: JudgePolicy,
    seed: int,
    checks: int = 30,
    requests: int = 6000,
) -> tuple[int, int]:
    """Simulated steps checked every minute: (runs the judge rolled back, runs whose e-value
    ever reached 1/alpha). The traffic split changes at every check (5-50%), so each increment
    has its own theta0, and the error rate both versions share drifts within `rates` from check
    to check, so the conditioning on K has something to cancel."""
    rng = np.random.default_rng(seed)
    rollbacks = crossings = 0
    for _ in range(runs):
        state = JudgeState()
        c = [0, 0]
        s = [0, 0]
        rolled = crossed = False
        for _ in range(checks):
            share = float(rng.uniform(0.05, 0.5))
            rate = float(rng.uniform(*rates))
            n_c = int(rng.poisson(requests * share))
            n_s = int(rng.poisson(requests * (1 - share)))
            c[1] += n_c
            s[1] += n_s
            c[0] += int(rng.binomial(n_c, min(1.0, rate * ratio)))
            s[0] += int(rng.binomial(n_s, rate))
            j = judge(Counts(c[0], c[1]), Counts(s[0], s[1]), state, policy)
            state = j.state
            rolled = rolled or j.verdict == "rollback"
            crossed = crossed or state.e_value >= 1 / policy.alpha
        rollbacks += rolled
        crossings += crossed
    return rollbacks, crossings


# Rule (a) off (its line at 90%), so these runs measure the sequential test alone.
# min_requests infinite here and below skips the pass bound, which can never cause a rollback
# but costs two beta quantiles per check (the tests would take 4x as long).
TEST_ONLY = JudgePolicy(fast_burn_factor=900, min_requests=math.inf)
ROLLBACK_RULES = JudgePolicy(min_requests=math.inf)
HIGH_RATES = (0.01, 0.03)  # plenty of errors per check: the test sees a lot of evidence


def test_e_value_under_peeking_reaches_1_over_alpha_in_at_most_alpha_of_runs() -> None:
    # 500 runs x 30 checks with both versions equal. Ville's inequality bounds the chance that
    # the e-value EVER reaches 1/alpha by alpha; a fixed-sample test looked at 30 times would
    # exceed alpha several times over. Tolerance: 1% on top of alpha (~3 sd at 500 runs).
    runs = 500
    rollbacks, crossings = peeking_runs(
        runs, ratio=1.0, rates=HIGH_RATES, policy=TEST_ONLY, seed=11
    )
    assert crossings / runs <= TEST_ONLY.alpha + 0.01
    assert rollbacks <= crossings  # rule (b) only fires on a crossing


def test_false_rollbacks_under_peeking_stay_below_alpha() -> None:
    # The rollback rules with their defaults, at a 99.9% service's usual error rates (drifting
    # 0.05-0.3% together), 100 rps, 500 runs x 30 checks.
    runs = 500
    rollbacks, _ = peeking_runs(
        runs, ratio=1.0, rates=(0.0005, 0.003), policy=ROLLBACK_RULES, seed=13
    )
    assert rollbacks / runs <= POLICY.alpha + 0.01


def test_the_same_simulation_detects_a_real_difference() -> None:
    # The checks above must not pass merely because the test never rejects anything.
    runs = 100
    rollbacks, crossings = peeking_runs(
        runs, ratio=2.0, rates=HIGH_RATES, policy=TEST_ONLY, seed=12
    )
    assert crossings / runs > 0.9
    assert rollbacks / runs > 0.9
    rollbacks, _ = peeking_runs(
        runs, ratio=5.0, rates=(0.0005, 0.003), policy=ROLLBACK_RULES, seed=14
    )
    assert rollbacks / runs > 0.9


def test_policy_refuses_nonsense() -> None:
    with pytest.raises(ValueError, match="alpha"):
        JudgePolicy(alpha=0)
    with pytest.raises(ValueError, match="error_budget"):
        JudgePolicy(error_budget=1.5)
    with pytest.raises(ValueError, match="excess_allowance"):
        JudgePolicy(excess_allowance=-1)
