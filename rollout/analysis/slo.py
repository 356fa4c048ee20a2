"""SLO arithmetic: error ratios, burn rates, budget remaining, burn-rate pairs and the release gate.

Formulas from the Google SRE Workbook, ch. 5 "Alerting on SLOs" (sre.google/workbook/
alerting-on-slos/), as summarised in /work/shared/reference/analysis.md §1:

- burn rate = error ratio / (1 - SLO): 1 spends exactly the budget over the SLO period.
- A burn rate r sustained over a window w spends r * w / period of the budget, so the threshold
  for "fraction f of the budget within w" is f * period / w (30d: 0.02 * 720h / 1h = 14.4).
- Multi-window alerts: a pair fires when its long AND its short (long/12) window both burn above
  the threshold; the short window makes the alert stop soon after the burn stops.
- Budget remaining over the period, request-weighted (Pyrra's form, not Sloth's default
  time-weighted mean of 5m ratios): 1 - (bad/total) / (1 - SLO); <= 0 means exhausted.

Everything here works on counts (bad and total events over a window) rather than on ratios
queried from Prometheus, so "no traffic" stays distinguishable from "no errors".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rollout.models.slo import ReleaseGate, ServiceLevelObjective

__all__ = [
    "BurnPair",
    "Counts",
    "GateVerdict",
    "active_pairs",
    "budget_remaining",
    "burn_pairs",
    "burn_rate",
    "excess_bad_events",
    "format_window",
    "release_gate",
    "rollout_allowance",
    "ticket_pairs",
]


@dataclass(frozen=True)
class Counts:
    """Bad and total events over one window (floats: increase() extrapolates)."""

    bad: float
    total: float

    def __post_init__(self) -> None:
        # NaN compares false with everything, so a NaN count would silently pass every
        # threshold (analysis.md §4); refuse it here and let the caller classify it as no data.
        for name, value in (("bad", self.bad), ("total", self.total)):
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name} must be a finite count >= 0, got {value}")

    @classmethod
    def from_good(cls, good: float, total: float) -> Counts:
        """From good/total SLIs. good > total (extrapolation noise) counts as no bad events."""
        if not math.isfinite(good) or good < 0:
            raise ValueError(f"good must be a finite count >= 0, got {good}")
        return cls(bad=max(0.0, total - good), total=total)

    @property
    def ratio(self) -> float | None:
        """bad / total; None without traffic (no data is not "no errors")."""
        if self.total <= 0:
            return None
        return self.bad / self.total


@dataclass(frozen=True)
class BurnPair:
    """A multi-window burn-rate alert: fires when both windows burn faster than `factor`."""

    long: int
    """Long window, seconds."""
    short: int
    """Short window, seconds (long / 12)."""
    factor: float
    """Burn-rate threshold: budget_consumed * period / long."""
    budget_consumed: float
    """Fraction of the period's budget spent at `factor` over `long` (0.02 = 2%)."""


def _pair(period_seconds: int, long: int, consumed: float) -> BurnPair:
    return BurnPair(
        long=long,
        short=long // 12,
        factor=consumed * period_seconds / long,
        budget_consumed=consumed,
    )


def _check_period(period_seconds: int) -> None:
    if period_seconds <= 0:
        raise ValueError(f"the SLO period must be positive, got {period_seconds}s")


def burn_pairs(period_seconds: int) -> tuple[BurnPair, ...]:
    """The page-level pairs (SRE Workbook table 5-8): 2% of the budget in 1h (short 5m) and 5% in
    6h (short 30m). 30d gives factors 14.4 and 6; 28d gives 13.44 and 5.6 (Sloth's google-28d)."""
    _check_period(period_seconds)
    return (_pair(period_seconds, 3600, 0.02), _pair(period_seconds, 6 * 3600, 0.05))


