"""The test Prometheus itself: the session one holds every scenario, and the scraping one
(for end-to-end tests) really scrapes a local target."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry, Counter, start_http_server

from rollout.analysis.provider import Outcome
from rollout.analysis.providers.prometheus import PrometheusClient, PrometheusConnection
from tests.analysis import scenarios
from tests.analysis.prometheus_server import LoadedPrometheus, start_scraping_prometheus

SERIES_PER_SLICE = 2 + len(scenarios.BUCKETS) + 2
"""Two codes of the counter, the histogram's buckets, _sum and _count."""


def test_the_session_prometheus_holds_every_scenario(prometheus: LoadedPrometheus) -> None:
    with PrometheusClient(PrometheusConnection(prometheus.url)) as client:
        seen = client.query(
            'count({__name__=~"http_request.*", scenario!=""})', prometheus.before(0)
        )
        first = client.query("count(http_requests_total)", scenarios.START_TIME)
        before_first = client.query("count(http_requests_total)", prometheus.before(2 * 3600 + 1))
    # At the end every series of every scenario is there (the flapping canary's gap ended
    # 30 min earlier); at the first sample, the counters.
    slices = len(scenarios.SCENARIOS) * len(scenarios.VERSIONS)
    assert (seen.outcome, seen.value) == (Outcome.VALUE, slices * SERIES_PER_SLICE)
    assert (first.outcome, first.value) == (Outcome.VALUE, slices * 2)
    # One second before the first sample there is nothing (the data does not start earlier).
    assert before_first.outcome is Outcome.NO_DATA


@pytest.fixture
def target() -> Iterator[tuple[str, Counter]]:
    """A /metrics endpoint on 127.0.0.1 (prometheus_client's own server) with one counter."""
    registry = CollectorRegistry()
    counter = Counter("demo_requests", "Requests served.", registry=registry)
    server, thread = start_http_server(0, addr="127.0.0.1", registry=registry)
    yield f"127.0.0.1:{server.server_port}", counter
    server.shutdown()
    server.server_close()
    thread.join(5)


def test_a_scraping_prometheus_sees_its_target(tmp_path: Path, target: tuple[str, Counter]) -> None:
    """Slow-ish (about 6 s): Prometheus 2.42 hands new targets to the scrape loop on a fixed
    5 s tick, so the first scrape comes about 5 s after start-up whatever the interval."""
    address, counter = target
    counter.inc(7)
    with (
        start_scraping_prometheus([address], tmp_path) as server,
        PrometheusClient(PrometheusConnection(server.url)) as client,
    ):
        deadline = time.monotonic() + 30
        seen = client.query('demo_requests_total{job="targets"}', datetime.now(UTC))
        while seen.outcome is not Outcome.VALUE and time.monotonic() < deadline:
            time.sleep(0.2)
            seen = client.query('demo_requests_total{job="targets"}', datetime.now(UTC))
        up = client.query(f'up{{job="targets",instance="{address}"}}', datetime.now(UTC))
    assert (seen.outcome, seen.value) == (Outcome.VALUE, 7.0)
    assert (up.outcome, up.value) == (Outcome.VALUE, 1.0)


def test_scrape_targets_must_be_local(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"127\.0\.0\.1:PORT"):
        start_scraping_prometheus(["example.com:80"], tmp_path)
