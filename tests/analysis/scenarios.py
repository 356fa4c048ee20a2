"""Deterministic scenario data for the real Prometheus the analysis tests query.

Every scenario has two slices, `version="stable"` and `version="canary"`, each with
- `http_requests_total{version, code="200"|"500", scenario}`: counters, and
- `http_request_duration_seconds_bucket{version, scenario, le}` (+ `_sum`, `_count`): a
  histogram of the same requests,
sampled every STEP = 15 s from BASE_TIME - 2 h to BASE_TIME inclusive (481 samples a series).
All counters start at 0 at the first sample.

Numbers, per slice and per 15 s step while it has traffic:
- REQUESTS_PER_STEP = 1000 requests (66.7 req/s); `errors` of them have code 500.
- Latency: FAST puts 10 % of the requests at or below 25 ms, 40 % in (25, 50] ms, 40 % in
  (50, 100] ms, 8 % in (100, 150] ms and 2 % in (150, 200] ms, so the p99 (the 990th request)
  is half-way through (150, 200] ms: 175 ms by histogram_quantile's linear interpolation.
  SLOW moves 4 % of FAST's (100, 150] ms mass up, so 2 % lie in (150, 200] ms and 2 % in
  (200, 250] ms: the p99 is 225 ms, FAST + 50 ms.

Scenarios (stable always: 1 error per 1000 = 0.1 %, FAST):
- `healthy`: canary 1 error per 1000 (0.1 %), FAST.
- `errors-1pp`: canary 11 per 1000 (1.1 %, +1 percentage point), FAST.
- `errors-5pp`: canary 51 per 1000 (5.1 %, +5 percentage points), FAST.
- `latency`: canary 0.1 % errors, SLOW (p99 225 ms against the stable's 175 ms).
- `no-traffic`: the canary had 0.1 % errors and FAST latency until BASE_TIME - 1 h, then no
  requests: its counters stay flat (at 240 steps' worth) for the last hour. Rates are 0 there,
  so its error ratio is 0/0 = NaN and its p99 NaN; an hour earlier they are 0.001 and 175 ms.
- `nan`: a canary that never got a request: its series exist with the constant value 0 for the
  whole two hours, so every ratio over it has a zero denominator (NaN).
- `flapping`: canary 0.1 %, FAST, but its scrapes failed from BASE_TIME - 40 min to
  BASE_TIME - 30 min: no canary samples strictly between those times, while its counters kept
  counting (the samples after the gap continue the count). An instant query at
  BASE_TIME - 32 min sees nothing newer than 8 min, beyond the 5 min lookback: empty vector.
- `burst`: canary 0.1 %, FAST, except the 40 steps (10 min) ending from BASE_TIME - 40 min
  (exclusive) to BASE_TIME - 30 min (inclusive), with 51 errors per 1000 (5.1 %). Short windows
  and long ones then disagree: at BASE_TIME - 30 min the 5m ratio is 0.051 and the 1h ratio
  (40 * 51 + 200 * 1) / 240000 = 0.00933; at BASE_TIME both are 0.001 again.

Why counts per step are whole numbers and windows end on sample times: `increase`/`rate` over
a window whose edges fall on samples do not extrapolate, so Prometheus' results are the exact
ratios above up to float rounding, and tests can assert them with tight tolerances.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

BASE_TIME = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
"""The last sample of every series (a whole hour, so 2 h blocks align with the data)."""
STEP = 15
SPAN = 2 * 3600
START_TIME = BASE_TIME - timedelta(seconds=SPAN)
REQUESTS_PER_STEP = 1000
STABLE_ERRORS = 1
BURST_ERRORS = 51

BUCKETS: tuple[float, ...] = (0.025, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.5, 1.0, math.inf)
"""Upper bounds (`le`) of the latency histogram, in seconds."""
FAST: tuple[int, ...] = (100, 500, 900, 980, 1000, 1000, 1000, 1000, 1000, 1000)
"""Cumulative requests per step at or below each bound: p99 175 ms."""
SLOW: tuple[int, ...] = (100, 500, 900, 960, 980, 1000, 1000, 1000, 1000, 1000)
"""Cumulative requests per step at or below each bound: p99 225 ms."""


@dataclass(frozen=True)
class Slice:
    """One version's traffic in one scenario."""

    errors: int = STABLE_ERRORS
    """Requests with code 500 among the REQUESTS_PER_STEP of each step."""
    latency: tuple[int, ...] = FAST
    traffic_until: int | None = None
    """Seconds before BASE_TIME after which no request arrives (counters go flat)."""
    no_requests: bool = False
    """The slice never gets a request (its series are constant 0)."""
    gap: tuple[int, int] | None = None
    """(from, to) in seconds before BASE_TIME: no samples strictly between (failed scrapes)."""
    burst: tuple[int, int] | None = None
    """(from, to) in seconds before BASE_TIME: the steps ending in (from, to] have
    BURST_ERRORS errors instead of `errors`."""

    def requests_at(self, t: datetime) -> int:
        """Requests that arrived in the step ending at `t`."""
        if self.no_requests:
            return 0
        if self.traffic_until is not None and t > BASE_TIME - timedelta(seconds=self.traffic_until):
            return 0
        return REQUESTS_PER_STEP

    def errors_at(self, t: datetime) -> int:
        """Errors among the requests of the step ending at `t`."""
        if not self.requests_at(t):
            return 0
        if self.burst is not None:
            start, end = (BASE_TIME - timedelta(seconds=s) for s in self.burst)
            if start < t <= end:
                return BURST_ERRORS
        return self.errors

    def sampled_at(self, t: datetime) -> bool:
        if self.gap is None:
            return True
        start, end = (BASE_TIME - timedelta(seconds=s) for s in self.gap)
        return not start < t < end

    @property
    def error_ratio(self) -> float:
        """The error ratio while there is traffic (outside a burst)."""
        return self.errors / REQUESTS_PER_STEP

    @property
    def p99(self) -> float:
        """The p99 latency (seconds) while there is traffic, as histogram_quantile finds it."""
        return histogram_quantile(0.99, BUCKETS, self.latency)


