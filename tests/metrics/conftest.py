"""`metered`: the controller in this process with its metrics served on 127.0.0.1 (a free
port, `metered.metrics_port`), against the `cluster` sandbox."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rollout.kube import Kube
from rollout.reconciler.controller import Controller
from tests.e2e.harness import Cluster


@pytest.fixture
def metered(cluster: Cluster) -> Iterator[Controller]:
    kube = Kube(cluster.sandbox.api_client())
    controller = Controller(
        kube, workers=2, max_backoff=1.0, metrics_port=0, metrics_address="127.0.0.1"
    )
    controller.start()
    yield controller
    controller.stop()
    kube.close()
