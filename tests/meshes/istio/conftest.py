"""One sandbox per Istio test module (upstream CRDs installed); each test starts with no routing
objects, no faults and an empty request log."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from meshes.istio import (
    DESTINATION_RULES,
    VIRTUAL_SERVICES,
)
from tests.e2e.harness import Cluster
from tests.meshes import cases_istio as cases
from tests.meshes.istio.tools import NS


@pytest.fixture(scope="module")
def cluster() -> Iterator[Cluster]:
    c = Cluster()
    try:
        cases.install_crds(c.kube)
        cases.create_services(c.kube)
        yield c
    finally:
        c.close()


@pytest.fixture
def kube_env(cluster: Cluster) -> Iterator[Cluster]:
    """No routing objects, no faults, an empty request log."""
    for kind in (VIRTUAL_SERVICES, DESTINATION_RULES):
        for obj in cluster.kube.list(kind, namespace=NS)[0]:
            cluster.kube.delete(kind, obj["metadata"]["name"], namespace=NS)
    cluster.sandbox.faults.clear()
    cluster.sandbox.requests.clear()
    yield cluster
    cluster.sandbox.faults.clear()
