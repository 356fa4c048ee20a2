"""The step gate's default canary decision rule: a pure function of cumulative counts.

`judge(canary, stable, state, policy)` is called at every check (every 30-60 s) with the bad and
total events of each version since the step started, and the state the previous call returned.
It answers rollback, pause, continue or pass (analysis.md §5 "Per step", rules 2, 3, 6 and 7):

(a) Fast burn. The one-sided Clopper-Pearson lower bound (confidence 1 - alpha) of the canary's
    error ratio is above `fast_burn_factor` x budget (14.4x: a page-level burn, SRE Workbook
    table 5-8). Exact at any traffic level: 3 errors in 3 requests is already a fast burn with
    99% confidence. If the stable may burn as fast (its upper bound reaches the canary's lower
    bound, as in an incident hitting both) the canary is not to blame: PAUSE rather than roll
    back (§5 rule 5), and leave it to rule (b) to tell whether the canary is worse on top of
    the shared incident. Unlike (b), repeated looks at this bound are not corrected for; the
    line sits 14x above a healthy canary, so a healthy one essentially never crosses it.
(b) Worse than the stable. An anytime-valid sequential test rejects "the canary's error rate is
    no higher than the stable's" at level alpha, AND the observed difference p_c - p_s is at
    least one error budget. The test alone would eventually flag a harmless 1.05x ratio on big
    traffic; the materiality guard makes a rollback mean "a difference worth a budget".
(c) Excess bad events. The canary's bad events beyond what the stable's ratio predicts exceed
    the rollout's allowance (the share of the remaining budget it may spend), when one is given.
PASS when the canary has served `min_requests` and the upper `pass_confidence` bound of
p_c - p_s is below `pass_margin` budgets (2: the canary costs at most twice the budget the
service is allowed to burn). The caller advances only once the step's duration is over as well.
The bound is 95% (analysis.md §5 step 7), not 1 - alpha: alpha is the risk of a false rollback,
while the pass bound's risk is promoting a canary worse than the margin, and the regressions
that matter (+1 pp is 10 budgets) are far beyond the 2-budget margin, so a 95% bound already
leaves them no chance. A 99% bound costs a healthy canary at 5% of 100 rps about 50% more
requests before it passes, and after an incident that hit both versions (whose errors widen
the bound for the rest of the step) it kept two thirds of the simulated rollouts from passing
within 3x the step's duration (tests/bench/decision_bench.py "shared incident"; 95%: 40%).
CONTINUE otherwise. No data on either side is CONTINUE with reason NoData: silence is neither a
pass nor a failure (DESIGN §5); the caller turns a long silence into a pause.

Precedence (§5): ROLLBACK > PAUSE > CONTINUE > PASS.

The sequential test (Lindon et al., arXiv:2205.14762; Netflix "Sequential A/B Testing Keeps the
World Streaming", part 2). Between two checks the canary serves n1 requests and the stable n2,
and K of them fail. If the canary's error rate is rho times the stable's, then given n1, n2 and
K the canary's share of the errors is x ~ Bin(K, theta(rho)), theta(rho) = rho n1/(rho n1 + n2),
whatever the common rate is -- so a shared incident, a diurnal swing or a slow drift of the
baseline cancels out. The likelihood ratio of one increment against rho = 1 is
    LR_i(rho) = rho^x / (1 + theta0 (rho - 1))^K,   theta0 = n1/(n1 + n2),
and for each rho on a grid (log rho > 0) the state keeps log prod_i LR_i(rho). The e-value is the
prior-weighted mixture E_t = sum_j w_j prod_i LR_i(rho_j), uniform over the grid in log rho.

Why this is valid under peeking: under rho <= 1, E[LR_i(rho_j) | past, n1, n2, K] <= 1 for every
rho_j > 1, so each product is a nonnegative supermartingale starting at 1, and so is their
mixture. Ville's inequality gives P(sup_t E_t >= 1/alpha) <= alpha: checking after every
request, every minute or after a restart does not inflate the false-rollback rate, and rule
(b) only fires on that event. If requests fail independently with probability p in both
versions, x given K is hypergeometric rather than binomial; the hypergeometric is smaller in the
convex order (Hoeffding 1963) and LR_i is convex in x, so the bound still holds.

Why a mixture of products rather than a product of per-check mixtures (both are valid): the
product over checks of LR_i(rho) at a fixed rho is the likelihood ratio of all the data, so the
evidence does not depend on how often the controller checks; multiplying per-check mixtures
would pay the prior's averaging cost at every check and lose power the more often one looks.
The price is a state of one float per grid point (14) instead of one.

One consequence of keeping the evidence across steps: while the canary is healthy, the
products for large rho fall far below 1, and a regression that only appears at a later step
(a bug triggered at higher weight) has to climb back before rule (b) fires; rule (a) is not
affected. A caller that prefers a fresh test per step can start a new JudgeState at each step,
at the price of alpha per step instead of alpha per rollout.

The state holds high-water marks of the four counts, so every event enters the test once: a
count that drops (a Prometheus extrapolation wobble, a counter reset) adds nothing until it
passes its old mark. When the caller starts a new counting window (a new step, whose counts
start from zero), it must call `JudgeState.new_window()`, or the new step's first events are
lost until its counts pass the previous step's marks (safe, but blind for a while).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from rollout.analysis.slo import Counts, excess_bad_events
from rollout.analysis.stats import beta_ppf, binomial_lower_bound, binomial_upper_bound

__all__ = [
    "GRID_ID",
    "RHO_GRID",
    "JudgePolicy",
    "JudgeState",
    "Judgement",
    "Verdict",
    "difference_upper_bound",
    "judge",
]

Verdict = Literal["rollback", "pause", "continue", "pass"]

# Rate ratios the mixture looks for: 2^(k/2), k = 1..14, i.e. 1.41x to 128x. Neighbours are a
# factor sqrt(2) apart, close enough that the nearest point's likelihood ratio is not far below
# the best one; below 1.41x a ratio cannot be material at a baseline near the budget, and
# above 128x the likelihood at 128x is already overwhelming.
RHO_GRID: tuple[float, ...] = tuple(2.0 ** (k / 2) for k in range(1, 15))
_LOG_RHO = tuple(math.log(r) for r in RHO_GRID)
_LOG_WEIGHT = -math.log(len(RHO_GRID))  # uniform prior over the grid
# Stored with the state: a state written under another grid cannot be continued.
GRID_ID = "rho=2^(k/2),k=1..14"


@dataclass(frozen=True)
class JudgePolicy:
    """Thresholds of the step gate. Defaults: a 99.9% SLO, 1% false-rollback risk."""

    error_budget: float = 0.001
    """1 - SLO: the error ratio the service may run at."""
    alpha: float = 0.01
    """Risk of a false rollback by the sequential test; 1 - alpha is also the confidence of the
    fast-burn bounds."""
    fast_burn_factor: float = 14.4
    """Page-level burn rate: 2% of a 30-day budget in one hour."""
    min_requests: float = 200
    """Canary requests needed before a pass: a canary that served almost nothing has shown
    nothing, however clean."""
    excess_allowance: float | None = None
    """Bad events beyond the stable's ratio the rollout may cause (rule c); None: not used."""
    pass_margin: float = 2.0
    """Pass when p_c - p_s is below this many budgets with confidence `pass_confidence`."""
    pass_confidence: float = 0.95
    """Confidence of the pass bound (analysis.md §5 step 7: 95%). The module docstring says
    why not 1 - alpha."""

    def __post_init__(self) -> None:
        if not 0 < self.error_budget < 1:
            raise ValueError(f"error_budget must be in (0, 1), got {self.error_budget}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")
        if self.fast_burn_factor <= 0:
            raise ValueError(f"fast_burn_factor must be > 0, got {self.fast_burn_factor}")
        if self.min_requests < 0:
            raise ValueError(f"min_requests must be >= 0, got {self.min_requests}")
        if self.excess_allowance is not None and self.excess_allowance < 0:
            raise ValueError(f"excess_allowance must be >= 0, got {self.excess_allowance}")
        if self.pass_margin <= 0:
            raise ValueError(f"pass_margin must be > 0, got {self.pass_margin}")
        if not 0 < self.pass_confidence < 1:
            raise ValueError(f"pass_confidence must be in (0, 1), got {self.pass_confidence}")


