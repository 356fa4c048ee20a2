"""`rollout crds`: print the CustomResourceDefinitions, for `rollout crds | kubectl apply -f -`."""

from __future__ import annotations

import argparse
import sys

from rollout.crd import committed_crds_text


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "crds",
        help="print the CRDs (pipe to kubectl apply -f -)",
        description=(
            "Print the CustomResourceDefinitions this controller needs, as YAML. "
            "Install them with: rollout crds | kubectl apply --server-side -f -"
        ),
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    # The committed files, not a fresh generation: what is printed is what was reviewed.
    sys.stdout.write(committed_crds_text())
    return 0
