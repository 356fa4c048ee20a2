"""Pure-Python statistics for canary analysis: binomial bounds, proportion tests, Mann-Whitney.

The controller runs without numpy/scipy (a small image, no native wheels), so the few
distributions it needs are computed here with the `math` module alone; the tests check every
function against scipy. Formulas follow /work/shared/reference/analysis.md §2.

- The binomial tail and the Clopper-Pearson bounds both reduce to the regularized incomplete
  beta function I_x(a, b), because P[Bin(n, p) >= k] = I_p(k, n - k + 1) for 1 <= k <= n.
  I_x is evaluated with the continued fraction of Numerical Recipes (Press et al., 3rd ed.,
  §6.4, `betacf`, modified Lentz), its prefactor x^a (1-x)^b / (a B(a, b)) in log space with
  the large terms of Stirling's formula cancelled algebraically (DiDonato & Morris, ACM TOMS
  708), so n up to 10^7 neither overflows nor loses digits to lgamma(10^7) ~ 1.5e8. The fraction
  needs O(sqrt(max(a, b))) terms in the worst case, which is why the iteration cap grows with
  the parameters instead of NR 2nd edition's fixed 100.
- Beta quantiles (for Clopper-Pearson) are found by Newton's method on I_x safeguarded by a
  bisection bracket (NR §9.4, `rtsafe`): Newton alone can leave [0, 1] in the tails, bisection
  alone would cost ~60 evaluations, each of which is O(sqrt(n)) for large n.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = [
    "MannWhitney",
    "TwoProportions",
    "beta_cdf",
    "beta_ppf",
    "binomial_lower_bound",
    "binomial_sf",
    "binomial_upper_bound",
    "clopper_pearson",
    "exact_conditional_p",
    "mann_whitney_buckets",
    "normal_sf",
    "two_proportion_z",
]

_EPS = 1e-15  # relative accuracy asked of the continued fraction (close to double precision)
_TINY = 1e-300  # Lentz's guard against division by zero (NR: "FPMIN")
# Quantiles stop at this relative step: I_x itself is only good to ~1e-13 for large parameters
# (lgamma of 10^7 is 1.5e8, so its last bit is ~3e-8 absolute in the log), so asking for more
# would make Newton chase rounding noise.
_PPF_RTOL = 1e-12


def normal_sf(z: float) -> float:
    """P[Z > z] for a standard normal Z.

    Written with erfc, not 1 - Phi(z), so a large z keeps its relative accuracy (1 - Phi(8)
    would be 0 in floating point; erfc gives 6.2e-16).
    """
    return 0.5 * math.erfc(z / math.sqrt(2.0))


_HALF_LOG_2PI = 0.5 * math.log(2.0 * math.pi)


def _stirling_delta(x: float) -> float:
    """delta(x) = ln Gamma(x) - [(x - 1/2) ln x - x + ln(2 pi)/2], the Stirling remainder.

    For x >= 15 from its asymptotic series (Abramowitz & Stegun 6.1.41; the first omitted term
    is < 1e-15 there); below, from lgamma directly, whose result is then small enough to be
    accurate to ~1e-15 absolute.
    """
    if x >= 15.0:
        x2 = x * x
        return (1.0 / 12.0 - (1.0 / 360.0 - (1.0 / 1260.0 - 1.0 / (1680.0 * x2)) / x2) / x2) / x
    return math.lgamma(x) - ((x - 0.5) * math.log(x) - x + _HALF_LOG_2PI)


def _log_front(x: float, y: float, a: float, b: float) -> float:
    """ln[x^a y^b / B(a, b)] with y = 1 - x, accurate for a, b up to 10^7 and beyond.

    Naively, lgamma(a + b) - lgamma(a) - lgamma(b) subtracts numbers of size ~1.5e8 at 10^7,
    which leaves ~3e-8 of absolute error in the log, i.e. in every probability. Instead, as in
    DiDonato & Morris (ACM TOMS 708, `brcomp`), Stirling's formula is applied to all three
    gammas and the large terms cancel algebraically:
    x^a y^b / B(a, b) = (x(a+b)/a)^a (y(a+b)/b)^b sqrt(ab / (2 pi (a+b)))
                        * exp(delta(a+b) - delta(a) - delta(b)),
    and with e = x b - y a (so x(a+b)/a = 1 + e/a and y(a+b)/b = 1 - e/b) the two powers are
    a log1p(e/a) + b log1p(-e/b), whose first-order terms e and -e cancel exactly.
    """
    e = x * b - y * a
    # Far from the mean, 1 + e/a may be tiny and log1p would lose it; take logs directly.
    t1 = a * math.log1p(e / a) if abs(e) < 0.5 * a else a * (math.log(x) + math.log1p(b / a))
    t2 = b * math.log1p(-e / b) if abs(e) < 0.5 * b else b * (math.log(y) + math.log1p(a / b))
    return (
        t1
        + t2
        + 0.5 * math.log(a * b / (a + b))
        - _HALF_LOG_2PI
        + _stirling_delta(a + b)
        - _stirling_delta(a)
        - _stirling_delta(b)
    )


def _beta_cf(a: float, b: float, x: float, y: float) -> float:
    """The continued fraction for I_x(a, b), y = 1 - x (NR 3rd ed. §6.4 `betacf`, modified Lentz).

    Converges fast for x < (a + 1) / (a + b + 2); the caller uses the symmetry
    I_x(a, b) = 1 - I_{1-x}(b, a) otherwise.
    """
    qab = a + b
    qap = a + 1.0
    qam = a - 1.0
    c = 1.0
    # NR's first denominator 1 - (a+b)x/(a+1) is nearly 0 close to the switch point; when x is
    # near 1 (the symmetric branch with a huge a), (1 - b + (a+b)y)/(a+1) is the same number
    # without the cancellation.
    d = (qap - qab * x) / qap if x <= 0.5 else (1.0 - b + qab * y) / qap
    if abs(d) < _TINY:
        d = _TINY
    d = 1.0 / d
    h = d
    # Worst-case term count grows like sqrt(max(a, b)) (NR §6.4); keep a generous margin.
    max_iter = 200 + int(20 * math.sqrt(max(a, b)))
    for m in range(1, max_iter + 1):
        m2 = 2 * m
        # Even step.
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        h *= d * c
        # Odd step.
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        if abs(d) < _TINY:
            d = _TINY
        c = 1.0 + aa / c
        if abs(c) < _TINY:
            c = _TINY
        d = 1.0 / d
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < _EPS:
            return h
    raise ArithmeticError(f"incomplete beta did not converge (a={a}, b={b}, x={x})")


def _beta_tails(x: float, a: float, b: float) -> tuple[float, float]:
    """(I_x(a, b), 1 - I_x(a, b)), the smaller of the two computed directly.

    Which tail the continued fraction gives directly depends on x (NR's switch point); the
    other one is 1 minus it, accurate in absolute but not in relative terms. Returning both
    lets each caller use the one it needs without cancelling (a quantile at q = 1 - 1e-11
    needs the upper tail to 11 significant digits, not to 5).
    """
    if x <= 0.0:
        return (0.0, 1.0)
    if x >= 1.0:
        return (1.0, 0.0)
    y = 1.0 - x
    front = math.exp(_log_front(x, y, a, b))
    if x < (a + 1.0) / (a + b + 2.0):
        lower = front * _beta_cf(a, b, x, y) / a
        return (lower, 1.0 - lower)
    upper = front * _beta_cf(b, a, y, x) / b
    return (1.0 - upper, upper)


def _check_shape(a: float, b: float) -> None:
    if not (a > 0 and b > 0):
        raise ValueError(f"beta parameters must be positive (a={a}, b={b})")


def beta_cdf(x: float, a: float, b: float) -> float:
    """The regularized incomplete beta function I_x(a, b), the Beta(a, b) CDF at x."""
    _check_shape(a, b)
    return _beta_tails(x, a, b)[0]


def _beta_log_pdf(x: float, a: float, b: float) -> float:
    y = 1.0 - x
    return _log_front(x, y, a, b) - math.log(x) - math.log(y)


def beta_ppf(q: float, a: float, b: float) -> float:
    """The q-quantile of Beta(a, b): the x with I_x(a, b) = q.

    Safeguarded Newton (NR §9.4 `rtsafe`): a Newton step from the current point when it stays
    inside the bracket that still holds the root, a bisection step otherwise. The bracket
    starts at [0, 1], and I_x is increasing, so it always holds the root.
    """
    if not 0.0 <= q <= 1.0:
        raise ValueError(f"quantile level must be in [0, 1], got {q}")
    _check_shape(a, b)
    if q == 0.0:
        return 0.0
    if q == 1.0:
        return 1.0
    lo, hi = 0.0, 1.0
    x = a / (a + b)  # the mean: a sensible start, and never 0 or 1
    # Solve in the tail q lies in: for q > 1/2, 1 - q is exact (Sterbenz) and compared with the
    # directly computed upper tail, so the far upper quantiles keep their precision.
    upper_tail = q > 0.5
    target = 1.0 - q if upper_tail else q
    for _ in range(1000):
        cdf, sf = _beta_tails(x, a, b)
        f = target - sf if upper_tail else cdf - target  # increasing in x either way
        if f == 0.0:
            return x
        if f < 0.0:
            lo = x
        else:
            hi = x
        if hi - lo <= _PPF_RTOL * x:
            break
        # Newton step f / pdf, formed in log space: the pdf can over- or underflow on its own.
        log_step = math.log(abs(f)) - _beta_log_pdf(x, a, b)
        candidate = x - math.copysign(math.exp(log_step), f) if log_step < 700.0 else math.nan
        if not lo < candidate < hi:
            # Newton left the bracket (or its step overflowed): bisect, geometrically while the
            # bracket spans orders of magnitude. Small shape parameters put quantiles as far
            # down as q^(1/a) (1e-96 for q = 1e-6, a = 1/16), which halving would need
            # hundreds of steps to reach; stepping down by decades and then halving the
            # exponent gets there in a few dozen.
            if lo == 0.0:
                candidate = hi / 1024.0
            elif hi > 4.0 * lo:
                candidate = math.sqrt(lo * hi)
            else:
                candidate = 0.5 * (lo + hi)
        if candidate == 0.0:
            return 0.0  # the quantile is below the smallest positive double
        if abs(candidate - x) <= _PPF_RTOL * abs(x):
            x = candidate
            break
        x = candidate
    else:
        raise ArithmeticError(f"beta quantile did not converge (q={q}, a={a}, b={b})")
    return x


def binomial_sf(k: int, n: int, p: float) -> float:
    """P[X >= k] for X ~ Bin(n, p).

    Uses P[X >= k] = I_p(k, n - k + 1) (for 1 <= k <= n), whose prefactor is computed in log
    space: stable for n up to 10^7 and accurate in the far tail (the branch choice in
    `beta_cdf` always computes the small tail directly, never as 1 - something).
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"p must be in [0, 1], got {p}")
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    return beta_cdf(p, k, n - k + 1)