def _zeros() -> tuple[float, ...]:
    return (0.0,) * len(RHO_GRID)


@dataclass(frozen=True)
class JudgeState:
    """What carries from one check to the next: the test's evidence and the counts already used.

    Small and serializable (`to_dict` / `from_dict`) so it can live in the Rollout status and a
    restarted controller continues the same test instead of starting a fresh one (restarting
    would be valid too, but throws the evidence away).
    """

    log_lr: tuple[float, ...] = field(default_factory=_zeros)
    """log prod_i LR_i(rho) for each rho in RHO_GRID."""
    canary_bad: float = 0.0
    canary_total: float = 0.0
    stable_bad: float = 0.0
    stable_total: float = 0.0
    """High-water marks of the counts of the current window, already in `log_lr`."""
    checks: int = 0
    """Increments with errors that entered the test (for people reading the status)."""

    def __post_init__(self) -> None:
        if len(self.log_lr) != len(RHO_GRID):
            raise ValueError(f"log_lr needs {len(RHO_GRID)} values, got {len(self.log_lr)}")

    @property
    def log_e_value(self) -> float:
        """log of the mixture e-value (log-sum-exp, so no overflow at huge evidence)."""
        top = max(self.log_lr)
        return top + math.log(sum(math.exp(v - top) for v in self.log_lr)) + _LOG_WEIGHT

    @property
    def e_value(self) -> float:
        log_e = self.log_e_value
        return math.inf if log_e > 700 else math.exp(log_e)

    def new_window(self) -> JudgeState:
        """The same evidence, counting from zero again: call when the caller's counts restart."""
        return replace(self, canary_bad=0.0, canary_total=0.0, stable_bad=0.0, stable_total=0.0)

    def to_dict(self) -> dict[str, float | str]:
        """Floats and strings only. repr() round-trips a float exactly, so a continued test is
        bit-for-bit the test that was stopped."""
        return {
            "grid": GRID_ID,
            "logLR": " ".join(repr(v) for v in self.log_lr),
            "canaryBad": float(self.canary_bad),
            "canaryTotal": float(self.canary_total),
            "stableBad": float(self.stable_bad),
            "stableTotal": float(self.stable_total),
            "checks": float(self.checks),
            # For people; ignored when read back. The log, because the e-value itself can be
            # inf, which JSON (and so the API server) cannot carry.
            "logEValue": self.log_e_value,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, object]) -> JudgeState:
        """Inverse of `to_dict`. Raises ValueError for a state from another grid or a malformed
        one: the caller should then start a new state rather than continue a different test."""
        if data.get("grid") != GRID_ID:
            raise ValueError(f"judge state is for grid {data.get('grid')!r}, not {GRID_ID!r}")
        raw = data.get("logLR")
        if not isinstance(raw, str):
            raise ValueError("judge state: logLR must be a string of floats")
        try:
            log_lr = tuple(float(v) for v in raw.split())
            counts = {
                key: float(data[key])  # type: ignore[arg-type]
                for key in (
                    "canaryBad",
                    "canaryTotal",
                    "stableBad",
                    "stableTotal",
                    "checks",
                )
            }
        except (KeyError, TypeError, ValueError) as e:
            raise ValueError(f"judge state: {e}") from e
        if not all(math.isfinite(v) for v in (*log_lr, *counts.values())):
            raise ValueError("judge state: values must be finite")
        return cls(
            log_lr=log_lr,
            canary_bad=counts["canaryBad"],
            canary_total=counts["canaryTotal"],
            stable_bad=counts["stableBad"],
            stable_total=counts["stableTotal"],
            checks=int(counts["checks"]),
        )


