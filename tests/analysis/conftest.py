"""Fixtures of the analysis tests: `prometheus`, ONE real Prometheus for the whole session
holding every scenario of tests/analysis/scenarios.py; `provider`, a PrometheusProvider closed
after the test; `refusing_address`, a 127.0.0.1 address that refuses connections."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest

from rollout.analysis.providers.prometheus import PrometheusProvider
from tests.analysis import scenarios
from tests.analysis.prometheus_server import (
    LoadedPrometheus,
    PrometheusUnavailableError,
    start_backfilled_prometheus,
)


@pytest.fixture(scope="session")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LoadedPrometheus]:
    """A running Prometheus with the scenario data; `.base_time` is the data's last sample."""
    try:
        loaded = start_backfilled_prometheus(
            scenarios.openmetrics(), scenarios.BASE_TIME, tmp_path_factory.mktemp("prometheus")
        )
    except PrometheusUnavailableError as exc:
        pytest.fail(f"no Prometheus for the analysis tests: {exc}", pytrace=False)
    yield loaded
    loaded.server.stop()


@pytest.fixture
def provider() -> Iterator[PrometheusProvider]:
    p = PrometheusProvider(kube=None)
    yield p
    p.close()


@pytest.fixture
def refusing_address() -> Iterator[str]:
    """A 127.0.0.1 port held bound but not listening: connections are refused, and no other
    process can take the port meanwhile."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        yield f"http://127.0.0.1:{s.getsockname()[1]}"
