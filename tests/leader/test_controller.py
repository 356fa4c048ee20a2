"""The controller with leader election, in this process, against the sandbox: a standby keeps
its caches and leaves Rollouts alone, takes over when the Lease is released, and says so on
/readyz, /healthz and `rollout_controller_leader`."""

from __future__ import annotations

import gc
import threading
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from rollout.cli.controller_cmd import freeze_when_settled, lease_name
from rollout.cli.main import build_parser
from rollout.kube import Kube
from rollout.kube.kinds import LEASES
from rollout.reconciler.controller import Controller
from rollout.reconciler.leader import LeaderElector
from rollout.selectors import SelectorError
from tests.e2e.harness import NS, Cluster
from tests.metrics.scrape import scrape

FAST: dict[str, Any] = {"lease_duration": 3, "renew_deadline": 2.0, "retry_period": 0.2}


def get(port: int | None, path: str) -> tuple[int, str]:
    response = httpx.get(f"http://127.0.0.1:{port}{path}", timeout=5)
    return response.status_code, response.text.strip()


def wait_for(check: Callable[[], bool], what: str, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_a_standby_leaves_rollouts_alone_and_takes_over_when_the_lease_is_released(
    cluster: Cluster,
) -> None:
    other_kube = Kube(cluster.sandbox.api_client())
    other = LeaderElector(other_kube, namespace=NS, identity="other", **FAST)
    assert other.try_acquire_or_renew()
    other.start()
    kube = Kube(cluster.sandbox.api_client())
    controller = Controller(
        kube,
        workers=2,
        max_backoff=1.0,
        metrics_port=0,
        metrics_address="127.0.0.1",
        elector=LeaderElector(kube, namespace=NS, identity="me", **FAST),
    )
    assert controller.readiness() == (False, "rollouts cache not synced")
    try:
        controller.start()
        port = controller.metrics_port
        wait_for(lambda: get(port, "/readyz")[0] == 200, "/readyz")
        assert get(port, "/readyz") == (200, "ok: standby")
        assert get(port, "/healthz") == (200, "ok")
        cluster.create("app")
        wait_for(lambda: controller.caches.rollouts.get(NS, "app") is not None, "the cache")
        time.sleep(1.0)  # several retry periods: a standby that reconciled would have by now
        assert cluster.status("app") == {}
        assert controller.reconciles == 0
        assert len(controller.queue) == 1  # queued, waiting for leadership
        assert scrape(port).value("rollout_controller_leader") == 0

        other.stop(release=True)
        cluster.wait_phase("app", "Healthy", timeout=10)
        assert controller.is_leader()
        assert get(port, "/readyz") == (200, "ok: leader")
        assert scrape(port).value("rollout_controller_leader") == 1
        assert (
            cluster.kube.get(LEASES, "rollout-controller", namespace=NS)["spec"]["holderIdentity"]
            == "me"
        )
    finally:
        controller.stop()
        other.stop(release=False)
        other_kube.close()
    spec = cluster.kube.get(LEASES, "rollout-controller", namespace=NS)["spec"]
    assert spec["holderIdentity"] == ""  # a clean stop released it
    assert spec["leaseTransitions"] == 1  # other -> me; a release is not a transition


def test_healthz_fails_when_a_worker_is_wedged(cluster: Cluster) -> None:
    controller = Controller(
        Kube(cluster.sandbox.api_client()), workers=1, metrics_port=0, heartbeat_timeout=0.5
    )
    try:
        controller.start()
        wait_for(lambda: controller.liveness()[0], "a live controller")
        controller._heartbeats["worker-0"] -= 10  # as if stuck in one reconcile for 10 s
        ok, why = controller.liveness()
        assert not ok and why.startswith("worker-0 has not looped for")
        code, body = get(controller.metrics_port, "/healthz")
        assert code == 503 and body.startswith("worker-0 has not looped for")
        assert get(controller.metrics_port, "/readyz") == (200, "ok: leader (no leader election)")
    finally:
        controller.stop()
    assert controller.liveness() == (False, "stopping")


def test_the_command_line_options_and_their_defaults() -> None:
    parse = build_parser().parse_args
    defaults = parse(["controller"])
    assert defaults.leader_elect is True
    assert (defaults.lease_name, defaults.lease_namespace, defaults.identity) == (
        None,  # then rollout-controller, or rollout-controller-HASH for a shard
        None,  # then -n, else default
        None,  # then hostname-pid
    )
    assert lease_name(defaults.rollout_selector) == "rollout-controller"
    shard = lease_name("shard=a")
    assert shard.startswith("rollout-controller-") and shard != lease_name("shard=b")
    assert (defaults.lease_duration, defaults.renew_deadline, defaults.retry_period) == (
        15,
        10.0,
        2.0,
    )
    given = parse(
        [
            "controller",
            "--no-leader-elect",
            "--lease-name",
            "x",
            "--lease-namespace",
            "ops",
            "--identity",
            "pod-0",
            "--lease-duration",
            "3",
            "--renew-deadline",
            "2",
            "--retry-period",
            "0.5",
        ]
    )
    assert given.leader_elect is False
    assert (given.lease_name, given.lease_namespace, given.identity) == ("x", "ops", "pod-0")
    assert (given.lease_duration, given.renew_deadline, given.retry_period) == (3, 2.0, 0.5)


def test_a_malformed_shard_selector_is_a_usage_error_not_a_controller_that_cannot_list(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as done:
        build_parser().parse_args(["controller", "--rollout-selector", "tier in web"])
    assert done.value.code == 2
    err = capsys.readouterr().err
    assert "argument --rollout-selector: 'tier in web' is not a label selector" in err
    assert "found no '('" in err
    with pytest.raises(SelectorError, match="key: Invalid value"):
        Controller(Kube(object()), rollout_selector="a@b=c")  # before anything is started


def test_the_process_freezes_its_garbage_once_the_first_backlog_is_done() -> None:
    """`rollout controller` freezes the cyclic collector's view of what the first sync left
    (the caches) once its queue is empty after reconciling; a standby that has not
    reconciled yet does not. gc.freeze is process-wide: undone at the end."""

    class Seen:
        reconciles = 0
        queue: list[str] = ["default/a"]

    seen = Seen()
    stop = threading.Event()
    thread = threading.Thread(target=freeze_when_settled, args=(seen, stop), daemon=True)
    assert gc.get_freeze_count() == 0
    try:
        thread.start()
        time.sleep(1.5)
        assert gc.get_freeze_count() == 0  # a standby's queue waits: nothing reconciled
        seen.reconciles, seen.queue = 3, ["default/a"]
        time.sleep(1.5)
        assert gc.get_freeze_count() == 0  # reconciling, still a backlog
        seen.queue = []
        wait_for(lambda: gc.get_freeze_count() > 0, "the freeze", timeout=5)
        thread.join(timeout=5)
        assert not thread.is_alive()  # once, then done
    finally:
        stop.set()
        gc.unfreeze()
