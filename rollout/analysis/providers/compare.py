"""`compare`: is the canary slower than the baseline? Two tests on histogram buckets.

Both sides' latency histograms (Prometheus buckets, counted since the analysis run started) are
read as per-request ordinal data (analysis.md section 5, rule 4):
- **the whole distribution**: a one-sided Mann-Whitney U test (mann_whitney_buckets;
  tie-corrected) with p < alpha AND effect A = P(canary request slower) >= minEffect (0.56,
  "small"). It sees a shift of most requests (+50 ms on everything);
- **the tail**: the share of requests above the baseline's p99 bucket edge, canary against
  baseline, one-sided (two-proportion z when every cell expects >= 5, the exact conditional
  binomial test otherwise) with p < alpha. It sees the slowest 1 % getting slower, which a
  rank test over all requests barely notices.
Either fails the canary only if the p99 also moved by more than max(minP99DeltaSeconds,
minP99Ratio x baseline p99) (50 ms, 10 %), so a statistically sure but harmless shift never
rolls back.
Too few requests on either side (minRequests) is NoData: never a pass, never a failure.

The comparison is against whatever `baseline` selects: the stable revision's pods (`$stable`)
by default, or a baseline revision's when the metrics carry one. Validity: requests are treated
as independent; resolution is limited by the bucket edges (docs: analysis.md section 2).
"""

from __future__ import annotations

import math
from string import Template
from typing import ClassVar

from pydantic import BaseModel

from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.analysis.providers.prometheus import PrometheusProvider
from rollout.analysis.slo import format_window
from rollout.analysis.stats import exact_conditional_p, mann_whitney_buckets, two_proportion_z
from rollout.models.analysis import CompareMetric
from rollout.models.analysis_status import Measurement

MIN_WINDOW = 60


def quantile(buckets: list[tuple[float, float]], q: float) -> float | None:
    """Prometheus' histogram_quantile over cumulative buckets (linear within a bucket; the
    +Inf bucket answers with the highest finite edge)."""
    total = buckets[-1][1]
    if total <= 0:
        return None
    rank = q * total
    lower_edge, lower_count = 0.0, 0.0
    for edge, count in buckets:
        if count >= rank:
            if math.isinf(edge):
                return lower_edge
            if count == lower_count:
                return edge
            return lower_edge + (edge - lower_edge) * (rank - lower_count) / (count - lower_count)
        lower_edge, lower_count = edge, count
    return lower_edge


class CompareProvider:
    name: ClassVar[str] = "compare"
    config_model: ClassVar[type[BaseModel]] = CompareMetric

    def __init__(self, kube: object) -> None:
        self._prometheus = PrometheusProvider(kube)  # its connection handling and client cache

    def measure(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        assert isinstance(config, CompareMetric)
        client = self._prometheus.client_for(config, ctx)
        if isinstance(client, Observation):
            return client
        started = ctx.run_started or ctx.now
        window = max(MIN_WINDOW, math.ceil((ctx.now - started).total_seconds()))
        sides = []
        for query in (config.canary, config.baseline):
            promql = Template(query).safe_substitute(
                window=format_window(window),
                revision=ctx.revision,
                stable=ctx.stable_revision,
                baseline=f"{ctx.stable_revision}-baseline",
                namespace=ctx.namespace,
            )
            got = client.buckets(promql, ctx.now)
            if isinstance(got, Observation):
                return got
            sides.append(got)
        return judge_latency(sides[0], sides[1], config)

    def terminate(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> None:
        """Nothing runs between measurements."""

    def close(self) -> None:
        self._prometheus.close()


def judge_latency(
    canary: list[tuple[float, float]], baseline: list[tuple[float, float]], config: CompareMetric
) -> Observation:
    """The verdict on two sides' cumulative buckets (pure; see the module docstring)."""
    n_canary, n_baseline = canary[-1][1], baseline[-1][1]
    if min(n_canary, n_baseline) < config.min_requests:
        return Observation(
            Outcome.NO_DATA,
            message=(
                f"too few requests to compare ({n_canary:.0f} canary, {n_baseline:.0f} baseline; "
                f"{config.min_requests} each needed)"
            ),
        )
    try:
        test = mann_whitney_buckets(canary, baseline)
    except ValueError as err:
        return Observation(Outcome.ERROR, message=f"cannot compare the histograms: {err}")
    p99_c, p99_b = quantile(canary, 0.99), quantile(baseline, 0.99)
    assert p99_c is not None and p99_b is not None  # both sides have requests
    allowed = max(config.min_p99_delta_seconds, config.min_p99_ratio * p99_b)
    delta = p99_c - p99_b
    figures = (
        f"A={test.cles:.3f}, p={test.p_value:.3g}, p99 {p99_c * 1000:.0f} ms vs "
        f"{p99_b * 1000:.0f} ms ({n_canary:.0f} vs {n_baseline:.0f} requests)"
    )
    metadata = {
        "cles": f"{test.cles:.4f}",
        "pValue": f"{test.p_value:.4g}",
        "p99Canary": f"{p99_c:.4g}",
        "p99Baseline": f"{p99_b:.4g}",
    }
    tail_p, slow_c, slow_b = tail_test(canary, baseline, p99_b)
    metadata["tailPValue"] = f"{tail_p:.4g}"
    figures += f"; above the baseline's p99 edge: {slow_c:.2%} vs {slow_b:.2%} (p={tail_p:.3g})"
    shifted = test.p_value < config.alpha and test.cles >= config.min_effect
    slower = (shifted or tail_p < config.alpha) and delta > allowed
    if slower:
        return Observation(
            Outcome.FAILED,
            display=f"{test.cles:.3f}",
            message=(
                f"canary slower: {figures}; "
                f"{'A >= ' + format(config.min_effect, 'g') + ' and ' if shifted else ''}"
                f"p < {config.alpha:g}, p99 +{delta * 1000:.0f} ms > {allowed * 1000:.0f} ms"
            ),
            metadata=metadata,
        )
    return Observation(
        Outcome.SUCCEEDED,
        display=f"{test.cles:.3f}",
        message=f"not materially slower: {figures}",
        metadata=metadata,
    )


def tail_test(
    canary: list[tuple[float, float]], baseline: list[tuple[float, float]], p99: float
) -> tuple[float, float, float]:
    """(one-sided p, canary slow share, baseline slow share), "slow" being above the smallest
    bucket edge at or beyond the baseline's p99."""
    edge = next(le for le, _ in baseline if le >= p99)
    n_c, n_b = canary[-1][1], baseline[-1][1]
    fast_c = next(count for le, count in canary if le == edge)
    fast_b = next(count for le, count in baseline if le == edge)
    slow_c, slow_b = max(0.0, n_c - fast_c), max(0.0, n_b - fast_b)
    test = two_proportion_z(slow_c, n_c, slow_b, n_b)
    if test.valid:
        p = test.p_value
    else:
        p = exact_conditional_p(round(slow_c), round(n_c), round(slow_b), round(n_b))
    return p, slow_c / n_c, slow_b / n_b
