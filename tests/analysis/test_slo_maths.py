"""rollout.analysis.slo: the SRE Workbook arithmetic (analysis.md §1) and the release gate."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.analysis.slo import (
    BurnPair,
    Counts,
    active_pairs,
    budget_remaining,
    burn_pairs,
    burn_rate,
    excess_bad_events,
    format_window,
    release_gate,
    rollout_allowance,
    ticket_pairs,
)
from rollout.models.slo import SLI, ReleaseGate, ServiceLevelObjective

DAY = 86400
HOUR = 3600
MINUTE = 60


def make_slo(objective: float = 99.9, window: int = 28 * DAY) -> ServiceLevelObjective:
    return ServiceLevelObjective(
        name="availability",
        objective=objective,
        window=window,
        sli=SLI(
            total="sum(increase(http_requests_total[$window]))",
            bad='sum(increase(http_requests_total{code=~"5.."}[$window]))',
        ),
    )


# --- counts ---


def test_counts_ratio() -> None:
    assert Counts(bad=5, total=1000).ratio == pytest.approx(0.005)
    assert Counts(bad=0, total=1000).ratio == 0.0
    # No traffic is no data, not "no errors".
    assert Counts(bad=0, total=0).ratio is None


def test_counts_from_good() -> None:
    assert Counts.from_good(good=990, total=1000) == Counts(bad=10, total=1000)
    # Extrapolated good > total is noise, not negative errors.
    assert Counts.from_good(good=1000.4, total=1000) == Counts(bad=0.0, total=1000)


@pytest.mark.parametrize(
    ("bad", "total"), [(math.nan, 10), (1, math.nan), (math.inf, 10), (-1, 10)]
)
def test_counts_refuse_nan_inf_and_negatives(bad: float, total: float) -> None:
    with pytest.raises(ValueError, match="finite count"):
        Counts(bad=bad, total=total)


def test_counts_from_good_refuses_nan() -> None:
    with pytest.raises(ValueError, match="good"):
        Counts.from_good(good=math.nan, total=10)


# --- burn-rate pairs ---


def test_page_pairs_for_30_days() -> None:
    """SRE Workbook table 5-8; worked example 0.02 * 720 / 1 = 14.4."""
    fast, slow = burn_pairs(30 * DAY)
    assert (fast.long, fast.short, fast.budget_consumed) == (HOUR, 5 * MINUTE, 0.02)
    assert fast.factor == pytest.approx(0.02 * 720 / 1)
    assert fast.factor == pytest.approx(14.4)
    assert (slow.long, slow.short, slow.budget_consumed) == (6 * HOUR, 30 * MINUTE, 0.05)
    assert slow.factor == pytest.approx(6.0)


def test_page_pairs_for_28_days() -> None:
    """Sloth's google-28d windows: 13.44 and 5.6."""
    fast, slow = burn_pairs(28 * DAY)
    assert fast.factor == pytest.approx(13.44)
    assert slow.factor == pytest.approx(5.6)


def test_ticket_pairs() -> None:
    day, three_days = ticket_pairs(30 * DAY)
    assert (day.long, day.short) == (DAY, 2 * HOUR)
    assert day.factor == pytest.approx(3.0)
    assert (three_days.long, three_days.short) == (3 * DAY, 6 * HOUR)
    assert three_days.factor == pytest.approx(1.0)
    day, three_days = ticket_pairs(28 * DAY)
    assert day.factor == pytest.approx(2.8)
    assert three_days.factor == pytest.approx(0.9333, abs=1e-4)


@given(st.integers(DAY, 400 * DAY))
def test_pairs_spend_what_they_say(period: int) -> None:
    """burn_rate * window / period is the budget spent (Workbook), and short = long / 12."""
    for pair in (*burn_pairs(period), *ticket_pairs(period)):
        assert pair.factor * pair.long / period == pytest.approx(pair.budget_consumed)
        assert pair.short * 12 == pair.long


