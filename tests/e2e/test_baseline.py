"""The baseline end to end: a Deployment of the stable's template beside the canary, its pods
labelled apart (for metrics), outside the stable Service, and deleted when the update ends."""

from __future__ import annotations

import pytest

from rollout import labels
from rollout.kube import DEPLOYMENTS
from tests.e2e.harness import NS, Cluster
from tests.e2e.test_canary import rev

pytestmark = pytest.mark.usefixtures("controller")


def test_a_baseline_runs_beside_the_canary_and_goes_with_the_update(cluster: Cluster) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    cluster.create("app", steps=[{"setWeight": 20}, {"pause": {}}], canary={"baseline": True})
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait(
        "app",
        lambda r: cluster.replicas("app").get(f"{v1}-baseline", (0, 0))[1] == 1,
        what="a ready baseline pod",
    )
    cluster.wait_step("app", 1)
    assert cluster.replicas("app") == {v1: (3, 3), v2: (1, 1), f"{v1}-baseline": (1, 1)}
    baseline = cluster.kube.get(DEPLOYMENTS, f"app-{v1}-baseline", namespace=NS)
    pod = baseline["spec"]["template"]
    assert pod["spec"]["containers"][0]["image"] == "app:v1"
    assert pod["metadata"]["labels"][labels.REVISION] == f"{v1}-baseline"
    assert cluster.pins("app") == (v1, v2)  # the stable Service keeps to the stable's pods

    cluster.api.promote("default", "app")
    cluster.wait_phase("app", "Healthy")
    cluster.wait(
        "app",
        lambda r: f"{v1}-baseline" not in cluster.replicas("app"),
        what="the baseline deleted",
    )
