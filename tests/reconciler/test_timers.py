"""The controller's timers: a reconcile that asks for the time already pending does not set
it again, and the timer still fires once, at that time; any other time is set, and so is the
same time once its timer has fired (a clock stepped back, a decision finding it not yet
reached: leaving it alone then left a rollout with no timer at all)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from rollout.kube import Kube
from rollout.reconciler.controller import Controller
from tests.e2e.harness import Cluster


def test_the_same_time_is_set_once_and_fires_once(cluster: Cluster) -> None:
    controller = Controller(Kube(cluster.sandbox.api_client()), workers=1)
    added: list[datetime] = []
    real_add = controller._scheduler.add_job

    def add_job(*args: Any, **kwargs: Any) -> Any:
        added.append(kwargs["run_date"])
        return real_add(*args, **kwargs)

    controller._scheduler.add_job = add_job  # type: ignore[method-assign]
    controller._scheduler.start()
    try:
        at = datetime.now(UTC) + timedelta(seconds=1.0)
        for _ in range(3):  # three reconciles of one pause, each asking for its end
            controller._schedule("default/app", at, kind="timer")
        assert added == [at]
        later = at + timedelta(seconds=0.3)
        controller._schedule("default/app", later, kind="timer")  # moved: set again
        assert added == [at, later]
        assert controller.queue.get(timeout=0.1) is None  # not before its time
        assert controller.queue.get(timeout=5.0) == "default/app"
        assert datetime.now(UTC) >= later
        controller.queue.done("default/app")
        assert controller.queue.get(timeout=0.5) is None  # once
        controller._schedule("default/app", later, kind="timer")  # fired: set again
        assert added == [at, later, later]
        assert controller.queue.get(timeout=2.0) == "default/app"
        controller.queue.done("default/app")
        # Fired, and the reconcile it brought asks for the same, still future, time.
        ahead = datetime.now(UTC) + timedelta(seconds=0.5)
        controller._schedule("default/app", ahead, kind="timer")
        controller._fire("timer:default/app", "default/app", ahead)  # as if early
        assert controller.queue.get(timeout=0.1) == "default/app"
        controller.queue.done("default/app")
        controller._schedule("default/app", ahead, kind="timer")
        assert added == [at, later, later, ahead, ahead]
        assert controller.queue.get(timeout=5.0) == "default/app"
    finally:
        controller._scheduler.shutdown(wait=False)
