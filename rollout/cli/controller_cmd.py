"""`rollout controller`: run the controller against a cluster until stopped."""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import logging
import signal
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rollout.cli.common import add_cluster_options, connect, label_selector

if TYPE_CHECKING:
    from rollout.reconciler.controller import Controller

log = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "controller",
        help="run the controller (kubeconfig or in-cluster config)",
        description="Watch Rollouts and move them forward. Stops cleanly on SIGTERM/SIGINT.",
    )
    add_cluster_options(parser)
    parser.add_argument("--workers", type=int, default=4, help="parallel reconciles (default 4)")
    parser.add_argument(
        "--log-level", default="info", choices=["debug", "info", "warning", "error"]
    )
    parser.add_argument(
        "--stats-file",
        help="on exit, write reconcile count, latency percentiles and API requests by verb "
        "here as JSON (for benchmarks); SIGUSR1 resets those counters",
    )
    parser.add_argument(
        "--metrics-port",
        type=int,
        default=8090,
        metavar="PORT",
        help="serve Prometheus metrics on http://ADDRESS:PORT/metrics (default 8090; 0: none)",
    )
    parser.add_argument(
        "--metrics-address",
        default="0.0.0.0",
        metavar="ADDRESS",
        help="the address to serve metrics on (default 0.0.0.0: every interface)",
    )
    parser.add_argument(
        "--rollout-selector",
        metavar="SELECTOR",
        type=label_selector,
        help="shard: act only on Rollouts whose labels match this selector (e.g. "
        "'shard=a' or 'tier in (web,api)'); run one controller per shard, each with its "
        "own Lease (the default Lease name then includes the selector's hash)",
    )
    election = parser.add_argument_group("leader election (a coordination.k8s.io/v1 Lease)")
    election.add_argument(
        "--leader-elect",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="act only while holding the Lease; replicas without it stand by, caches warm "
        "(default: on)",
    )
    election.add_argument(
        "--lease-name",
        help="(default rollout-controller, or rollout-controller-HASH with --rollout-selector)",
    )
    election.add_argument(
        "--lease-namespace", help="(default: the namespace given with -n, else default)"
    )
    election.add_argument(
        "--identity", help="this replica's holder identity (default: hostname-pid)"
    )
    election.add_argument(
        "--lease-duration",
        type=int,
        default=15,
        metavar="SECONDS",
        help="how long standbys wait on a Lease that stopped being renewed (default 15)",
    )
    election.add_argument(
        "--renew-deadline",
        type=float,
        default=10.0,
        metavar="SECONDS",
        help="stop acting when the Lease has not been renewed for this long (default 10)",
    )
    election.add_argument(
        "--retry-period",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="how often to renew or try to acquire the Lease (default 2)",
    )
    parser.set_defaults(func=run)


def lease_name(rollout_selector: str | None) -> str:
    """One Lease per shard, so two shards never stand by for each other by accident."""
    if not rollout_selector:
        return "rollout-controller"
    digest = hashlib.sha256(rollout_selector.encode()).hexdigest()[:10]
    return f"rollout-controller-{digest}"


def freeze_when_settled(controller: Controller, stop: threading.Event) -> None:
    """Once the first backlog is done (something reconciled, then the queue empty), collect
    the garbage and freeze what is left: the caches' Rollouts, Deployments and Services, and
    the revisions just written. Every full collection of the cyclic collector walked those
    millions of containers again, with every thread stopped: 12 full collections, 5.75 s in
    all and the longest 1.03 s, in one 10,000-Rollout benchmark run
    (bench-results/gc-freeze-ab.json). Frozen, they
    are left alone, and still freed by reference counting when the cache replaces them
    (decoded JSON holds no cycles); what changes later is collected as usual. A standby,
    whose queue waits for leadership, does not freeze until it has led."""
    while not stop.wait(1.0):
        if controller.reconciles and not len(controller.queue):
            gc.collect()
            gc.freeze()
            log.info(
                "garbage collector: %d objects frozen after the first sync", gc.get_freeze_count()
            )
            return


def run(args: argparse.Namespace) -> int:
    from rollout.reconciler.controller import Controller  # noqa: PLC0415  (keeps `lint` light)
    from rollout.reconciler.leader import LeaderElector  # noqa: PLC0415

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    kube = connect(args)
    elector = None
    if args.leader_elect:
        try:
            elector = LeaderElector(
                kube,
                name=args.lease_name or lease_name(args.rollout_selector),
                namespace=args.lease_namespace or args.namespace or "default",
                identity=args.identity,
                lease_duration=args.lease_duration,
                renew_deadline=args.renew_deadline,
                retry_period=args.retry_period,
            )
        except ValueError as err:
            print(f"rollout controller: {err}", file=sys.stderr)
            return 2
    controller = Controller(
        kube,
        namespace=args.namespace,
        workers=args.workers,
        metrics_port=args.metrics_port or None,  # on the command line 0 means none
        metrics_address=args.metrics_address,
        elector=elector,
        rollout_selector=args.rollout_selector,
    )
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    signal.signal(signal.SIGUSR1, lambda *_: controller.reset_stats())
    controller.start()
    threading.Thread(
        target=freeze_when_settled, args=(controller, stop), name="gc-freeze", daemon=True
    ).start()
    try:
        stop.wait()
    finally:
        controller.stop()
        if args.stats_file:
            Path(args.stats_file).write_text(json.dumps(controller.stats(), indent=2))
        kube.close()
    return 0
