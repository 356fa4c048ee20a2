"""`rollout lint FILE|DIR...`: check Rollout documents offline, as the controller would."""

from __future__ import annotations

import argparse

from rollout.lint import lint_report

DESCRIPTION = """\
Check Rollout documents without a cluster, with the same rules the controller applies.
Prints one line per problem (file:line (document N): field.path: reason), then a summary.

A DIR is searched recursively for *.yaml and *.yml files (hidden directories are skipped).
Documents of other kinds in it (Services, Deployments, ...) are skipped and counted; a
directory with no YAML file or no Rollout at all is a problem. A FILE named explicitly must
contain at least one Rollout; other kinds next to a Rollout in the same file are skipped.
Use - to read standard input.

Exit status: 0 if everything is valid, 1 if any problem was found, 2 on a usage error.
"""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "lint",
        help="check Rollout files and folders offline",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("paths", nargs="+", metavar="FILE|DIR", help="files or directories")
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    report = lint_report(args.paths)
    for problem in report.problems:
        print(problem.render())
    print(report.summary)
    return 0 if report.ok else 1
