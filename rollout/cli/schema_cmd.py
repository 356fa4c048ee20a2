"""`rollout schema`: print the JSON Schema of our spec files, for editors (yaml-language-server)."""

from __future__ import annotations

import argparse
import sys

from rollout.editor_schema import KINDS, combined_schema, kind_schema, render


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "schema",
        help="print the JSON Schema of Rollout and analysis template files (for editors)",
        description=(
            "Print the JSON Schema (draft-07) of our spec files: by default one for any of them "
            "(each document is checked by its kind), or with --kind the schema of one kind. "
            "Point yaml-language-server at it with a first line such as "
            "'# yaml-language-server: $schema=rollout.dev.json'. The same files are committed "
            "under deploy/schema/."
        ),
    )
    parser.add_argument("--kind", choices=KINDS, help="only this kind's schema")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # Generated, not read from deploy/schema/: an installed package has no deploy/ folder, and
    # the drift test keeps the committed files equal to this output.
    schema = kind_schema(args.kind) if args.kind else combined_schema()
    sys.stdout.write(render(schema))
    return 0