@dataclass(frozen=True)
class Scenario:
    name: str
    canary: Slice
    stable: Slice = Slice()

    def slice(self, version: str) -> Slice:
        return {"canary": self.canary, "stable": self.stable}[version]


SCENARIOS: dict[str, Scenario] = {
    s.name: s
    for s in (
        Scenario("healthy", canary=Slice()),
        Scenario("errors-1pp", canary=Slice(errors=11)),
        Scenario("errors-5pp", canary=Slice(errors=51)),
        Scenario("latency", canary=Slice(latency=SLOW)),
        Scenario("no-traffic", canary=Slice(traffic_until=3600)),
        Scenario("nan", canary=Slice(no_requests=True)),
        Scenario("flapping", canary=Slice(gap=(40 * 60, 30 * 60))),
        Scenario("burst", canary=Slice(burst=(40 * 60, 30 * 60))),
    )
}
VERSIONS = ("stable", "canary")


def histogram_quantile(q: float, bounds: Sequence[float], cumulative: Sequence[int]) -> float:
    """Prometheus' histogram_quantile for one histogram: the bucket holding rank q*count, and
    linear interpolation inside it (the lowest bucket starts at 0)."""
    rank = q * cumulative[-1]
    below = 0
    lower = 0.0
    for bound, count in zip(bounds, cumulative, strict=True):
        if count >= rank:
            return lower + (bound - lower) * (rank - below) / (count - below)
        below, lower = count, bound
    raise ValueError("rank beyond the last bucket")


def sample_times() -> Iterator[datetime]:
    for i in range(SPAN // STEP + 1):
        yield START_TIME + timedelta(seconds=i * STEP)


def counter_at(scenario: Scenario, version: str, t: datetime) -> dict[str, int]:
    """The counters' values at sample time `t`: {"200": ..., "500": ...} (counted whether
    or not the sample was scraped)."""
    part = scenario.slice(version)
    steps = [s for s in sample_times() if START_TIME < s <= t]
    total = sum(part.requests_at(s) for s in steps)
    errors = sum(part.errors_at(s) for s in steps)
    return {"200": total - errors, "500": errors}


def window_counts(
    scenario: Scenario, version: str, t: datetime, seconds: int
) -> tuple[int, int] | None:
    """(errors, requests) in the `seconds` before sample time `t`: what increase() over that
    window gives when no scrape failed in it (a window reaching before the data's start
    covers the data there is: the counters start at 0, so Prometheus does not extrapolate).
    None when the window holds fewer than two samples of the slice (Prometheus 2.42's range is
    closed at both ends): rate() and increase() then return nothing."""
    part = scenario.slice(version)
    start = t - timedelta(seconds=seconds)
    if sum(1 for s in sample_times() if start <= s <= t and part.sampled_at(s)) < 2:
        return None
    steps = [s for s in sample_times() if start < s <= t and s > START_TIME]
    return sum(part.errors_at(s) for s in steps), sum(part.requests_at(s) for s in steps)


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def _le(bound: float) -> str:
    return "+Inf" if math.isinf(bound) else repr(bound)


def openmetrics() -> str:
    """Every scenario as OpenMetrics text (timestamps in seconds, ending with `# EOF`), for
    `promtool tsdb create-blocks-from openmetrics`."""
    counters: list[str] = ["# TYPE http_requests counter"]
    histogram: list[str] = ["# TYPE http_request_duration_seconds histogram"]
    for scenario in SCENARIOS.values():
        for version in VERSIONS:
            part = scenario.slice(version)
            series = _Series(part)
            for t in sample_times():
                series.advance(t)
                if not part.sampled_at(t):
                    continue
                ts = int(t.timestamp())
                for code, value in (("200", series.ok), ("500", series.errors)):
                    labels = _labels(version=version, code=code, scenario=scenario.name)
                    counters.append(f"http_requests_total{labels} {value} {ts}")
                labels = _labels(version=version, scenario=scenario.name)
                for bound, value in zip(BUCKETS, series.buckets, strict=True):
                    le = _labels(version=version, scenario=scenario.name, le=_le(bound))
                    histogram.append(f"http_request_duration_seconds_bucket{le} {value} {ts}")
                histogram.append(f"http_request_duration_seconds_count{labels} {series.count} {ts}")
                histogram.append(f"http_request_duration_seconds_sum{labels} {series.sum!r} {ts}")
    return "\n".join([*counters, *histogram, "# EOF", ""])


class _Series:
    """A slice's running counters, advanced one step at a time."""

    def __init__(self, part: Slice) -> None:
        self.part = part
        self.ok = 0
        self.errors = 0
        self.buckets = [0] * len(BUCKETS)
        self.count = 0
        self.sum = 0.0

    def advance(self, t: datetime) -> None:
        if t == START_TIME:
            return  # the first sample: every counter at 0
        requests = self.part.requests_at(t)
        if not requests:
            return
        errors = self.part.errors_at(t)
        self.errors += errors
        self.ok += requests - errors
        self.count += requests
        lower = 0.0
        below = 0
        for i, (bound, cumulative) in enumerate(zip(BUCKETS, self.part.latency, strict=True)):
            self.buckets[i] += cumulative
            # Each request's latency is taken as its bucket's middle (the +Inf bucket is empty).
            if not math.isinf(bound):
                self.sum += (cumulative - below) * (lower + bound) / 2
            lower, below = bound, cumulative
        self.sum = round(self.sum, 6)
