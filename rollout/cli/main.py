"""Entry point of the `rollout` console script.

Each command module exposes `register(subparsers)`, which adds its sub-commands and sets
`func(args) -> int` on them. Errors we raise on purpose are printed as one clear line (with a
hint when there is one) and exit 2; nothing the user typed ends in a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from rollout.errors import RolloutError

# Command modules, in the order their commands appear in --help, with the commands each adds.
# A command line naming one of these imports only its module: `rollout list` need not build
# the spec models that `rollout lint` validates with (start-up is most of a small command's
# time). tests/cli checks this table against what each module registers.
COMMANDS: dict[str, tuple[str, ...]] = {
    "rollout.cli.lint_cmd": ("lint",),
    "rollout.cli.crds_cmd": ("crds",),
    "rollout.cli.schema_cmd": ("schema",),
    "rollout.cli.install_cmd": ("install",),
    "rollout.cli.controller_cmd": ("controller",),
    "rollout.cli.sandbox_cmd": ("sandbox",),
    "rollout.cli.demo_cmd": ("demo",),
    "rollout.cli.view_cmd": ("list", "get", "status"),
    "rollout.cli.action_cmd": (
        "pause",
        "resume",
        "abort",
        "retry",
        "restart",
        "promote",
        "undo",
        "set",
    ),
    "rollout.cli.dashboard_cmd": ("dashboard",),
}
COMMAND_MODULES = tuple(COMMANDS)


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The parser; with `argv` whose first word is a command, only that command's module is
    imported (any other first word, `--help` or none: all of them, for the full help)."""
    parser = argparse.ArgumentParser(
        prog="rollout",
        description="Progressive delivery for Kubernetes: canary releases with automatic rollback.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    first = argv[0] if argv else None
    wanted = [m for m, commands in COMMANDS.items() if first in commands] or COMMAND_MODULES
    for name in wanted:
        module = importlib.import_module(name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser(words)
    args = parser.parse_args(words)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except RolloutError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    sys.exit(main())
