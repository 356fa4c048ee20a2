"""The Prometheus provider against a real Prometheus (tests/analysis/conftest.py) holding the
scenario data: every classification of an answer, `time=` pinning, the provider's settings,
and the scenario numbers. What goes over the wire is in test_prometheus_wire.py.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

from rollout.analysis.provider import Observation, Outcome
from rollout.analysis.providers.prometheus import (
    PrometheusClient,
    PrometheusConnection,
    PrometheusProvider,
)
from tests.analysis import scenarios
from tests.analysis.prometheus_server import LoadedPrometheus, start_prometheus
from tests.analysis.provider_tools import context, metric

# Windows end on sample times, so Prometheus does not extrapolate: the results are the
# scenarios' exact ratios up to float rounding (e.g. 0.22499999999999973 for 0.225).
REL = 1e-9


def selector(scenario: str, version: str, extra: str = "") -> str:
    return f'scenario="{scenario}",version="{version}"{extra}'


def error_ratio(scenario: str, version: str, window: str = "5m") -> str:
    sel = selector(scenario, version)
    return (
        f'sum(rate(http_requests_total{{{sel},code="500"}}[{window}]))'
        f" / sum(rate(http_requests_total{{{sel}}}[{window}]))"
    )


def p99(scenario: str, version: str) -> str:
    sel = selector(scenario, version)
    return (
        "histogram_quantile(0.99, sum by (le) "
        f"(rate(http_request_duration_seconds_bucket{{{sel}}}[5m])))"
    )


def measure(
    provider: PrometheusProvider,
    prometheus: LoadedPrometheus,
    query: str,
    *,
    before: float = 0,
    **fields: Any,
) -> Observation:
    config = metric(address=prometheus.url, query=query, **fields)
    return provider.measure(config, context(prometheus.before(before)), None)


# --- values ------------------------------------------------------------------------------


def test_a_one_series_vector_is_its_value(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    seen = measure(provider, prometheus, error_ratio("errors-1pp", "canary"))
    assert seen.outcome is Outcome.VALUE
    assert seen.value == pytest.approx(0.011, rel=REL)
    assert seen.display == repr(seen.value)
    assert float(seen.display) == seen.value  # the display round-trips
    assert seen.metadata == {}


def test_a_scalar_is_its_value(provider: PrometheusProvider, prometheus: LoadedPrometheus) -> None:
    literal = measure(provider, prometheus, "0.997")
    assert (literal.outcome, literal.value, literal.display) == (Outcome.VALUE, 0.997, "0.997")
    sel = selector("errors-1pp", "canary", ',code="500"')
    counted = measure(
        provider, prometheus, f"scalar(sum(increase(http_requests_total{{{sel}}}[1h])))"
    )
    # 240 steps in the hour, 11 errors each; the window's edges are samples: no extrapolation.
    assert counted.outcome is Outcome.VALUE
    assert counted.value == 2640.0


def test_time_is_pinned_to_the_measurement_time(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    sel = selector("healthy", "canary", ',code="500"')
    query = f"http_requests_total{{{sel}}}"
    healthy = scenarios.SCENARIOS["healthy"]
    for before in (3600, 0):
        seen = measure(provider, prometheus, query, before=before)
        expected = scenarios.counter_at(healthy, "canary", prometheus.before(before))["500"]
        assert expected == (480 if before == 0 else 240)
        assert (seen.outcome, seen.value) == (Outcome.VALUE, expected)


@pytest.mark.parametrize("sign", ["+", "-"])
def test_infinity_is_a_value_with_a_note(
    provider: PrometheusProvider, prometheus: LoadedPrometheus, sign: str
) -> None:
    if sign == "+":
        # The stable slice's errors over the never-requested canary's total: x / 0 with x > 0.
        stable_errors = selector("nan", "stable", ',code="500"')
        canary_total = selector("nan", "canary")
        query = (
            f"sum(rate(http_requests_total{{{stable_errors}}}[5m]))"
            f" / sum(rate(http_requests_total{{{canary_total}}}[5m]))"
        )
    else:
        query = "-1/0"
    seen = measure(provider, prometheus, query)
    assert seen.outcome is Outcome.VALUE
    assert seen.value == (math.inf if sign == "+" else -math.inf)
    assert seen.display == f"{sign}Inf"
    assert "zero total" in seen.message


# --- no data -----------------------------------------------------------------------------


def test_an_empty_vector_is_no_data(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    seen = measure(provider, prometheus, error_ratio("no-such-scenario", "canary"))
    assert seen.outcome is Outcome.NO_DATA
    assert (seen.value, seen.display) == (None, None)
    assert seen.message == "empty vector: no series matched (no traffic in the range?)"


def test_nan_is_no_data(provider: PrometheusProvider, prometheus: LoadedPrometheus) -> None:
    seen = measure(provider, prometheus, error_ratio("nan", "canary"))
    assert seen.outcome is Outcome.NO_DATA
    assert seen.display == "NaN"
    assert seen.value is None
    assert "0/0" in seen.message
    assert "no requests" in seen.message


def test_the_flapping_canary_is_no_data_only_beyond_the_lookback(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    """Scrapes failed from -40 min to -30 min: at -37 min the last sample is 3 min old (within
    the 5 min lookback), at -32 min it is 8 min old."""
    query = f"sum(http_requests_total{{{selector('flapping', 'canary')}}})"
    assert measure(provider, prometheus, query, before=37 * 60).outcome is Outcome.VALUE
    gone = measure(provider, prometheus, query, before=32 * 60)
    assert gone.outcome is Outcome.NO_DATA
    assert gone.message.startswith("empty vector")
    stable = f"sum(http_requests_total{{{selector('flapping', 'stable')}}})"
    assert measure(provider, prometheus, stable, before=32 * 60).outcome is Outcome.VALUE


# --- errors ------------------------------------------------------------------------------


def test_several_series_are_an_error_naming_them(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    two = measure(
        provider,
        prometheus,
        'sum by (version) (rate(http_requests_total{scenario="healthy"}[5m]))',
    )
    assert two.outcome is Outcome.ERROR
    assert "2 series" in two.message
    assert '{version="canary"}' in two.message
    assert '{version="stable"}' in two.message
    assert "more" not in two.message

    four = measure(provider, prometheus, 'http_requests_total{scenario="healthy"}')
    assert four.outcome is Outcome.ERROR
    assert "4 series" in four.message
    assert four.message.count("http_requests_total{") == 3
    assert "and 1 more" in four.message
    assert 'code="200", scenario="healthy", version="canary"' in four.message


@pytest.mark.parametrize(
    ("query", "kind"),
    [
        ('http_requests_total{scenario="healthy",version="canary",code="500"}[1m]', "matrix"),
        ('"some text"', "string"),
    ],
)
def test_a_matrix_or_string_is_an_error_asking_for_one_number(
    provider: PrometheusProvider, prometheus: LoadedPrometheus, query: str, kind: str
) -> None:
    seen = measure(provider, prometheus, query)
    assert seen.outcome is Outcome.ERROR
    assert f"returned a {kind}" in seen.message
    assert "an instant query returning one number is needed" in seen.message


@pytest.mark.parametrize(
    ("query", "status", "reason"),
    [
        ("sum(rate(http_requests_total[5m])", "HTTP 400 (bad_data)", "parse error"),
        (  # both sides have two series per scenario: many-to-many, found only when evaluated
            'http_requests_total{scenario="healthy"} + on(scenario) http_requests_total',
            "HTTP 422 (execution)",
            "many-to-many matching not allowed",
        ),
    ],
    ids=["parse", "execution"],
)
def test_a_query_prometheus_rejects_is_an_error_with_its_reason(
    provider: PrometheusProvider,
    prometheus: LoadedPrometheus,
    query: str,
    status: str,
    reason: str,
) -> None:
    seen = measure(provider, prometheus, query)
    assert seen.outcome is Outcome.ERROR
    assert f"Prometheus at {prometheus.url} answered {status}" in seen.message
    assert reason in seen.message


def test_a_timeout_in_prometheus_is_an_error(prometheus: LoadedPrometheus) -> None:
    """The gate's usage: the client on its own. A 1 µs `timeout=` makes Prometheus give up
    (HTTP 503, errorType timeout) before the HTTP timeout (1 s later) would."""
    with PrometheusClient(PrometheusConnection(prometheus.url, timeout=1e-6)) as client:
        seen = client.query("count_over_time(http_requests_total[2h])", prometheus.before(0))
    assert seen.outcome is Outcome.ERROR
    assert "HTTP 503 (timeout)" in seen.message


def test_a_wrong_path_is_an_error_with_the_status(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    config = metric(address=f"{prometheus.url}/prometheus", query="1")
    seen = provider.measure(config, context(prometheus.before(0)), None)
    assert seen.outcome is Outcome.ERROR
    assert "HTTP 404: 404 page not found" in seen.message


def test_warnings_are_kept_without_changing_the_outcome(
    tmp_path: Path, refusing_address: str, provider: PrometheusProvider
) -> None:
    """A real warning from Prometheus 2.42: a remote_read endpoint that refuses connections
    makes every query that selects series answer with a partial-response warning."""
    config = f"""\
