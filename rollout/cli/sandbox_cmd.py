"""`rollout sandbox`: a local API server speaking the Kubernetes REST API (for the demo,
the tests and trying things out; kubectl works against it too)."""

from __future__ import annotations

import argparse
from typing import Any


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="start the local sandbox API server and write a kubeconfig for it",
    )
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: any)")
    parser.add_argument(
        "--kubeconfig",
        default="sandbox.kubeconfig",
        help="where to write the kubeconfig (default ./sandbox.kubeconfig)",
    )
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=0.0,
        help="seconds before new pods become ready (default 0)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from rollout.sandbox.cli import run_sandbox_cli  # noqa: PLC0415

    argv = [
        "--port",
        str(args.port),
        "--kubeconfig",
        args.kubeconfig,
        "--ready-delay",
        str(args.ready_delay),
    ]
    return run_sandbox_cli(argv)