@dataclass(frozen=True)
class Judgement:
    verdict: Verdict
    reason: str
    """CamelCase: CanaryFastBurn, CanaryWorseThanStable, ExcessBadEvents, SharedFastBurn,
    NoData, NotEnoughEvidence, CanaryWithinMargin."""
    message: str
    """For people: the values and the thresholds that decided."""
    figures: dict[str, float | None]
    state: JudgeState
    """Pass it to the next call."""


def _advance(state: JudgeState, canary: Counts, stable: Counts) -> JudgeState:
    """Fold the events since the previous check into the test."""
    # Each count only moves forward from its high-water mark: nothing is ever counted twice.
    d_canary_total = max(0.0, canary.total - state.canary_total)
    d_stable_total = max(0.0, stable.total - state.stable_total)
    x = max(0.0, canary.bad - state.canary_bad)
    y = max(0.0, stable.bad - state.stable_bad)
    marks = replace(
        state,
        canary_bad=max(state.canary_bad, canary.bad),
        canary_total=max(state.canary_total, canary.total),
        stable_bad=max(state.stable_bad, stable.bad),
        stable_total=max(state.stable_total, stable.total),
    )
    k = x + y
    if k <= 0 or d_canary_total <= 0 or d_stable_total <= 0:
        # No errors: the conditional distribution is degenerate and LR = 1 for every rho.
        # One side without requests: theta0 is 0 or 1 and x carries no information either.
        return marks
    theta0 = d_canary_total / (d_canary_total + d_stable_total)
    log_lr = tuple(
        v + x * log_rho - k * math.log1p(theta0 * (rho - 1.0))
        for v, rho, log_rho in zip(state.log_lr, RHO_GRID, _LOG_RHO, strict=True)
    )
    return replace(marks, log_lr=log_lr, checks=state.checks + 1)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.3g}%"