def test_pairs_need_a_period() -> None:
    with pytest.raises(ValueError, match="period"):
        burn_pairs(0)


# --- burn rate and budget ---


def test_burn_rate_and_budget_remaining_hand_computed() -> None:
    # 99.9%: budget 0.001. 500 bad of 1,000,000 is a 0.05% ratio: burn 0.5, half the budget left.
    counts = Counts(bad=500, total=1_000_000)
    assert burn_rate(counts, 0.001) == pytest.approx(0.5)
    assert budget_remaining(counts, 0.001) == pytest.approx(0.5)


def test_budget_overspent_is_negative() -> None:
    counts = Counts(bad=1234, total=1_000_000)
    assert budget_remaining(counts, 0.001) == pytest.approx(1 - 1.234)
    assert budget_remaining(counts, 0.001) == pytest.approx(-0.234)


def test_no_traffic_has_no_burn_and_no_budget() -> None:
    assert burn_rate(Counts(0, 0), 0.001) is None
    assert budget_remaining(Counts(0, 0), 0.001) is None


def test_error_budget_must_be_a_fraction() -> None:
    with pytest.raises(ValueError, match="error budget"):
        burn_rate(Counts(1, 10), 0.0)


@given(
    st.floats(0, 1e9),
    st.floats(1e-9, 1e9),
    st.floats(1e-6, 1.0),
)
def test_budget_remaining_is_one_minus_burn(bad: float, total: float, budget: float) -> None:
    counts = Counts(bad=bad, total=total)
    rate = burn_rate(counts, budget)
    remaining = budget_remaining(counts, budget)
    assert rate is not None
    assert remaining is not None
    assert remaining == pytest.approx(1 - rate)
    assert rate == pytest.approx(bad / total / budget)


# --- active pairs ---

PAIRS_28D = burn_pairs(28 * DAY)
BUDGET = 0.001


def at_burn(rate: float, total: float = 100_000) -> Counts:
    """Counts burning at `rate` times the 99.9% budget."""
    return Counts(bad=rate * BUDGET * total, total=total)


def test_a_pair_fires_when_both_windows_burn() -> None:
    windows = {
        HOUR: at_burn(20),
        5 * MINUTE: at_burn(20),
        6 * HOUR: at_burn(2),
        30 * MINUTE: at_burn(2),
    }
    assert active_pairs(windows, BUDGET, PAIRS_28D) == [PAIRS_28D[0]]


def test_both_pairs_can_fire() -> None:
    windows = {w: at_burn(30) for w in (HOUR, 5 * MINUTE, 6 * HOUR, 30 * MINUTE)}
    assert active_pairs(windows, BUDGET, PAIRS_28D) == list(PAIRS_28D)


def test_only_the_long_window_burning_does_not_fire() -> None:
    # The burn stopped: the 1h window still remembers it, the 5m window does not.
    windows = {HOUR: at_burn(20), 5 * MINUTE: at_burn(1)}
    assert active_pairs(windows, BUDGET, PAIRS_28D) == []


def test_only_the_short_window_burning_does_not_fire() -> None:
    windows = {HOUR: at_burn(2), 5 * MINUTE: at_burn(100)}
    assert active_pairs(windows, BUDGET, PAIRS_28D) == []


def test_missing_or_empty_windows_never_fire() -> None:
    assert active_pairs({HOUR: at_burn(50)}, BUDGET, PAIRS_28D) == []
    assert active_pairs({HOUR: at_burn(50), 5 * MINUTE: Counts(0, 0)}, BUDGET, PAIRS_28D) == []
    assert active_pairs({}, BUDGET, PAIRS_28D) == []


def test_the_threshold_is_strict() -> None:
    pair = BurnPair(long=HOUR, short=5 * MINUTE, factor=10.0, budget_consumed=0.02)
    at = {HOUR: Counts(bad=10, total=1000), 5 * MINUTE: Counts(bad=10, total=1000)}  # burn 10
    above = {HOUR: Counts(bad=11, total=1000), 5 * MINUTE: Counts(bad=11, total=1000)}
    assert active_pairs(at, 0.001, [pair]) == []
    assert active_pairs(above, 0.001, [pair]) == [pair]


