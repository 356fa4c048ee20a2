"""`compare`: canary vs baseline latency (Mann-Whitney U on histogram buckets) against the real
Prometheus loaded with the scenarios: the slow canary fails, the healthy one does not, and an
idle canary is NoData."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta

import pytest

from rollout.analysis.provider import Outcome
from rollout.analysis.providers.compare import CompareProvider, judge_latency, quantile
from rollout.models.analysis import CompareMetric
from tests.analysis.conftest import LoadedPrometheus
from tests.analysis.provider_tools import context

BUCKETS = "sum by (le) (increase(http_request_duration_seconds_bucket{{{sel}}}[$window]))"


def config(scenario: str, **fields: object) -> CompareMetric:
    def side(version: str) -> str:
        return BUCKETS.format(sel=f'scenario="{scenario}",version="{version}"')

    return CompareMetric.model_validate(
        {"canary": side("canary"), "baseline": side("stable"), **fields}
    )


@pytest.fixture
def compare() -> Iterator[CompareProvider]:
    provider = CompareProvider(object())
    yield provider
    provider.close()


def measure(compare: CompareProvider, prometheus: LoadedPrometheus, scenario: str, **kw: object):  # type: ignore[no-untyped-def]
    now = prometheus.before(0)
    ctx = replace(context(now, default=prometheus.url), run_started=now - timedelta(minutes=10))
    return compare.measure(config(scenario, **kw), ctx, None)


def test_a_canary_slower_by_50ms_at_p99_fails(
    compare: CompareProvider, prometheus: LoadedPrometheus
) -> None:
    seen = measure(compare, prometheus, "latency")
    assert seen.outcome is Outcome.FAILED, seen.message
    assert "canary slower" in seen.message and "p99 225 ms vs 175 ms" in seen.message
    assert float(seen.metadata["tailPValue"]) < 0.01  # the slowest requests got slower
    assert float(seen.metadata["pValue"]) > 0.01  # which a rank test over all barely sees


def test_a_healthy_canary_passes(compare: CompareProvider, prometheus: LoadedPrometheus) -> None:
    seen = measure(compare, prometheus, "healthy")
    assert seen.outcome is Outcome.SUCCEEDED, seen.message
    assert abs(float(seen.metadata["cles"]) - 0.5) < 0.01


def test_a_canary_without_requests_is_no_data(
    compare: CompareProvider, prometheus: LoadedPrometheus
) -> None:
    seen = measure(compare, prometheus, "no-traffic")
    assert seen.outcome is Outcome.NO_DATA and "too few requests" in seen.message


def test_a_shift_below_the_p99_threshold_does_not_fail(
    compare: CompareProvider, prometheus: LoadedPrometheus
) -> None:
    # Statistically sure (p tiny) but a 50 ms p99 move is allowed when the bar is 100 ms.
    seen = measure(compare, prometheus, "latency", minP99DeltaSeconds=0.1)
    assert seen.outcome is Outcome.SUCCEEDED, seen.message


def test_a_query_that_is_not_one_series_per_le_is_an_error(
    compare: CompareProvider, prometheus: LoadedPrometheus
) -> None:
    bad = CompareMetric(canary="vector(1)", baseline="vector(1)", address=prometheus.url)
    seen = compare.measure(bad, context(prometheus.before(0)), None)
    assert seen.outcome is Outcome.ERROR and "one series per le" in seen.message


def test_quantile_matches_prometheus_interpolation() -> None:
    buckets = [(0.1, 50.0), (0.2, 90.0), (0.5, 100.0), (float("inf"), 100.0)]
    assert quantile(buckets, 0.5) == 0.1
    assert quantile(buckets, 0.7) == pytest.approx(0.15)
    assert quantile(buckets, 0.95) == pytest.approx(0.35)
    assert quantile([(1.0, 0.0), (float("inf"), 0.0)], 0.5) is None


def test_too_few_requests_is_never_a_pass() -> None:
    small = [(0.1, 10.0), (float("inf"), 10.0)]
    seen = judge_latency(small, small, CompareMetric(canary="x", baseline="y"))
    assert seen.outcome is Outcome.NO_DATA


def test_a_shift_of_every_request_is_caught_by_the_rank_test() -> None:
    edges = [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, float("inf")]
    base = [(e, c) for e, c in zip(edges, [300.0, 700, 900, 980, 995, 1000, 1000], strict=True)]
    slow = [(e, c) for e, c in zip(edges, [100.0, 300, 700, 900, 980, 1000, 1000], strict=True)]
    seen = judge_latency(slow, base, CompareMetric(canary="x", baseline="y"))
    assert seen.outcome is Outcome.FAILED, seen.message
    assert float(seen.metadata["pValue"]) < 1e-6 and float(seen.metadata["cles"]) > 0.56
    same = judge_latency(base, base, CompareMetric(canary="x", baseline="y"))
    assert same.outcome is Outcome.SUCCEEDED