def _num(value: float) -> str:
    if not math.isfinite(value) or value != round(value):
        return f"{value:,.1f}"  # increase() extrapolates to non-integers; inf prints as inf
    return f"{value:,.0f}"


def _lower_bound(counts: Counts, confidence: float) -> float:
    """Clopper-Pearson lower bound on integer counts. increase() gives non-integers; rounding
    the errors down and the requests up can only lower the bound, keeping it conservative."""
    total = math.ceil(counts.total - 1e-9)
    bad = min(math.floor(counts.bad + 1e-9), total)
    return binomial_lower_bound(bad, total, confidence)


def _upper_bound(counts: Counts, confidence: float) -> float:
    """Clopper-Pearson upper bound, rounding the other way (errors up, requests down)."""
    total = math.floor(counts.total + 1e-9)
    bad = min(math.ceil(counts.bad - 1e-9), total)
    return binomial_upper_bound(bad, total, confidence) if total > 0 else 1.0


def _jeffreys(bad: float, total: float, q: float) -> float:
    """The q-quantile of the Jeffreys posterior Beta(bad + 1/2, total - bad + 1/2)."""
    bad = min(bad, total)
    return beta_ppf(q, bad + 0.5, total - bad + 0.5)


def difference_upper_bound(canary: Counts, stable: Counts, confidence: float) -> float:
    """One-sided upper bound of p_c - p_s: MOVER with Jeffreys intervals (Newcombe 1998's
    method 10 with Jeffreys instead of Wilson limits; Fagerland, Lydersen & Laake 2015 recommend
    it for the difference of proportions). Unlike the Wald interval it behaves at zero errors,
    and unlike Clopper-Pearson limits it is not needlessly conservative, which would keep a
    healthy canary from passing for many more minutes.
    upper = d + sqrt((u_c - p_c)^2 + (p_s - l_s)^2), u_c and l_s one-sided at `confidence`."""
    p_c = canary.bad / canary.total
    p_s = stable.bad / stable.total
    u_c = 1.0 if canary.bad >= canary.total else _jeffreys(canary.bad, canary.total, confidence)
    l_s = 0.0 if stable.bad <= 0 else _jeffreys(stable.bad, stable.total, 1.0 - confidence)
    return p_c - p_s + math.hypot(max(0.0, u_c - p_c), max(0.0, p_s - l_s))


