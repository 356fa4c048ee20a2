"""Fixtures shared by every suite that needs a cluster: a sandbox API server with our CRDs
(`cluster`) and the controller running in this process against it (`controller`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rollout.reconciler.controller import Controller
from tests.e2e.harness import Cluster, in_process_controller
from tests.http_far import Far, serving


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A sandbox; `@pytest.mark.ready_delay(s)` makes its pods take `s` seconds to be ready."""
    marker = request.node.get_closest_marker("ready_delay")
    c = Cluster(ready_delay=marker.args[0] if marker else 0.0)
    yield c
    c.close()


@pytest.fixture
def controller(cluster: Cluster) -> Iterator[Controller]:
    ctl = in_process_controller(cluster)
    yield ctl
    ctl.stop()


@pytest.fixture
def far() -> Iterator[Far]:
    """A stand-in HTTP endpoint on 127.0.0.1 (a metrics endpoint, a webhook receiver)."""
    with serving() as f:
        yield f
