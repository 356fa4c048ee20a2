"""rollout.analysis.stats against scipy (test-only) and the formulas of analysis.md §2."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as ss

from rollout.analysis.stats import (
    beta_cdf,
    beta_ppf,
    binomial_lower_bound,
    binomial_sf,
    binomial_upper_bound,
    clopper_pearson,
    exact_conditional_p,
    mann_whitney_buckets,
    normal_sf,
    two_proportion_z,
)

# Our quantiles are good to ~1e-10 relative up to n = 10^7 (scipy's own agree with each other
# to about 1e-11 there); 1e-8 leaves margin without hiding a real error.
RTOL = 1e-8
CONFIDENCES = st.sampled_from([0.5, 0.8, 0.9, 0.95, 0.99, 0.999, 0.999999])


@st.composite
def k_and_n(draw: st.DrawFn, max_n: int = 10**6) -> tuple[int, int]:
    """n over several orders of magnitude; k often at the edges 0 and n and near them."""
    n = draw(st.one_of(st.integers(1, 50), st.integers(1, max_n)))
    k = draw(
        st.one_of(
            st.just(0),
            st.just(n),
            st.integers(0, n),
            st.integers(0, min(n, 5)),
            st.integers(max(0, n - 5), n),
        )
    )
    return k, n


def scipy_clopper_pearson(k: int, n: int, confidence: float) -> tuple[float, float]:
    alpha = 1 - confidence
    lower = 0.0 if k == 0 else float(ss.beta.ppf(alpha / 2, k, n - k + 1))
    upper = 1.0 if k == n else float(ss.beta.ppf(1 - alpha / 2, k + 1, n - k))
    return lower, upper


# --- normal and beta building blocks ---


@given(st.floats(-40, 40))
def test_normal_sf_matches_scipy(z: float) -> None:
    assert normal_sf(z) == pytest.approx(float(ss.norm.sf(z)), rel=1e-12, abs=1e-300)


def test_normal_sf_keeps_the_far_tail() -> None:
    # 1 - Phi(9) underflows to 0 if computed as a difference; erfc keeps it.
    assert normal_sf(9.0) == pytest.approx(1.1285884059538324e-19, rel=1e-12)


@settings(max_examples=300, deadline=None)
@given(
    st.floats(0.05, 1e6),
    st.floats(0.05, 1e6),
    st.floats(0.0, 1.0, exclude_min=True, exclude_max=True),
)
def test_beta_cdf_matches_scipy(a: float, b: float, x: float) -> None:
    assert beta_cdf(x, a, b) == pytest.approx(float(ss.beta.cdf(x, a, b)), rel=1e-8, abs=1e-13)


@settings(max_examples=200, deadline=None)
@given(st.floats(0.05, 1e6), st.floats(0.05, 1e6), st.floats(1e-6, 1 - 1e-6))
def test_beta_ppf_inverts_the_cdf_and_matches_scipy(a: float, b: float, q: float) -> None:
    x = beta_ppf(q, a, b)
    assert x == pytest.approx(float(ss.beta.ppf(q, a, b)), rel=1e-8, abs=1e-300)
    assert 0.0 <= x <= 1.0


def test_beta_edges_and_errors() -> None:
    assert beta_cdf(0.0, 2, 3) == 0.0
    assert beta_cdf(1.0, 2, 3) == 1.0
    assert beta_ppf(0.0, 2, 3) == 0.0
    assert beta_ppf(1.0, 2, 3) == 1.0
    with pytest.raises(ValueError, match="positive"):
        beta_cdf(0.5, 0, 1)
    with pytest.raises(ValueError, match="quantile"):
        beta_ppf(1.5, 1, 1)


# --- Clopper-Pearson ---


@settings(max_examples=300, deadline=None)
@given(k_and_n(), CONFIDENCES)
def test_clopper_pearson_matches_scipy(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    lower, upper = clopper_pearson(k, n, confidence)
    ref_lower, ref_upper = scipy_clopper_pearson(k, n, confidence)
    assert lower == pytest.approx(ref_lower, rel=RTOL, abs=1e-300)
    assert upper == pytest.approx(ref_upper, rel=RTOL)
    # The exact interval always contains the point estimate.
    assert lower <= k / n <= upper


@settings(max_examples=40, deadline=None)
@given(k_and_n(max_n=10**7), CONFIDENCES)
def test_clopper_pearson_up_to_ten_million(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    lower, upper = clopper_pearson(k, n, confidence)
    ref_lower, ref_upper = scipy_clopper_pearson(k, n, confidence)
    assert lower == pytest.approx(ref_lower, rel=RTOL, abs=1e-300)
    assert upper == pytest.approx(ref_upper, rel=RTOL)


@pytest.mark.parametrize(
    ("k", "n"),
    [(1, 10**7), (3, 10**7), (5 * 10**6, 10**7), (10**7 - 1, 10**7), (17, 123_456), (1000, 10**6)],
)
def test_clopper_pearson_large_n_examples(k: int, n: int) -> None:
    lower, upper = clopper_pearson(k, n)
    ref_lower, ref_upper = scipy_clopper_pearson(k, n, 0.95)
    assert lower == pytest.approx(ref_lower, rel=RTOL)
    assert upper == pytest.approx(ref_upper, rel=RTOL)


def test_clopper_pearson_edges() -> None:
    assert clopper_pearson(0, 0) == (0.0, 1.0)
    lower, upper = clopper_pearson(0, 10)
    assert lower == 0.0
    # k = 0: the upper end solves (1-p)^n = alpha/2.
    assert upper == pytest.approx(1 - 0.025 ** (1 / 10), rel=1e-12)
    lower, upper = clopper_pearson(10, 10)
    assert upper == 1.0
    assert lower == pytest.approx(0.025 ** (1 / 10), rel=1e-12)


@pytest.mark.parametrize(
    ("k", "n", "confidence"), [(-1, 10, 0.95), (11, 10, 0.95), (1, 10, 1.0), (1, 10, 0.0)]
)
def test_clopper_pearson_rejects_nonsense(k: int, n: int, confidence: float) -> None:
    with pytest.raises(ValueError):
        clopper_pearson(k, n, confidence)


@settings(max_examples=200, deadline=None)
@given(k_and_n(), CONFIDENCES)
def test_one_sided_bounds_match_scipy(kn: tuple[int, int], confidence: float) -> None:
    k, n = kn
    lower = binomial_lower_bound(k, n, confidence)
    upper = binomial_upper_bound(k, n, confidence)
    ref_lower = 0.0 if k == 0 else float(ss.beta.ppf(1 - confidence, k, n - k + 1))
    ref_upper = 1.0 if k == n else float(ss.beta.ppf(confidence, k + 1, n - k))
    assert lower == pytest.approx(ref_lower, rel=RTOL, abs=1e-300)
    assert upper == pytest.approx(ref_upper, rel=RTOL)
    # A one-sided bound at c is the two-sided bound at 2c - 1.
    if confidence > 0.5:
        two_sided = clopper_pearson(k, n, 2 * confidence - 1)
        assert lower == pytest.approx(two_sided[0], rel=1e-9, abs=1e-300)
        assert upper == pytest.approx(two_sided[1], rel=1e-9)


def test_lower_bound_edges() -> None:
    assert binomial_lower_bound(0, 1000) == 0.0
    assert binomial_lower_bound(0, 0) == 0.0
    assert binomial_upper_bound(0, 0) == 1.0
    # k = n: the one-sided lower bound solves p^n = 1 - c.
    assert binomial_lower_bound(20, 20, 0.95) == pytest.approx(0.05 ** (1 / 20), rel=1e-12)


def test_lower_bound_step_gate_example() -> None:
    """DESIGN §5 step 2 at SLO 99.9: 14.4x the budget is a 1.44% error ratio. 3 errors in 20
    requests is certainly above it (lower bound 4.2%); 1 in 20 is not (0.26%)."""
    threshold = 14.4 * 0.001
    assert binomial_lower_bound(3, 20) > threshold
    assert binomial_lower_bound(1, 20) < threshold


# --- binomial tail ---


@settings(max_examples=300, deadline=None)
@given(
    st.integers(0, 10**6),
    st.one_of(
        st.floats(0.0, 1.0),
        st.floats(1e-9, 1e-2),
        st.floats(0.99, 1.0),
        st.sampled_from([0.0, 1.0]),
    ),
    st.data(),
)
def test_binomial_sf_matches_scipy(n: int, p: float, data: st.DataObject) -> None:
    mean = int(n * p)
    k = data.draw(
        st.one_of(
            st.integers(-2, n + 2),
            st.integers(max(0, mean - 50), min(n, mean + 50)),
            st.integers(0, min(n, 10)),
        )
    )
    ours = binomial_sf(k, n, p)
    ref = float(ss.binom.sf(k - 1, n, p))
    assert 0.0 <= ours <= 1.0
    if ref > 1e-280:
        assert ours == pytest.approx(ref, rel=1e-8)
    else:
        assert ours < 1e-270


def test_binomial_sf_far_tail_keeps_relative_accuracy() -> None:
    # 1,000 errors at a 0.05% rate over a million requests: the mean is 500, so this tail is
    # astronomically small; it must not round to 0 or come out as 1 - (1 - tiny).
    assert binomial_sf(1000, 10**6, 0.0005) == pytest.approx(
        float(ss.binom.sf(999, 10**6, 0.0005)), rel=1e-9
    )
    assert binomial_sf(300, 10**7, 1e-5) == pytest.approx(
        float(ss.binom.sf(299, 10**7, 1e-5)), rel=1e-8
    )


def test_binomial_sf_edges() -> None:
    assert binomial_sf(0, 10, 0.3) == 1.0
    assert binomial_sf(-5, 10, 0.3) == 1.0
    assert binomial_sf(11, 10, 0.3) == 0.0
    assert binomial_sf(1, 10, 0.0) == 0.0
    assert binomial_sf(10, 10, 1.0) == 1.0
    assert binomial_sf(10, 10, 0.5) == pytest.approx(0.5**10, rel=1e-13)
    with pytest.raises(ValueError):
        binomial_sf(1, 10, 1.5)
    with pytest.raises(ValueError):
        binomial_sf(1, -1, 0.5)


# --- two proportions ---


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 10**6), st.data())
def test_pooled_z_squared_is_the_chi_square_statistic(
    n1: int, n2: int, data: st.DataObject
) -> None:
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    assume(0 < x1 + x2 < n1 + n2)  # otherwise the table has a zero margin
    result = two_proportion_z(x1, n1, x2, n2)
    table = [[x1, n1 - x1], [x2, n2 - x2]]
    chi2 = float(ss.chi2_contingency(table, correction=False)[0])
    assert result.z**2 == pytest.approx(chi2, rel=1e-7, abs=1e-9)
    assert result.p_value == pytest.approx(float(ss.norm.sf(result.z)), rel=1e-9, abs=1e-300)
    assert (result.z > 0) == (x1 / n1 > x2 / n2)


def test_pooled_z_hand_computed() -> None:
    # canary 30/10,000 vs baseline 10/10,000: p = 0.002, SE = sqrt(0.002 * 0.998 * 2e-4).
    result = two_proportion_z(30, 10_000, 10, 10_000)
    se = math.sqrt(0.002 * 0.998 * 2e-4)
    assert result.z == pytest.approx(0.002 / se, rel=1e-12)
    assert result.p_value == pytest.approx(float(ss.norm.sf(0.002 / se)), rel=1e-10)
    assert result.p1 == pytest.approx(0.003)
    assert result.p2 == pytest.approx(0.001)
    assert result.valid  # expected errors 20 per arm, >= 5


def test_margin_uses_the_unpooled_standard_error() -> None:
    result = two_proportion_z(30, 10_000, 10, 10_000, margin=0.001)
    se = math.sqrt(0.003 * 0.997 / 10_000 + 0.001 * 0.999 / 10_000)
    assert result.z == pytest.approx((0.002 - 0.001) / se, rel=1e-12)
    assert result.p_value == pytest.approx(float(ss.norm.sf((0.002 - 0.001) / se)), rel=1e-10)
    assert result.valid


def test_validity_needs_five_expected_errors_per_group() -> None:
    # At 0.1%, 5 expected errors need 5,000 requests per arm (analysis.md §2).
    assert not two_proportion_z(4, 4_000, 4, 4_000).valid
    assert two_proportion_z(5, 5_000, 5, 5_000).valid
    # With a margin, the observed counts decide.
    assert not two_proportion_z(4, 5_000, 50, 5_000, margin=0.001).valid
    assert two_proportion_z(5, 5_000, 50, 5_000, margin=0.001).valid
    # ... and successes count too.
    assert not two_proportion_z(98, 100, 97, 100).valid


def test_zero_standard_error() -> None:
    none = two_proportion_z(0, 100, 0, 100)
    assert (none.z, none.p_value, none.valid) == (0.0, 1.0, False)
    worse = two_proportion_z(100, 100, 0, 100, margin=0.5)
    assert worse.z == math.inf
    assert worse.p_value == 0.0
    assert not worse.valid


def test_two_proportions_rejects_empty_groups() -> None:
    with pytest.raises(ValueError, match="requests"):
        two_proportion_z(0, 0, 1, 10)
    with pytest.raises(ValueError):
        two_proportion_z(11, 10, 1, 10)


@settings(max_examples=300, deadline=None)
@given(st.integers(1, 10**6), st.integers(1, 10**6), st.integers(0, 200), st.integers(0, 200))
def test_exact_conditional_matches_scipy_binomtest(n1: int, n2: int, x1: int, x2: int) -> None:
    assume(x1 <= n1 and x2 <= n2)
    ours = exact_conditional_p(x1, n1, x2, n2)
    if x1 + x2 == 0:
        assert ours == 1.0
        return
    ref = ss.binomtest(x1, x1 + x2, n1 / (n1 + n2), alternative="greater").pvalue
    assert ours == pytest.approx(float(ref), rel=1e-8, abs=1e-300)


def test_exact_conditional_hand_computed() -> None:
    # Equal arms, 5 errors all in the canary: P[Bin(5, 1/2) >= 5] = 1/32.
    assert exact_conditional_p(5, 1000, 0, 1000) == pytest.approx(1 / 32, rel=1e-13)
    # No errors anywhere: no evidence at all.
    assert exact_conditional_p(0, 1000, 0, 1000) == 1.0


# --- Mann-Whitney on histogram buckets ---

EDGES = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, math.inf]


def cumulative(counts: list[int], edges: list[float] = EDGES) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    running = 0
    for le, c in zip(edges, counts, strict=True):
        running += c
        out.append((le, float(running)))
    return out


def expand(counts: list[int]) -> np.ndarray:
    """Per-request data: each request's value is its bucket's index (only the order matters)."""
    return np.repeat(np.arange(len(counts)), counts)


bucket_counts = st.lists(st.integers(0, 60), min_size=len(EDGES), max_size=len(EDGES))


@settings(max_examples=300, deadline=None)
@given(bucket_counts, bucket_counts)
def test_mann_whitney_matches_scipy_on_expanded_data(
    canary: list[int], baseline: list[int]
) -> None:
    assume(sum(canary) > 0 and sum(baseline) > 0)
    result = mann_whitney_buckets(cumulative(canary), cumulative(baseline))
    x, y = expand(canary), expand(baseline)
    assert (result.n1, result.n2) == (len(x), len(y))
    u_ref = ss.mannwhitneyu(x, y, alternative="greater", method="asymptotic").statistic
    assert result.u == pytest.approx(float(u_ref), rel=1e-12)
    assert result.cles == pytest.approx(float(u_ref) / (len(x) * len(y)), rel=1e-12)
    if len(set(x.tolist()) | set(y.tolist())) == 1:
        # All requests in one bucket: sigma = 0, which is "no difference".
        assert result.p_value == 1.0
        return
    p_ref = ss.mannwhitneyu(
        x, y, alternative="greater", method="asymptotic", use_continuity=True
    ).pvalue
    assert result.p_value == pytest.approx(float(p_ref), rel=1e-9, abs=1e-15)


def test_mann_whitney_large_counts_match_scipy() -> None:
    canary = [20_000, 150_000, 300_000, 250_000, 150_000, 80_000, 30_000, 15_000, 5_000]
    baseline = [22_000, 160_000, 305_000, 245_000, 145_000, 75_000, 28_000, 14_000, 6_000]
    result = mann_whitney_buckets(cumulative(canary), cumulative(baseline))
    ref = ss.mannwhitneyu(
        expand(canary), expand(baseline), alternative="greater", method="asymptotic"
    )
    assert result.u == pytest.approx(float(ref.statistic), rel=1e-12)
    assert result.p_value == pytest.approx(float(ref.pvalue), rel=1e-6)


def test_mann_whitney_detects_a_slower_canary() -> None:
    baseline = [100, 300, 400, 150, 40, 10, 0, 0, 0]
    slower = [0, 100, 300, 400, 150, 40, 10, 0, 0]  # everything one bucket later
    result = mann_whitney_buckets(cumulative(slower), cumulative(baseline))
    assert result.p_value < 1e-10
    assert result.cles > 0.64  # a "large" effect by the CLES conventions of analysis.md §2
    # The other way round the one-sided test sees nothing.
    reverse = mann_whitney_buckets(cumulative(baseline), cumulative(slower))
    assert reverse.p_value > 0.99
    assert reverse.cles == pytest.approx(1 - result.cles, rel=1e-12)


def test_mann_whitney_identical_histograms() -> None:
    same = [10, 20, 30, 20, 10, 5, 3, 1, 1]
    result = mann_whitney_buckets(cumulative(same), cumulative(same))
    assert result.cles == pytest.approx(0.5)
    assert result.z == pytest.approx(-0.5 / math.sqrt(_tie_variance(same, same)), rel=1e-12)
    assert result.p_value > 0.5


def _tie_variance(a: list[int], b: list[int]) -> float:
    n1, n2 = sum(a), sum(b)
    n = n1 + n2
    ties = sum((x + y) ** 3 - (x + y) for x, y in zip(a, b, strict=True))
    return n1 * n2 / 12 * ((n + 1) - ties / (n * (n - 1)))


def test_mann_whitney_all_in_one_bucket_is_no_difference() -> None:
    counts = [0, 0, 50, 0, 0, 0, 0, 0, 0]
    result = mann_whitney_buckets(cumulative(counts), cumulative([0, 0, 70, 0, 0, 0, 0, 0, 0]))
    assert result.p_value == 1.0
    assert result.z == 0.0
    assert result.cles == pytest.approx(0.5)


def test_mann_whitney_accepts_non_integer_counts() -> None:
    """increase() extrapolates to non-integer counts; scaling every count scales U by the square
    of the factor and leaves the effect size unchanged."""
    canary = [10, 20, 30, 20, 10, 5, 3, 1, 1]
    baseline = [12, 25, 30, 18, 8, 4, 2, 1, 0]
    whole = mann_whitney_buckets(cumulative(canary), cumulative(baseline))
    scaled = mann_whitney_buckets(
        [(le, c * 1.5) for le, c in cumulative(canary)],
        [(le, c * 1.5) for le, c in cumulative(baseline)],
    )
    assert scaled.u == pytest.approx(whole.u * 2.25, rel=1e-12)
    assert scaled.cles == pytest.approx(whole.cles, rel=1e-12)


def test_mann_whitney_tolerates_rounding_dips_only() -> None:
    ok = [(0.1, 10.0), (0.5, 9.9999999999), (math.inf, 20.0)]
    assert mann_whitney_buckets(ok, cumulative([5, 5, 5], [0.1, 0.5, math.inf])).n1 == 20.0
    with pytest.raises(ValueError, match=r"decrease at le=0\.5"):
        mann_whitney_buckets(
            [(0.1, 10.0), (0.5, 9.0), (math.inf, 20.0)],
            cumulative([5, 5, 5], [0.1, 0.5, math.inf]),
        )


@pytest.mark.parametrize(
    ("canary", "baseline", "problem"),
    [
        ([(0.1, 1.0), (math.inf, 2.0)], [(0.2, 1.0), (math.inf, 2.0)], "different bucket edges"),
        ([(0.1, 1.0), (math.inf, 2.0)], [(0.1, 1.0)], "different bucket edges"),
        ([(0.1, 1.0), (1.0, 2.0)], [(0.1, 1.0), (1.0, 2.0)], r"\+Inf"),
        (
            [(0.5, 1.0), (0.1, 1.0), (math.inf, 2.0)],
            [(0.5, 1.0), (0.1, 1.0), (math.inf, 2.0)],
            "strictly increasing",
        ),
        ([], [], "at least"),
        ([(0.1, math.nan), (math.inf, 2.0)], [(0.1, 1.0), (math.inf, 2.0)], "not a count"),
        ([(0.1, -1.0), (math.inf, 2.0)], [(0.1, 1.0), (math.inf, 2.0)], "not a count"),
        ([(0.1, 0.0), (math.inf, 0.0)], [(0.1, 1.0), (math.inf, 2.0)], "no requests"),
    ],
)
def test_mann_whitney_names_the_problem(
    canary: list[tuple[float, float]], baseline: list[tuple[float, float]], problem: str
) -> None:
    with pytest.raises(ValueError, match=problem):
        mann_whitney_buckets(canary, baseline)
