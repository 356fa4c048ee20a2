"""`rollout controller`: run the controller against a cluster until stopped."""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from typing import Any

from rollout.cli.common import add_cluster_options, connect


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
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rollout.reconciler.controller import Controller  # noqa: PLC0415  (keeps `lint` light)

    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    kube = connect(args)
    controller = Controller(kube, namespace=args.namespace, workers=args.workers)
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    controller.start()
    try:
        stop.wait()
    finally:
        controller.stop()
        kube.close()
    return 0