def ticket_pairs(period_seconds: int) -> tuple[BurnPair, ...]:
    """The ticket-level pairs: 10% of the budget in 24h (short 2h) and in 3d (short 6h).

    30d gives 3 and 1, 28d 2.8 and 0.933 (the Workbook's table lists 3d/6h; its PromQL example
    and Sloth add 24h/2h)."""
    _check_period(period_seconds)
    return (_pair(period_seconds, 86400, 0.10), _pair(period_seconds, 3 * 86400, 0.10))


def _check_budget(error_budget: float) -> None:
    if not 0 < error_budget <= 1:
        raise ValueError(f"the error budget must be in (0, 1], got {error_budget}")


def burn_rate(counts: Counts, error_budget: float) -> float | None:
    """error ratio / error budget; None without traffic."""
    _check_budget(error_budget)
    ratio = counts.ratio
    return None if ratio is None else ratio / error_budget


def budget_remaining(counts: Counts, error_budget: float) -> float | None:
    """1 - ratio / budget over the SLO period: 1 untouched, 0 spent, negative overspent."""
    rate = burn_rate(counts, error_budget)
    return None if rate is None else 1.0 - rate


def active_pairs(
    windows: Mapping[int, Counts], error_budget: float, pairs: Iterable[BurnPair]
) -> list[BurnPair]:
    """The pairs whose long and short windows both burn above the pair's factor.

    Strictly above, as Sloth's and Pyrra's `>`. A window that is missing or has no traffic
    never fires: it cannot show a burn, and blocking on silence is the no-data rule's job.
    """
    _check_budget(error_budget)
    firing: list[BurnPair] = []
    for pair in pairs:
        rates = [_window_burn(windows, w, error_budget) for w in (pair.long, pair.short)]
        if all(r is not None and r > pair.factor for r in rates):
            firing.append(pair)
    return firing


def _window_burn(windows: Mapping[int, Counts], window: int, error_budget: float) -> float | None:
    counts = windows.get(window)
    return None if counts is None else burn_rate(counts, error_budget)


def rollout_allowance(
    period_total: float, error_budget: float, remaining: float, share: float
) -> float:
    """Bad events a rollout may spend: share * max(0, remaining) * error_budget * period_total.

    error_budget * period_total is the whole period's budget in events; `remaining` (a
    fraction) of it is left, and the rollout may spend `share` (a fraction, 0..1) of that.
    """
    _check_budget(error_budget)
    if not 0 <= share <= 1:
        raise ValueError(f"share must be a fraction in [0, 1], got {share}")
    return share * max(0.0, remaining) * error_budget * max(0.0, period_total)


def excess_bad_events(canary: Counts, reference_ratio: float) -> float:
    """Bad events beyond what the reference ratio predicts: max(0, bad - total * reference).

    The Workbook's canarying chapter: the budget impact is proportional to the traffic exposed
    to the defect, so the canary's cost is its bad events over the stable's expected ones.
    """
    if not 0 <= reference_ratio <= 1:
        raise ValueError(f"reference ratio must be in [0, 1], got {reference_ratio}")
    return max(0.0, canary.bad - canary.total * reference_ratio)


_UNITS = (("d", 86400), ("h", 3600), ("m", 60), ("s", 1))


def format_window(seconds: int) -> str:
    """Prometheus-style duration of a window: 300 -> "5m", 2419200 -> "28d", 5400 -> "1h30m"."""
    if seconds <= 0:
        return f"{seconds}s"
    parts: list[str] = []
    rest = seconds
    for unit, size in _UNITS:
        if rest >= size:
            parts.append(f"{rest // size}{unit}")
            rest %= size
    return "".join(parts)


GateOutcome = Literal["open", "closed", "no-data"]

REASON_NO_DATA = "NoData"
REASON_BUDGET_EXHAUSTED = "ErrorBudgetExhausted"
REASON_FAST_BURN = "FastBurn"
REASON_BUDGET_OK = "BudgetOK"
REASON_DISABLED = "GateDisabled"


