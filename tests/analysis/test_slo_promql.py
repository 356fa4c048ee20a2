"""Our SLO arithmetic (rollout/analysis/slo.py) against Prometheus' own evaluation of the
equivalent PromQL, on the scenario data.

Python gets counts (`sum(increase(...[W]))`, as the gates will query them) and computes; the
same figure is then asked of Prometheus as one PromQL expression in the shape Sloth and Pyrra
generate. Agreement means our formulas are the ones the SLO tooling people already trust.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import datetime

import pytest

from rollout.analysis.provider import Observation, Outcome
from rollout.analysis.providers.prometheus import PrometheusClient, PrometheusConnection
from rollout.analysis.slo import (
    Counts,
    active_pairs,
    budget_remaining,
    burn_pairs,
    burn_rate,
    excess_bad_events,
)
from rollout.models.slo import SLI, ServiceLevelObjective
from tests.analysis import scenarios
from tests.analysis.prometheus_server import LoadedPrometheus

OBJECTIVE = 99.9
BUDGET = ServiceLevelObjective(
    name="availability",
    objective=OBJECTIVE,
    sli=SLI(bad='x{code="500"}[$window]', total="x[$window]"),
).error_budget
BUDGET_PROMQL = f"(1 - {OBJECTIVE / 100!r})"
"""The same double as BUDGET: 99.9 / 100 is 0.9990000000000001, so the budget is
0.0009999999999998899, not 0.001; both sides must use the same one to agree to 1e-12."""
DAY = 86400
SLICES = ("canary", "stable", "service")
"""The canary's counts, the stable's, and the whole service's (both versions)."""
CASES = [(name, part) for name in scenarios.SCENARIOS for part in SLICES]
IDS = [f"{name}-{part}" for name, part in CASES]
TIMES = (0, 30 * 60, 32 * 60, 90 * 60)
"""Evaluated at the data's end, at the end of the canary's burst (short windows hot, long
ones not), in the flapping canary's scrape gap (its 5m window is empty), and 90 min before
the end (the no-traffic canary still had traffic)."""


@pytest.fixture(scope="module")
def client(prometheus: LoadedPrometheus) -> Iterator[PrometheusClient]:
    with PrometheusClient(PrometheusConnection(prometheus.url)) as c:
        yield c


def window(seconds: int) -> str:
    return f"{seconds // 60}m"


def selector(scenario: str, part: str, extra: str = "") -> str:
    version = "" if part == "service" else f',version="{part}"'
    return f'http_requests_total{{scenario="{scenario}"{version}{extra}}}'


def bad(scenario: str, part: str) -> str:
    return selector(scenario, part, ',code="500"')


def total(scenario: str, part: str) -> str:
    return selector(scenario, part)


def ratio_promql(scenario: str, part: str, seconds: int, fn: str = "increase") -> str:
    w = window(seconds)
    return f"(sum({fn}({bad(scenario, part)}[{w}])) / sum({fn}({total(scenario, part)}[{w}])))"


def number(seen: Observation) -> float | None:
    """VALUE -> the number; NaN or an empty vector -> None (no data). Anything else fails."""
    if seen.outcome is Outcome.NO_DATA:
        return None
    assert seen.outcome is Outcome.VALUE, seen.message
    assert isinstance(seen.value, float)
    return seen.value


def counts(
    client: PrometheusClient, scenario: str, part: str, seconds: int, at: datetime
) -> Counts | None:
    """The counts the gates query; None when the window has no series (a failed scrape)."""
    w = window(seconds)
    b = number(client.query(f"sum(increase({bad(scenario, part)}[{w}]))", at))
    t = number(client.query(f"sum(increase({total(scenario, part)}[{w}]))", at))
    if b is None or t is None:
        return None
    return Counts(bad=b, total=t)


def expected_counts(scenario: str, part: str, seconds: int, at: datetime) -> Counts | None:
    """The counts the generated data says (tests/analysis/scenarios.py)."""
    versions = scenarios.VERSIONS if part == "service" else (part,)
    found = [
        scenarios.window_counts(scenarios.SCENARIOS[scenario], v, at, seconds) for v in versions
    ]
    present = [f for f in found if f is not None]
    if not present:
        return None
    return Counts(bad=sum(b for b, _ in present), total=sum(t for _, t in present))


