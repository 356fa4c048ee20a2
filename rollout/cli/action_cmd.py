"""`rollout pause|resume|promote|abort|retry|undo|restart` and `rollout set image`.

Each is one patch on the Rollout (see rollout.api for the exact writes and the README for the
kubectl equivalents). They return as soon as the request is recorded; `rollout status --watch`
waits for the result.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from typing import Any

from rollout.api import RolloutsAPI
from rollout.cli.common import (
    add_cluster_options,
    connect,
    is_label,
    namespace_of,
    object_name,
    text,
)
from rollout.errors import RolloutError

Action = Callable[[RolloutsAPI, str, argparse.Namespace], str]
_IMAGE = re.compile(r"[\x21-\x7e]+")

# verb, help, RolloutsAPI method, what to print once the request is recorded
SIMPLE_ACTIONS = [
    ("pause", "hold the rollout at its current step (spec.paused=true)", "pause", "paused"),
    ("resume", "undo a pause (spec.paused=false)", "resume", "resumed"),
    ("abort", "roll back to stable now (status.abort=true)", "abort", "abort requested"),
    (
        "retry",
        "start an aborted update again from step 1 (status.abort=false)",
        "retry",
        "retry requested",
    ),
    ("restart", "restart the pods (spec.restartAt=now)", "restart", "restart requested"),
]


def _simple(method: str, message: str) -> Action:
    def act(api: RolloutsAPI, namespace: str, args: argparse.Namespace) -> str:
        getattr(api, method)(namespace, args.name)
        return message

    return act


def register(subparsers: Any) -> None:
    for verb, help_text, method, message in SIMPLE_ACTIONS:
        p = subparsers.add_parser(verb, help=help_text)
        add_cluster_options(p)
        p.add_argument("name", type=object_name)
        p.set_defaults(func=_runner(_simple(method, message)))

    p = subparsers.add_parser("promote", help="complete the current step (a pause) and go on")
    add_cluster_options(p)
    p.add_argument("name", type=object_name)
    p.add_argument(
        "--full",
        action="store_true",
        help="skip every remaining step and go to 100%% (status.promoteFull=true)",
    )
    p.add_argument(
        "--skip-gates",
        action="store_true",
        help="start the update although the SLO release gate is closed (needs --reason; audited)",
    )
    p.add_argument("--reason", default="", type=text, help="why the gates are skipped (recorded)")
    p.set_defaults(func=_runner(_promote))

    p = subparsers.add_parser("undo", help="go back to an earlier revision's template")
    add_cluster_options(p)
    p.add_argument("name", type=object_name)
    p.add_argument("--to-revision", type=int, help="revision number (default: the previous one)")
    p.set_defaults(func=_runner(_undo))

    set_parser = subparsers.add_parser("set", help="change a rollout (set image)")
    set_sub = set_parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    p = set_sub.add_parser("image", help="set a container's image: NAME CONTAINER=IMAGE")
    add_cluster_options(p)
    p.add_argument("name", type=object_name)
    p.add_argument("assignments", nargs="+", metavar="CONTAINER=IMAGE")
    p.set_defaults(func=_runner(_set_image))


def _promote(api: RolloutsAPI, ns: str, args: argparse.Namespace) -> str:
    if args.skip_gates:
        api.skip_gates(ns, args.name, reason=args.reason)
        return f"release gate skipped ({args.reason.strip()}); recorded in the rollout's history"
    api.promote(ns, args.name, full=args.full)
    return "promoted (full)" if args.full else "promote requested for the current step"


def _undo(api: RolloutsAPI, ns: str, args: argparse.Namespace) -> str:
    api.undo(ns, args.name, to_revision=args.to_revision)
    target = f"revision {args.to_revision}" if args.to_revision else "the previous revision"
    return f"template set back to {target}"


def _set_image(api: RolloutsAPI, ns: str, args: argparse.Namespace) -> str:
    pairs = []
    for assignment in args.assignments:  # all checked before the first is set
        container, sep, image = assignment.partition("=")
        # An image reference is printable ASCII without spaces (registry/path:tag@digest).
        if not sep or not is_label(container) or not _IMAGE.fullmatch(image):
            raise RolloutError(
                f"{assignment!r} is not CONTAINER=IMAGE",
                hint="for example: rollout set image demo app=registry/app:v2",
            )
        pairs.append((container, image))
    done = []
    for container, image in pairs:
        api.set_image(ns, args.name, container, image)
        done.append(f"{container}={image}")
    return "image set: " + ", ".join(done)


def _runner(act: Action) -> Callable[[argparse.Namespace], int]:
    def run(args: argparse.Namespace) -> int:
        kube = connect(args)
        try:
            result = act(RolloutsAPI(kube), namespace_of(args), args)
        finally:
            kube.close()
        print(f'rollout "{args.name}" {result}')
        return 0

    return run
