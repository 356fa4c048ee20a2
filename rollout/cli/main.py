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

# Command modules, in the order their commands appear in --help.
COMMAND_MODULES = (
    "rollout.cli.lint_cmd",
    "rollout.cli.crds_cmd",
    "rollout.cli.schema_cmd",
    "rollout.cli.install_cmd",
    "rollout.cli.controller_cmd",
    "rollout.cli.sandbox_cmd",
    "rollout.cli.demo_cmd",
    "rollout.cli.view_cmd",
    "rollout.cli.action_cmd",
    "rollout.cli.dashboard_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rollout",
        description="Progressive delivery for Kubernetes: canary releases with automatic rollback.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMAND_MODULES:
        module = importlib.import_module(name)
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
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