def _check_counts(k: int, n: int, confidence: float) -> None:
    if n < 0 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n, got k={k}, n={n}")
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")


def clopper_pearson(k: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """Two-sided exact (Clopper-Pearson, 1934) interval for a binomial proportion, k of n.

    lower = Beta.ppf(alpha/2; k, n-k+1), upper = Beta.ppf(1-alpha/2; k+1, n-k), with the
    conventions lower = 0 when k = 0 and upper = 1 when k = n; n = 0 gives (0, 1) (no data, no
    information). Conservative: the coverage is at least `confidence` for every p.
    """
    _check_counts(k, n, confidence)
    if n == 0:
        return (0.0, 1.0)
    alpha = 1.0 - confidence
    lower = 0.0 if k == 0 else beta_ppf(alpha / 2, k, n - k + 1)
    upper = 1.0 if k == n else beta_ppf(1.0 - alpha / 2, k + 1, n - k)
    return (lower, upper)


def binomial_lower_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided exact lower confidence bound for a binomial proportion: Beta.ppf(1-c; k, n-k+1).

    The step gate's "the canary is certainly burning fast" test (analysis.md §5, step 2):
    P[lower bound > p] <= 1 - confidence whatever the true p, so it is valid at any traffic.
    0 when k = 0 or n = 0.
    """
    _check_counts(k, n, confidence)
    if k == 0:
        return 0.0
    return beta_ppf(1.0 - confidence, k, n - k + 1)


def binomial_upper_bound(k: int, n: int, confidence: float = 0.95) -> float:
    """One-sided exact upper confidence bound: Beta.ppf(c; k+1, n-k); 1 when k = n or n = 0."""
    _check_counts(k, n, confidence)
    if k == n:
        return 1.0
    return beta_ppf(confidence, k + 1, n - k)


@dataclass(frozen=True)
class TwoProportions:
    """Result of the two-proportion z-test (group 1 = canary, group 2 = baseline)."""

    z: float
    p_value: float
    """One-sided: P[Z >= z] under "group 1 is not worse than group 2 by more than the margin"."""
    p1: float
    p2: float
    valid: bool
    """Whether the normal approximation is trustworthy: every group expects >= 5 errors and
    >= 5 successes. When False use `exact_conditional_p` (margin 0) instead."""


def two_proportion_z(
    x1: float, n1: float, x2: float, n2: float, margin: float = 0.0
) -> TwoProportions:
    """z-test of "proportion 1 exceeds proportion 2 by more than `margin`" (analysis.md §2).

    margin = 0: pooled p = (x1+x2)/(n1+n2), z = (p1-p2)/sqrt(p(1-p)(1/n1+1/n2)) -- under the
    null both groups share p, so pooling is the efficient estimate of the variance.
    margin != 0: the null is p1 - p2 = margin, the groups no longer share p, so the SE is
    unpooled: z = (p1-p2-margin)/sqrt(p1(1-p1)/n1 + p2(1-p2)/n2).

    Validity (the usual np >= 5 rule): with pooling the expected counts n_i p and n_i (1-p);
    without, the observed x_i and n_i - x_i. A zero standard error can only happen when the
    result is invalid; then z is 0 with p-value 1 if the difference is also 0 (no evidence),
    otherwise +-inf.
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"both groups need requests (n1={n1}, n2={n2})")
    if not (0 <= x1 <= n1 and 0 <= x2 <= n2):
        raise ValueError(f"need 0 <= x <= n in each group (x1={x1}, n1={n1}, x2={x2}, n2={n2})")
    p1 = x1 / n1
    p2 = x2 / n2
    numerator = p1 - p2 - margin
    if margin == 0.0:
        pooled = (x1 + x2) / (n1 + n2)
        variance = pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)
        valid = all(n * pooled >= 5 and n * (1.0 - pooled) >= 5 for n in (n1, n2))
    else:
        variance = p1 * (1.0 - p1) / n1 + p2 * (1.0 - p2) / n2
        valid = all(x >= 5 and n - x >= 5 for x, n in ((x1, n1), (x2, n2)))
    if variance <= 0.0:
        if numerator == 0.0:
            return TwoProportions(z=0.0, p_value=1.0, p1=p1, p2=p2, valid=False)
        z = math.copysign(math.inf, numerator)
        return TwoProportions(z=z, p_value=normal_sf(z), p1=p1, p2=p2, valid=False)
    z = numerator / math.sqrt(variance)
    return TwoProportions(z=z, p_value=normal_sf(z), p1=p1, p2=p2, valid=valid)