@dataclass(frozen=True)
class GateVerdict:
    """The release gate's decision, with everything needed to explain it in status."""

    outcome: GateOutcome
    reason: str
    """Short CamelCase reason: NoData, ErrorBudgetExhausted, FastBurn, BudgetOK, GateDisabled."""
    message: str
    """For people: the figures and the thresholds they were compared with."""
    figures: dict[str, float | None] = field(default_factory=dict)
    """budgetRemaining, minBudgetRemaining (fractions), burnRate<window> and
    burnThreshold<long window> per page pair, errorBudget, periodBad, periodTotal."""


def _num(value: float) -> str:
    """Counts with thousands separators; increase() makes non-integers, keep one decimal then."""
    if value == round(value):
        return f"{value:,.0f}"
    return f"{value:,.1f}"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:.1f}%"


def _rate(value: float | None) -> str:
    return "no data" if value is None else f"{value:.3g}x"


def release_gate(
    period: Counts,
    windows: Mapping[int, Counts],
    slo: ServiceLevelObjective,
    gate: ReleaseGate,
) -> GateVerdict:
    """May a rollout start? (DESIGN §5 pre-flight; analysis.md §1 "Release gate".)

    Closed while the budget remaining over the SLO period is below `min_budget_remaining` percent,
    or (with `block_on_fast_burn`) while a page-level pair is active. No traffic over the whole
    period gives "no-data", never "open": a gate that cannot see must not wave releases through.
    """
    budget = slo.error_budget
    pairs = burn_pairs(slo.window)
    threshold = gate.min_budget_remaining / 100
    remaining = budget_remaining(period, budget)
    context = (
        f"{slo.name}: {slo.objective:g}% over {format_window(slo.window)}; "
        f"{_num(period.bad)} bad of {_num(period.total)}"
    )

    figures: dict[str, float | None] = {
        "budgetRemaining": remaining,
        "minBudgetRemaining": threshold,
        "errorBudget": budget,
        "periodBad": period.bad,
        "periodTotal": period.total,
    }
    for pair in pairs:
        figures[f"burnThreshold{format_window(pair.long)}"] = pair.factor
        for w in (pair.long, pair.short):
            figures[f"burnRate{format_window(w)}"] = _window_burn(windows, w, budget)

    if not gate.enabled:
        return GateVerdict("open", REASON_DISABLED, f"release gate disabled ({context})", figures)
    if remaining is None:
        return GateVerdict(
            "no-data",
            REASON_NO_DATA,
            f"no events over {format_window(slo.window)}: the error budget of {slo.name} "
            f"cannot be computed, so the gate stays shut until there is data ({context})",
            figures,
        )

    problems: list[tuple[str, str]] = []
    if remaining < threshold:
        problems.append(
            (
                REASON_BUDGET_EXHAUSTED,
                f"error budget remaining {_pct(remaining)} < {gate.min_budget_remaining:g}% "
                f"({context})",
            )
        )
    firing = active_pairs(windows, budget, pairs)
    if gate.block_on_fast_burn and firing:
        for pair in firing:
            problems.append(
                (
                    REASON_FAST_BURN,
                    f"fast burn: {_rate(figures[f'burnRate{format_window(pair.long)}'])} over "
                    f"{format_window(pair.long)} and "
                    f"{_rate(figures[f'burnRate{format_window(pair.short)}'])} over "
                    f"{format_window(pair.short)} > {pair.factor:.4g}x "
                    f"({pair.budget_consumed * 100:g}% of the budget in "
                    f"{format_window(pair.long)}; {slo.name}: {slo.objective:g}%)",
                )
            )
    if problems:
        return GateVerdict("closed", problems[0][0], "; ".join(m for _, m in problems), figures)

    burns = ", ".join(
        f"{_rate(figures[f'burnRate{format_window(p.long)}'])} over {format_window(p.long)} "
        f"(page at {p.factor:.4g}x)"
        for p in pairs
    )
    burn_state = "fast burn active but not blocking" if firing else "no fast burn"
    return GateVerdict(
        "open",
        REASON_BUDGET_OK,
        f"error budget remaining {_pct(remaining)} >= {gate.min_budget_remaining:g}%, "
        f"{burn_state} ({burns}) ({context})",
        figures,
    )