# --- allowance and excess ---


def test_rollout_allowance_hand_computed() -> None:
    # 1,000,000 requests at 99.9%: 1,000 bad events of budget, half left, the rollout may
    # spend 5% of what is left: 25.
    assert rollout_allowance(1_000_000, 0.001, 0.5, 0.05) == pytest.approx(25.0)


def test_rollout_allowance_is_zero_when_overspent() -> None:
    assert rollout_allowance(1_000_000, 0.001, -0.3, 0.05) == 0.0


def test_rollout_allowance_share_is_a_fraction() -> None:
    with pytest.raises(ValueError, match="fraction"):
        rollout_allowance(1_000_000, 0.001, 0.5, 5)


def test_excess_bad_events() -> None:
    # 30 bad of 10,000 where the stable's 0.1% predicts 10: 20 in excess.
    assert excess_bad_events(Counts(bad=30, total=10_000), 0.001) == pytest.approx(20.0)
    # Better than the reference: no excess (never a credit).
    assert excess_bad_events(Counts(bad=5, total=10_000), 0.001) == 0.0


def test_workbook_canary_arithmetic() -> None:
    """'20% errors at a 5% weight is 1% overall' (analysis.md §1): the excess of a 5% slice
    with 20% errors, against a clean stable, is 1% of all requests."""
    total = 100_000
    canary = Counts(bad=0.2 * 0.05 * total, total=0.05 * total)
    assert excess_bad_events(canary, 0.0) / total == pytest.approx(0.01)


# --- formatting ---


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(300, "5m"), (3600, "1h"), (28 * DAY, "28d"), (5400, "1h30m"), (90, "1m30s"), (0, "0s")],
)
def test_format_window(seconds: int, text: str) -> None:
    assert format_window(seconds) == text


# --- release gate ---


def quiet_windows() -> dict[int, Counts]:
    return {w: at_burn(0.5) for w in (HOUR, 5 * MINUTE, 6 * HOUR, 30 * MINUTE)}


def test_gate_closed_when_budget_low() -> None:
    # 958 bad of 1,000,000 at 99.9%: 95.8% of the budget spent, 4.2% left < 10%.
    verdict = release_gate(Counts(958, 1_000_000), quiet_windows(), make_slo(), ReleaseGate())
    assert verdict.outcome == "closed"
    assert verdict.reason == "ErrorBudgetExhausted"
    assert verdict.message == (
        "error budget remaining 4.2% < 10% (availability: 99.9% over 28d; 958 bad of 1,000,000)"
    )
    assert verdict.figures["budgetRemaining"] == pytest.approx(0.042)
    assert verdict.figures["minBudgetRemaining"] == pytest.approx(0.10)
    assert verdict.figures["periodBad"] == 958
    assert verdict.figures["periodTotal"] == 1_000_000


def test_gate_closed_when_budget_overspent() -> None:
    verdict = release_gate(Counts(1234, 1_000_000), quiet_windows(), make_slo(), ReleaseGate())
    assert verdict.outcome == "closed"
    assert verdict.reason == "ErrorBudgetExhausted"
    assert "-23.4% < 10%" in verdict.message
    assert "1,234 bad of 1,000,000" in verdict.message
    assert verdict.figures["budgetRemaining"] == pytest.approx(-0.234)


def test_gate_threshold_comes_from_the_spec() -> None:
    period = Counts(700, 1_000_000)  # 30% left
    assert release_gate(period, quiet_windows(), make_slo(), ReleaseGate()).outcome == "open"
    strict = ReleaseGate(min_budget_remaining=50)
    verdict = release_gate(period, quiet_windows(), make_slo(), strict)
    assert verdict.outcome == "closed"
    assert "30.0% < 50%" in verdict.message


