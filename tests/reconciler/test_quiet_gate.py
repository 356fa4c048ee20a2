"""`settled` (may a status write's echo be skipped?) is asked only while no other work waits
for the workers; with a backlog every echo is reconciled, and rollouts end the same way."""

from __future__ import annotations

from typing import Any

import pytest

from rollout.kube import Kube
from rollout.reconciler import reconcile
from rollout.reconciler.controller import Controller
from tests.e2e.harness import Cluster


@pytest.mark.parametrize("backlog", [False, True])
def test_settled_is_asked_only_without_a_backlog(
    cluster: Cluster, monkeypatch: pytest.MonkeyPatch, backlog: bool
) -> None:
    asked: list[bool] = []
    real = reconcile.settled

    def counting(*args: Any) -> bool:
        answer = real(*args)
        asked.append(answer)
        return answer

    monkeypatch.setattr(reconcile, "settled", counting)
    controller = Controller(Kube(cluster.sandbox.api_client()), workers=2, max_backoff=1.0)
    if backlog:
        controller._reconciler._busy = lambda: True
    controller.start()
    try:
        cluster.create("app")
        cluster.wait_phase("app", "Healthy")
        cluster.api.set_image("default", "app", "app", "app:v2")
        cluster.wait_step("app", 3)
        cluster.api.promote("default", "app")
        done = cluster.wait_phase("app", "Healthy")
    finally:
        controller.stop()
    assert done["status"]["stableRevision"] == done["status"]["currentRevision"]
    if backlog:
        assert asked == []
    else:
        assert asked and any(asked)  # asked at every status write; some echoes skipped
