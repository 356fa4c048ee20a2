"""`rollout dashboard`: the terminal dashboard (Textual), live from watches.

The only CLI module that reaches the `dashboards` package, and only when the command runs:
every other command starts without importing Textual.
"""

from __future__ import annotations

import argparse
from typing import Any

from rollout.api import RolloutsAPI
from rollout.cli.common import add_cluster_options, connect, namespace_of
from rollout.errors import RolloutError


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "dashboard",
        help="a live terminal dashboard: list, details, actions (q quits, ? for help)",
    )
    add_cluster_options(parser, all_namespaces=True)
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if args.namespace and args.all_namespaces:
        raise RolloutError("give -n NAMESPACE or -A, not both")
    from dashboards.app import DashboardApp  # noqa: PLC0415  # Textual only for this command

    kube = connect(args)
    try:
        namespace = None if args.all_namespaces else namespace_of(args)
        DashboardApp(RolloutsAPI(kube), namespace=namespace).run()
    finally:
        kube.close()
    return 0
