"""Foreground sandbox runner: ``python -m rollout.sandbox`` and ``rollout sandbox``.

Owns argument parsing and running until SIGINT/SIGTERM, so a sandbox can be
started in its own process and steered through its ``/sandbox/`` admin API.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from types import FrameType

from .sandbox import start_sandbox


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollout sandbox",
        description="Run a local Kubernetes API sandbox (no cluster needed).",
    )
    parser.add_argument(
        "--port", type=int, default=0, help="port on 127.0.0.1 (default: any free port)"
    )
    parser.add_argument(
        "--kubeconfig", default=None, help="write a kubeconfig pointing at the sandbox here"
    )
    parser.add_argument(
        "--namespace", default="default", help="namespace for the kubeconfig context"
    )
    parser.add_argument(
        "--ready-delay", type=float, default=0.0, help="seconds before simulated pods become ready"
    )
    return parser


def run_sandbox_cli(argv: list[str] | None = None) -> int:
    """Run a sandbox in the foreground until SIGINT/SIGTERM; returns the exit code."""
    args = build_parser().parse_args(argv)
    try:
        sandbox = start_sandbox(port=args.port, ready_delay=args.ready_delay)
    except OSError as exc:
        print(f"sandbox: cannot listen on port {args.port}: {exc}", file=sys.stderr)
        return 1
    done = threading.Event()

    def on_signal(_signum: int, _frame: FrameType | None) -> None:
        done.set()

    previous = {}
    if threading.current_thread() is threading.main_thread():  # signals need the main thread
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        if args.kubeconfig:
            sandbox.write_kubeconfig(args.kubeconfig, namespace=args.namespace)
        print(f"sandbox: serving on {sandbox.url}", flush=True)
        if args.kubeconfig:
            print(f"sandbox: kubeconfig written to {args.kubeconfig}", flush=True)
        while not done.wait(0.5):
            pass
    finally:
        sandbox.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    print("sandbox: stopped", flush=True)
    return 0
