"""A leader frozen in the middle of a reconcile, and resumed after a new leader took the Lease,
sends none of that reconcile's remaining writes: each write asks `is_leader()` right before it
goes out (the client's write guard). The freeze is made exact: when the status write of the
first decision returns, the test hands the Lease to another holder (what a standby does while
the leader is stopped) and moves this elector's monotonic clock past its renew deadline (what
a SIGSTOP does to it). Without the guard the same reconcile goes on, at once, to create the
revision's Deployment (the action its status write recorded) as a leader that no longer is.
SIGSTOP of a real process is in test_two_controllers.py."""

from __future__ import annotations

import threading
import time

from rollout.kube import Kube
from rollout.kube.kinds import LEASES, SERVICES
from rollout.reconciler.controller import Controller
from rollout.reconciler.leader import LeaderElector
from tests.e2e.harness import NS, Cluster
from tests.leader.test_controller import wait_for
from tests.metrics.scrape import scrape

# The takeover by the other holder must be able to outlast the freeze: leadership comes back
# only once its Lease is 6 s unrenewed, while the frozen reconcile's next write is milliseconds
# away. The jump (3 s) is past the renew deadline (2 s).
TIMING = {"lease_duration": 6, "renew_deadline": 2.0, "retry_period": 0.2}
JUMP = 3.0


def test_a_leader_frozen_mid_reconcile_sends_none_of_the_rest_of_its_writes(
    cluster: Cluster,
) -> None:
    offset = [0.0]
    kube = Kube(cluster.sandbox.api_client())
    elector = LeaderElector(
        kube, namespace=NS, identity="me", monotonic=lambda: time.monotonic() + offset[0], **TIMING
    )
    controller = Controller(kube, workers=1, max_backoff=1.0, metrics_port=0, elector=elector)
    sent: list[tuple[str, str, str, int]] = []  # every request this controller's client sent
    frozen = threading.Event()

    def observe(verb: str, resource: str, sub: str, code: int) -> None:
        sent.append((verb, resource, sub, code))
        if (verb, resource, sub, code) != ("update", "rollouts", "status", 200) or frozen.is_set():
            return
        frozen.set()
        sent.append(("FROZEN", "", "", 0))
        # The standby takes the Lease while we are stopped; then our clock shows the stop.
        lease = cluster.kube.get(LEASES, "rollout-controller", namespace=NS)
        lease["spec"]["holderIdentity"] = "other"
        cluster.kube.replace(LEASES, lease, namespace=NS)
        offset[0] += JUMP

    try:
        controller.start()
        wait_for(controller.is_leader, "leadership")
        kube.add_request_observer(observe)
        cluster.create("app")
        cluster.wait_phase("app", "Healthy", timeout=30)  # leadership came back, it converged
        port = controller.metrics_port
        assert scrape(port).value("rollout_reconcile_errors_total", kind="fenced") >= 1
    finally:
        kube.remove_request_observer(observe)
        controller.stop()
    assert frozen.is_set()
    at = sent.index(("FROZEN", "", "", 0))
    regained = next(
        i
        for i, (verb, resource, _, code) in enumerate(sent)
        if i > at and resource == "leases" and verb in ("update", "create") and code == 200
    )
    between = sent[at + 1 : regained]
    writes = [r for r in between if r[0] not in ("get", "list", "watch") and r[1] != "leases"]
    assert writes == []
    # The write the freeze withheld is made after leadership is back: the revision's Deployment.
    assert ("create", "deployments", "", 201) in sent[regained:]
    # The guard goes with the controller: its client (released Lease, no leader) writes again.
    assert not elector.is_leader()
    kube.patch(SERVICES, "app-stable", {"metadata": {"labels": {"after": "stop"}}}, namespace=NS)
    kube.close()
