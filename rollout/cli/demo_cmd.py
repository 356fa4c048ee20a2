"""`rollout demo`: the whole product on a built-in sandbox cluster, no real cluster needed."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a canary release and a rollback on a built-in sandbox cluster",
    )
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=1.0,
        help="seconds before new pods become ready in the sandbox (default 1)",
    )
    parser.add_argument(
        "--mesh",
        choices=["istio"],
        help="route traffic through an Istio VirtualService in the sandbox (exact weights)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rollout.demo import run_demo  # noqa: PLC0415

    return run_demo(ready_delay=args.ready_delay, mesh=args.mesh == "istio")