@pytest.mark.parametrize(("scenario", "part"), CASES, ids=IDS)
def test_burn_rate_matches_promql(
    client: PrometheusClient, prometheus: LoadedPrometheus, scenario: str, part: str
) -> None:
    for before in TIMES:
        at = prometheus.before(before)
        for seconds in (300, 3600):
            mine = counts(client, scenario, part, seconds, at)
            ours = None if mine is None else burn_rate(mine, BUDGET)
            theirs = number(
                client.query(f"{ratio_promql(scenario, part, seconds)} / {BUDGET_PROMQL}", at)
            )
            if theirs is None:  # 0/0 in PromQL is no traffic for us
                assert ours is None
                continue
            assert ours == pytest.approx(theirs, rel=1e-12)
            if not (scenario == "flapping" and before == 32 * 60):  # increase() extrapolates
                expected = expected_counts(scenario, part, seconds, at)
                assert expected is not None
                assert expected.ratio is not None
                assert ours == pytest.approx(expected.ratio / BUDGET, rel=1e-9)


@pytest.mark.parametrize(("scenario", "part"), CASES, ids=IDS)
def test_budget_remaining_matches_promql(
    client: PrometheusClient, prometheus: LoadedPrometheus, scenario: str, part: str
) -> None:
    """The data's two hours stand in for the SLO period. Pyrra's form is checked too:
    ((1 - SLO) - bad/total) / (1 - SLO), with `or vector(0)` on the bad side only."""
    at = prometheus.before(0)
    period = 2 * 3600
    mine = counts(client, scenario, part, period, at)
    assert mine is not None
    ours = budget_remaining(mine, BUDGET)
    sloth = number(
        client.query(f"1 - {ratio_promql(scenario, part, period)} / {BUDGET_PROMQL}", at)
    )
    w = window(period)
    pyrra = number(
        client.query(
            f"({BUDGET_PROMQL} - (sum(increase({bad(scenario, part)}[{w}])) or vector(0))"
            f" / sum(increase({total(scenario, part)}[{w}]))) / {BUDGET_PROMQL}",
            at,
        )
    )
    if scenario == "nan" and part == "canary":
        assert ours is sloth is pyrra is None
        return
    assert ours is not None
    assert sloth is not None
    assert pyrra is not None
    # Budget remaining is 1 - a ratio of ~1: compare absolutely (healthy lands on ~0).
    assert ours == pytest.approx(sloth, abs=1e-9)
    assert ours == pytest.approx(pyrra, abs=1e-9)
    if scenario == "errors-5pp" and part == "canary":
        assert ours == pytest.approx(1 - 51, abs=1e-9)  # spent 51 times over


PERIODS = {"30d": 30 * DAY, "28d": 28 * DAY}


def page_alert(scenario: str, part: str, long: int, short: int, factor: float) -> str:
    """Sloth's/Pyrra's page alert for one pair: short AND long error ratio above
    factor x budget, ratios from rate() as they record them."""
    threshold = f"({factor!r} * {BUDGET_PROMQL})"
    return (
        f"({ratio_promql(scenario, part, short, 'rate')} > {threshold})"
        f" and ({ratio_promql(scenario, part, long, 'rate')} > {threshold})"
    )


@pytest.mark.parametrize("period", PERIODS)
@pytest.mark.parametrize(("scenario", "part"), CASES, ids=IDS)
def test_page_pairs_match_the_sloth_alert(
    client: PrometheusClient,
    prometheus: LoadedPrometheus,
    scenario: str,
    part: str,
    period: str,
) -> None:
    """The 6h window reaches before the data's start: increase() then covers the 2 h there
    are (the counters start at 0, so Prometheus does not extrapolate), as a fresh SLO would."""
    pairs = burn_pairs(PERIODS[period])
    for before in TIMES:
        at = prometheus.before(before)
        windows: dict[int, Counts] = {}
        for pair in pairs:
            for seconds in (pair.long, pair.short):
                found = counts(client, scenario, part, seconds, at)
                if found is not None:
                    windows[seconds] = found
        ours = set(active_pairs(windows, BUDGET, pairs))
        for pair in pairs:
            rates = [burn_rate(windows[w], BUDGET) for w in (pair.long, pair.short) if w in windows]
            if any(r is not None and math.isclose(r, pair.factor, rel_tol=1e-9) for r in rates):
                # Exactly on the threshold (the service at +1 pp is 6x against 6x): "above"
                # is decided by float rounding in both; nothing to compare.
                continue
            fired = client.query(page_alert(scenario, part, pair.long, pair.short, pair.factor), at)
            assert fired.outcome in (Outcome.VALUE, Outcome.NO_DATA), fired.message
            assert (pair in ours) == (fired.outcome is Outcome.VALUE), (pair, fired)