def test_gate_closed_on_fast_burn() -> None:
    windows = quiet_windows() | {HOUR: at_burn(20), 5 * MINUTE: at_burn(25)}
    verdict = release_gate(Counts(100, 1_000_000), windows, make_slo(), ReleaseGate())
    assert verdict.outcome == "closed"
    assert verdict.reason == "FastBurn"
    assert "20x over 1h" in verdict.message
    assert "25x over 5m" in verdict.message
    assert "13.44x" in verdict.message  # the 28d threshold
    assert "2% of the budget in 1h" in verdict.message
    assert verdict.figures["burnRate1h"] == pytest.approx(20)
    assert verdict.figures["burnRate5m"] == pytest.approx(25)
    assert verdict.figures["burnThreshold1h"] == pytest.approx(13.44)
    assert verdict.figures["burnThreshold6h"] == pytest.approx(5.6)


def test_gate_reports_both_problems() -> None:
    windows = quiet_windows() | {HOUR: at_burn(20), 5 * MINUTE: at_burn(25)}
    verdict = release_gate(Counts(958, 1_000_000), windows, make_slo(), ReleaseGate())
    assert verdict.reason == "ErrorBudgetExhausted"
    assert "4.2% < 10%" in verdict.message
    assert "fast burn" in verdict.message


def test_fast_burn_does_not_block_when_told_not_to() -> None:
    windows = quiet_windows() | {HOUR: at_burn(20), 5 * MINUTE: at_burn(25)}
    gate = ReleaseGate(block_on_fast_burn=False)
    verdict = release_gate(Counts(100, 1_000_000), windows, make_slo(), gate)
    assert verdict.outcome == "open"
    assert "fast burn active but not blocking" in verdict.message


def test_gate_open_when_healthy() -> None:
    verdict = release_gate(Counts(100, 1_000_000), quiet_windows(), make_slo(), ReleaseGate())
    assert verdict.outcome == "open"
    assert verdict.reason == "BudgetOK"
    assert "90.0% >= 10%" in verdict.message
    assert "no fast burn" in verdict.message
    assert "page at 13.44x" in verdict.message
    assert verdict.figures["budgetRemaining"] == pytest.approx(0.9)
    assert verdict.figures["burnRate6h"] == pytest.approx(0.5)


def test_gate_uses_the_slo_period_for_thresholds() -> None:
    windows = quiet_windows() | {HOUR: at_burn(14), 5 * MINUTE: at_burn(14)}
    period = Counts(100, 1_000_000)
    # 14x is above 13.44 (28d) but below 14.4 (30d).
    assert release_gate(period, windows, make_slo(window=28 * DAY), ReleaseGate()).outcome == (
        "closed"
    )
    assert release_gate(period, windows, make_slo(window=30 * DAY), ReleaseGate()).outcome == (
        "open"
    )


def test_gate_without_period_data_is_no_data_never_open() -> None:
    verdict = release_gate(Counts(0, 0), quiet_windows(), make_slo(), ReleaseGate())
    assert verdict.outcome == "no-data"
    assert verdict.reason == "NoData"
    assert "28d" in verdict.message
    assert verdict.figures["budgetRemaining"] is None


def test_gate_with_silent_windows_reports_them() -> None:
    verdict = release_gate(Counts(100, 1_000_000), {}, make_slo(), ReleaseGate())
    assert verdict.outcome == "open"
    assert "no data over 1h" in verdict.message
    assert verdict.figures["burnRate5m"] is None


def test_disabled_gate_is_open_and_says_so() -> None:
    verdict = release_gate(Counts(0, 0), {}, make_slo(), ReleaseGate(enabled=False))
    assert verdict.outcome == "open"
    assert verdict.reason == "GateDisabled"


def test_non_integer_counts_in_the_message() -> None:
    verdict = release_gate(Counts(958.4, 1_000_000.5), quiet_windows(), make_slo(), ReleaseGate())
    assert "958.4 bad of 1,000,000.5" in verdict.message