def exact_conditional_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided exact conditional test that group 1 has the higher error rate.

    Given K = x1 + x2 errors in total, under equal rates each error falls in group 1 with
    probability n1/(n1+n2), so p = P[Bin(K, n1/(n1+n2)) >= x1] (analysis.md §2; the rate-ratio
    form of Lindon et al. with rho = 1). Valid at any count, unlike the z-test.
    """
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"both groups need requests (n1={n1}, n2={n2})")
    if x1 < 0 or x2 < 0:
        raise ValueError(f"error counts must be >= 0 (x1={x1}, x2={x2})")
    return binomial_sf(x1, x1 + x2, n1 / (n1 + n2))


@dataclass(frozen=True)
class MannWhitney:
    """Mann-Whitney U of canary (group 1) against baseline (group 2)."""

    u: float
    """U1 = R1 - n1(n1+1)/2: pairs where the canary is slower, ties counting one half."""
    z: float
    p_value: float
    """One-sided, "the canary is slower", continuity-corrected; 1.0 when sigma = 0."""
    cles: float
    """Common-language effect size A = U1/(n1 n2): P[canary slower] + P[tie]/2 (0.5 = none)."""
    n1: float
    n2: float


# Cumulative counts from increase() over separate bucket series can dip by rounding; a dip this
# small (relative to the total) is treated as zero, a larger one is a data problem.
_MONOTONE_TOLERANCE = 1e-9


def _decumulate(name: str, buckets: Sequence[tuple[float, float]]) -> list[float]:
    counts: list[float] = []
    previous = 0.0
    total = buckets[-1][1]
    for le, cumulative in buckets:
        if not math.isfinite(cumulative) or cumulative < 0:
            raise ValueError(f"{name}: bucket le={le} has count {cumulative}, not a count")
        delta = cumulative - previous
        if delta < 0:
            if -delta > _MONOTONE_TOLERANCE * max(1.0, total):
                raise ValueError(
                    f"{name}: cumulative counts decrease at le={le} ({previous} -> {cumulative})"
                )
            delta = 0.0
        counts.append(delta)
        previous = max(previous, cumulative)
    return counts


def _check_edges(
    canary: Sequence[tuple[float, float]], baseline: Sequence[tuple[float, float]]
) -> None:
    if not canary or not baseline:
        raise ValueError(
            "histogram buckets: canary and baseline both need at least the +Inf bucket"
        )
    edges = [le for le, _ in canary]
    if edges != [le for le, _ in baseline]:
        raise ValueError("histogram buckets: canary and baseline have different bucket edges")
    if edges[-1] != math.inf:
        raise ValueError(f"histogram buckets: the last edge must be +Inf, got {edges[-1]}")
    if any(math.isnan(le) for le in edges):
        raise ValueError("histogram buckets: an edge is NaN")
    if any(b <= a for a, b in itertools.pairwise(edges)):
        raise ValueError("histogram buckets: edges must be strictly increasing")


def mann_whitney_buckets(
    canary: Sequence[tuple[float, float]], baseline: Sequence[tuple[float, float]]
) -> MannWhitney:
    """Mann-Whitney U test on two Prometheus histograms, each request an ordinal observation.

    Inputs are CUMULATIVE buckets [(le, count)] with the same edges and +Inf last, as
    `sum by (le)(increase(x_bucket[...]))` returns them. Per analysis.md §2: de-cumulate to
    a_j (canary) and b_j (baseline); every request in bucket j ties with the t_j = a_j + b_j
    others there, so it gets the midrank C_{j-1} + (t_j + 1)/2, C the pooled cumulative count.
    R1 = sum a_j rank_j, U1 = R1 - n1(n1+1)/2, mu = n1 n2 / 2,
    sigma^2 = (n1 n2 / 12) [(N+1) - sum(t_j^3 - t_j) / (N(N-1))],
    z = (U1 - mu - 0.5)/sigma, p = 1 - Phi(z) (one-sided: canary larger, i.e. slower).
    This is exactly `scipy.stats.mannwhitneyu(alternative="greater", method="asymptotic")` on
    the expanded per-request data, without expanding it; resolution is limited to the bucket
    edges. Counts may be non-integer (increase() extrapolates). sigma = 0 (every request in one
    bucket) means "no difference", p = 1.

    Raises ValueError for mismatched or malformed buckets, and when either side has no
    requests (no data is not "no difference": the caller must report it as such).
    """
    _check_edges(canary, baseline)
    a = _decumulate("canary", canary)
    b = _decumulate("baseline", baseline)
    n1 = sum(a)
    n2 = sum(b)
    if n1 <= 0 or n2 <= 0:
        raise ValueError(f"histogram buckets: no requests (canary {n1:g}, baseline {n2:g})")
    big_n = n1 + n2
    below = 0.0
    r1 = 0.0
    ties = 0.0
    for a_j, b_j in zip(a, b, strict=True):
        t_j = a_j + b_j
        r1 += a_j * (below + (t_j + 1.0) / 2.0)
        ties += t_j**3 - t_j
        below += t_j
    u1 = r1 - n1 * (n1 + 1.0) / 2.0
    mu = n1 * n2 / 2.0
    tie_term = ties / (big_n * (big_n - 1.0)) if big_n > 1 else 0.0
    variance = n1 * n2 / 12.0 * ((big_n + 1.0) - tie_term)
    cles = u1 / (n1 * n2)
    # Rounding can leave a tiny positive variance when every request ties; compare with the
    # scale of the untied variance rather than with 0.
    if variance <= 1e-12 * n1 * n2 * (big_n + 1.0) / 12.0:
        return MannWhitney(u=u1, z=0.0, p_value=1.0, cles=cles, n1=n1, n2=n2)
    z = (u1 - mu - 0.5) / math.sqrt(variance)
    return MannWhitney(u=u1, z=z, p_value=normal_sf(z), cles=cles, n1=n1, n2=n2)