def test_page_pairs_fire_where_the_data_says(
    client: PrometheusClient, prometheus: LoadedPrometheus
) -> None:
    """Independent of the comparison above, so that a mistake shared by our query builders
    and our arithmetic cannot make both sides agree on nonsense: the 30d pairs (14.4x over 1h
    and 5m, 6x over 6h and 30m) against burn rates worked out by hand from the data, asked of
    our pair evaluation and of Prometheus."""
    fast, slow = burn_pairs(PERIODS["30d"])
    assert (fast.long, fast.short, slow.long, slow.short) == (3600, 300, 6 * 3600, 1800)
    assert (fast.factor, slow.factor) == pytest.approx((14.4, 6.0))
    cases = [
        # scenario, part, minutes before the end, the pairs that fire
        ("healthy", "canary", 0, set()),  # 1x everywhere
        ("errors-1pp", "canary", 0, {slow}),  # 11x everywhere
        ("errors-5pp", "canary", 0, {fast, slow}),  # 51x everywhere
        ("errors-5pp", "service", 0, {fast, slow}),  # 26x everywhere
        # burst end: 5m 51x, 1h 9.3x, 30m 17.7x, 6h (the 90 min of data) 6.6x
        ("burst", "canary", 30, {slow}),
        # 2 min later: 5m 51x, 1h 7.6x, 30m 14.3x, 6h 5.5x: short windows alone fire nothing
        ("burst", "canary", 32, set()),
        ("burst", "canary", 0, set()),  # 30 min after: 5m 1x, 1h 9.3x
    ]
    for scenario, part, minutes, firing in cases:
        at = prometheus.before(minutes * 60)
        windows = {}
        for w in (300, 1800, 3600, 6 * 3600):
            found = expected_counts(scenario, part, w, at)
            assert found is not None
            windows[w] = found
        assert set(active_pairs(windows, BUDGET, (fast, slow))) == firing, (scenario, minutes)
        for pair in (fast, slow):
            seen = client.query(page_alert(scenario, part, pair.long, pair.short, pair.factor), at)
            assert (seen.outcome is Outcome.VALUE) is (pair in firing), (scenario, minutes, pair)


@pytest.mark.parametrize("scenario", ["healthy", "errors-1pp", "errors-5pp", "latency"])
def test_excess_bad_events_match_promql(
    client: PrometheusClient, prometheus: LoadedPrometheus, scenario: str
) -> None:
    """The step gate's canary cost: bad events beyond the stable's ratio, over 1 h."""
    at = prometheus.before(0)
    canary = counts(client, scenario, "canary", 3600, at)
    stable = counts(client, scenario, "stable", 3600, at)
    assert canary is not None
    assert stable is not None
    assert stable.ratio is not None
    ours = excess_bad_events(canary, stable.ratio)
    stable_ratio = ratio_promql(scenario, "stable", 3600)
    theirs = number(
        client.query(
            f"clamp_min(sum(increase({bad(scenario, 'canary')}[1h]))"
            f" - sum(increase({total(scenario, 'canary')}[1h])) * {stable_ratio}, 0)",
            at,
        )
    )
    assert ours == pytest.approx(theirs, rel=1e-9, abs=1e-9)
    # 240 steps of 1000 requests: (canary errors - 1) * 240 beyond the stable's 0.1 %.
    canary_errors = scenarios.SCENARIOS[scenario].canary.errors
    assert ours == pytest.approx((canary_errors - 1) * 240, abs=1e-6)