global:
  scrape_interval: 1h
scrape_configs: []
remote_read:
  - url: {refusing_address}/read
    read_recent: true
"""
    with start_prometheus(config, tmp_path / "tsdb") as server:
        value = provider.measure(
            metric(address=server.url, query="count(nothing_here) or vector(1)"),
            context(scenarios.BASE_TIME),
            None,
        )
        empty = provider.measure(
            metric(address=server.url, query="nothing_here"), context(scenarios.BASE_TIME), None
        )
        clean = provider.measure(
            metric(address=server.url, query="vector(1)"), context(scenarios.BASE_TIME), None
        )
    assert (value.outcome, value.value) == (Outcome.VALUE, 1.0)
    assert "remote_read" in value.metadata["warnings"]
    assert "connection refused" in value.metadata["warnings"]
    assert value.message.startswith("Prometheus warned: remote_read")
    assert empty.outcome is Outcome.NO_DATA
    assert empty.message.startswith("empty vector: no series matched")
    assert "Prometheus warned: remote_read" in empty.message
    assert (clean.outcome, clean.metadata, clean.message) == (Outcome.VALUE, {}, "")


# --- configuration -----------------------------------------------------------------------


def test_the_rollout_default_address_and_builtin_queries(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    builtin = {"error-ratio": error_ratio("errors-5pp", "canary"), "p99": "1"}
    ctx = context(prometheus.before(0), builtin=builtin, default=prometheus.url)
    seen = provider.measure(metric(builtin="error-ratio"), ctx, None)
    assert seen.outcome is Outcome.VALUE
    assert seen.value == pytest.approx(0.051, rel=REL)

    missing = provider.measure(metric(builtin="latency"), ctx, None)
    assert missing.outcome is Outcome.ERROR
    assert "'latency'" in missing.message
    assert "available: error-ratio, p99" in missing.message


def test_no_address_at_all_is_an_error(provider: PrometheusProvider) -> None:
    seen = provider.measure(metric(query="1"), context(scenarios.BASE_TIME), None)
    assert seen.outcome is Outcome.ERROR
    assert "spec.analysis.prometheus.address" in seen.message


def test_a_missing_secret_is_an_error_naming_it(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    config = metric(address=prometheus.url, query="1", bearerToken={"name": "prom", "key": "nope"})
    seen = provider.measure(config, context(prometheus.before(0)), None)
    assert seen.outcome is Outcome.ERROR
    assert seen.message == "Secret prom has no key nope"


# --- the scenarios, numerically ----------------------------------------------------------


def test_the_scenario_numbers_are_as_documented() -> None:
    assert scenarios.Slice().p99 == pytest.approx(0.175)
    assert scenarios.Slice(latency=scenarios.SLOW).p99 == pytest.approx(0.225)
    ratios = {n: s.canary.error_ratio for n, s in scenarios.SCENARIOS.items()}
    assert ratios["healthy"] == scenarios.Slice().error_ratio == 0.001
    assert ratios["errors-1pp"] == pytest.approx(0.011)
    assert ratios["errors-5pp"] == pytest.approx(0.051)


CASES = [(name, version) for name in scenarios.SCENARIOS for version in scenarios.VERSIONS]


@pytest.mark.parametrize(("name", "version"), CASES, ids=[f"{n}-{v}" for n, v in CASES])
@pytest.mark.parametrize("before", [0, 30 * 60, 35 * 60, 90 * 60])
def test_error_ratio_and_p99_per_scenario(
    provider: PrometheusProvider,
    prometheus: LoadedPrometheus,
    name: str,
    version: str,
    before: int,
) -> None:
    """At the end, at the burst's end, in the flapping canary's scrape gap, and while the
    no-traffic canary still had traffic; the expected numbers come from the generated data."""
    part = scenarios.SCENARIOS[name].slice(version)
    at = prometheus.before(before)
    counted = scenarios.window_counts(scenarios.SCENARIOS[name], version, at, 300)
    ratio = measure(provider, prometheus, error_ratio(name, version), before=before)
    latency = measure(provider, prometheus, p99(name, version), before=before)
    if counted is None:  # no samples in the window: rate() has nothing to say
        assert ratio.outcome is Outcome.NO_DATA
        assert ratio.message.startswith("empty vector")
        assert latency.outcome is Outcome.NO_DATA
    elif counted[1] == 0:  # counters flat over the window: 0/0
        assert (ratio.outcome, ratio.display) == (Outcome.NO_DATA, "NaN")
        assert (latency.outcome, latency.display) == (Outcome.NO_DATA, "NaN")
    else:
        assert ratio.outcome is Outcome.VALUE, ratio.message
        assert ratio.value == pytest.approx(counted[0] / counted[1], rel=REL)
        assert latency.outcome is Outcome.VALUE, latency.message
        assert latency.value == pytest.approx(part.p99, rel=REL)


def test_the_burst_shows_in_the_short_window_only(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    at_end = 30 * 60
    short = measure(provider, prometheus, error_ratio("burst", "canary"), before=at_end)
    long = measure(provider, prometheus, error_ratio("burst", "canary", "1h"), before=at_end)
    assert short.value == pytest.approx(0.051, rel=REL)
    assert long.value == pytest.approx((40 * 51 + 200 * 1) / 240_000, rel=REL)


def test_canary_latency_regression_is_50ms(
    provider: PrometheusProvider, prometheus: LoadedPrometheus
) -> None:
    canary = measure(provider, prometheus, p99("latency", "canary"))
    stable = measure(provider, prometheus, p99("latency", "stable"))
    assert canary.value - stable.value == pytest.approx(0.050, rel=1e-6)
