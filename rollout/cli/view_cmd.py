"""`rollout list`, `rollout get`, `rollout status`: reading rollouts.

`status --watch` is made for CI jobs: exit 0 when the rollout completes (Healthy, on the spec
the command started with), 1 when it is Degraded (aborted, deadline, invalid spec), 3 on
timeout; 2 is for usage and connection errors, as for every command.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from rollout import jsonwire
from rollout.api import RolloutsAPI
from rollout.cli.common import add_cluster_options, connect, namespace_of, object_name
from rollout.cli.render import describe, dump, list_rows, step_column
from rollout.cli.render_bluegreen import blue_green_spec, stage_column
from rollout.errors import TransientKubeError
from rollout.kube.client import Obj
from rollout.models.base import parse_duration

EXIT_DEGRADED = 1
EXIT_TIMEOUT = 3


def register(subparsers: Any) -> None:
    p = subparsers.add_parser("list", help="list rollouts")
    add_cluster_options(p, all_namespaces=True)
    p.add_argument("-o", "--output", choices=["json", "yaml"], help="print the objects")
    p.set_defaults(func=run_list)

    p = subparsers.add_parser("get", help="show one rollout: steps, revisions, conditions, events")
    add_cluster_options(p)
    p.add_argument("name", type=object_name)
    p.add_argument("-o", "--output", choices=["json", "yaml"], help="print the object")
    p.set_defaults(func=run_get)

    p = subparsers.add_parser(
        "status",
        help="print a rollout's status; with --watch, wait for it to finish",
        description="Exit codes: 0 Healthy, 1 Degraded (aborted / deadline / invalid), "
        "3 timed out, 2 usage or connection error.",
    )
    add_cluster_options(p)
    p.add_argument("name", type=object_name)
    p.add_argument("-w", "--watch", action="store_true", help="wait until Healthy or Degraded")
    p.add_argument(
        "-t", "--timeout", default="10m", type=_duration, help="with --watch: give up after (10m)"
    )
    p.set_defaults(func=run_status)


def _duration(value: str) -> str:
    """argparse type: a duration (`90`, `30s`, `10m`, `1h`), kept as written for messages."""
    try:
        parse_duration(value)
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"{value!r}: {err}") from None
    return value


def run_list(args: argparse.Namespace) -> int:
    # One shot: all it allocates lives until it has printed, so the cyclic garbage collector
    # has nothing to find; it would only walk the decoded Rollouts again and again while they
    # are sorted and rendered (0.3-0.4 s of `list -A` at 10,000). Restored after, for callers
    # that go on (the tests call `main` in their own process).
    with jsonwire.collector_paused():
        return _list(args)


def _list(args: argparse.Namespace) -> int:
    kube = connect(args)
    try:
        namespace = None if args.all_namespaces else namespace_of(args)
        rollouts = RolloutsAPI(kube).rollouts(namespace)
    finally:
        kube.close()
    if args.output:
        print(dump({"apiVersion": "v1", "kind": "List", "items": rollouts}, args.output))
    elif not rollouts:
        where = "any namespace" if args.all_namespaces else f'namespace "{namespace}"'
        print(f"No rollouts found in {where}.")
    else:
        print(list_rows(rollouts, namespaces=args.all_namespaces))
    return 0


def run_get(args: argparse.Namespace) -> int:
    kube = connect(args)
    try:
        api, namespace = RolloutsAPI(kube), namespace_of(args)
        rollout = api.get(namespace, args.name)
        if args.output:
            print(dump(rollout, args.output))
            return 0
        print(
            describe(rollout, api.revisions(namespace, args.name), api.events(namespace, args.name))
        )
    finally:
        kube.close()
    return 0


def verdict(rollout: Obj, generation: int) -> str | None:
    """'Healthy' / 'Degraded' once the controller has seen `generation` and finished; None while
    it is still going."""
    status = rollout.get("status") or {}
    if (status.get("observedGeneration") or 0) < generation:
        return None
    phase = status.get("phase")
    return phase if phase in ("Healthy", "Degraded") else None


def run_status(args: argparse.Namespace) -> int:
    timeout = parse_duration(args.timeout)
    kube = connect(args)
    try:
        api, namespace = RolloutsAPI(kube), namespace_of(args)
        rollout = api.get(namespace, args.name)
        generation = int(rollout["metadata"].get("generation") or 1)
        if not args.watch:
            _print_status(rollout)
            return EXIT_DEGRADED if verdict(rollout, generation) == "Degraded" else 0
        deadline = time.monotonic() + timeout
        last = None
        while time.monotonic() < deadline:
            remaining = max(1, int(deadline - time.monotonic()))
            try:
                for rollout in api.watch(namespace, args.name, timeout_seconds=min(remaining, 60)):
                    shown = _line(rollout)
                    if shown != last:
                        print(shown, flush=True)
                        last = shown
                    result = verdict(rollout, generation)
                    if result is not None:
                        return 0 if result == "Healthy" else EXIT_DEGRADED
                    if time.monotonic() >= deadline:
                        break
            except TransientKubeError:
                time.sleep(1)  # the watch dropped: look again
        print(f"timed out after {args.timeout} waiting for rollout {args.name}", file=sys.stderr)
        return EXIT_TIMEOUT
    finally:
        kube.close()


def _line(rollout: Obj) -> str:
    status = rollout.get("status") or {}
    where = (
        f"stage {stage_column(rollout)}"
        if blue_green_spec(rollout) is not None
        else f"step {step_column(rollout)}"
    )
    return f"{status.get('phase', 'Unknown')} - {where} - {status.get('message', '')}"


def _print_status(rollout: Obj) -> None:
    print(_line(rollout))