def judge(canary: Counts, stable: Counts, state: JudgeState, policy: JudgePolicy) -> Judgement:
    """Decide one check from the cumulative counts since the window (step) started.

    See the module docstring for the rules and why the sequential test stays valid however
    often this is called.
    """
    confidence = 1.0 - policy.alpha
    budget = policy.error_budget
    fast_line = policy.fast_burn_factor * budget
    e_line = 1.0 / policy.alpha
    figures: dict[str, float | None] = {
        "canaryBad": canary.bad,
        "canaryTotal": canary.total,
        "stableBad": stable.bad,
        "stableTotal": stable.total,
        "canaryRatio": canary.ratio,
        "stableRatio": stable.ratio,
        "errorBudget": budget,
        "fastBurnThreshold": fast_line,
        "eValueThreshold": e_line,
    }

    if canary.total <= 0 or stable.total <= 0:
        # Keep the state as it is: the next data's increments are measured from the same marks.
        figures["eValue"] = state.e_value
        silent = " and ".join(
            name for name, c in (("canary", canary), ("stable", stable)) if c.total <= 0
        )
        return Judgement(
            "continue",
            "NoData",
            f"no requests from the {silent} since the step started: no decision either way",
            figures,
            state,
        )

    new_state = _advance(state, canary, stable)
    p_c = canary.bad / canary.total
    p_s = stable.bad / stable.total
    diff = p_c - p_s
    e_value = new_state.e_value
    figures |= {"difference": diff, "eValue": e_value}
    counts_text = (
        f"canary {_pct(p_c)} ({_num(canary.bad)}/{_num(canary.total)}), "
        f"stable {_pct(p_s)} ({_num(stable.bad)}/{_num(stable.total)})"
    )

    def verdict(v: Verdict, reason: str, why: str) -> Judgement:
        return Judgement(v, reason, f"{why}; {counts_text}", figures, new_state)

    # (b) The canary is worse than the stable, significantly and materially.
    if e_value >= e_line and diff >= budget:
        return verdict(
            "rollback",
            "CanaryWorseThanStable",
            f"canary worse than stable: e-value {e_value:.3g} >= {e_line:.3g} (1/alpha) and "
            f"difference {_pct(diff)} >= error budget {_pct(budget)}",
        )

    # (c) The canary spent more than its share of the budget.
    if policy.excess_allowance is not None:
        excess = excess_bad_events(canary, p_s)
        figures |= {"excessBadEvents": excess, "excessAllowance": policy.excess_allowance}
        if excess > policy.excess_allowance:
            return verdict(
                "rollback",
                "ExcessBadEvents",
                f"canary caused {excess:.1f} bad events beyond the stable's ratio > allowance "
                f"{policy.excess_allowance:.1f}",
            )

    # (a) Fast burn. The lower bound never exceeds the point estimate, so skip the (costlier)
    # exact bound while the estimate itself is below the line.
    lower_c = _lower_bound(canary, confidence) if p_c > fast_line else None
    figures["canaryLowerBound"] = lower_c
    if lower_c is not None and lower_c > fast_line:
        # Blame the canary only if it burns faster than the stable could: during an incident
        # that hits both, the stable's ratio sits near the canary's and the canary's noisier
        # lower bound crossing the line says nothing about the new version.
        upper_s = _upper_bound(stable, confidence)
        figures["stableUpperBound"] = upper_s
        burn = (
            f"{confidence * 100:g}% lower bound {_pct(lower_c)} > fast-burn line {_pct(fast_line)}"
            f" ({policy.fast_burn_factor:g}x budget {_pct(budget)})"
        )
        if upper_s >= lower_c:
            # Rule (b) did not fire either, so the canary is not shown to be worse.
            return verdict(
                "pause",
                "SharedFastBurn",
                f"canary burns fast ({burn}) but the stable may burn as fast (its "
                f"{confidence * 100:g}% upper bound {_pct(upper_s)} >= the canary's lower "
                f"bound), and the canary is not shown to be worse (e-value {e_value:.3g}, "
                f"difference {_pct(diff)}): not the canary's doing",
            )
        return verdict("rollback", "CanaryFastBurn", f"canary burns fast: {burn}")

    # PASS: enough requests and the difference bounded below the margin.
    margin = policy.pass_margin * budget
    figures["passMargin"] = margin
    if canary.total < policy.min_requests:
        figures["differenceUpperBound"] = None
        return verdict(
            "continue",
            "NotEnoughEvidence",
            f"canary served {_num(canary.total)} < {_num(policy.min_requests)} requests "
            f"needed to pass; e-value {e_value:.3g} < {e_line:.3g}",
        )
    upper = difference_upper_bound(canary, stable, policy.pass_confidence)
    figures["differenceUpperBound"] = upper
    if upper < margin:
        return verdict(
            "pass",
            "CanaryWithinMargin",
            f"{policy.pass_confidence * 100:g}% upper bound of the difference {_pct(upper)} < "
            f"{policy.pass_margin:g}x budget {_pct(margin)}",
        )
    return verdict(
        "continue",
        "NotEnoughEvidence",
        f"{policy.pass_confidence * 100:g}% upper bound of the difference {_pct(upper)} >= "
        f"{policy.pass_margin:g}x budget {_pct(margin)}, e-value {e_value:.3g} < {e_line:.3g}"
        + (f" or difference {_pct(diff)} < budget" if e_value >= e_line else ""),
    )
