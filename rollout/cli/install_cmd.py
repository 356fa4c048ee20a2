"""`rollout install`: print the manifests that run the controller in a cluster.

    rollout install | kubectl apply --server-side -f -

The same objects are committed under deploy/ and templated by the Helm chart there.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from rollout.cli.common import label_selector
from rollout.manifests import InstallOptions, install_documents, render
from rollout.manifests.objects import DEFAULT_IMAGE
from rollout.manifests.rbac import ROUTERS


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "install",
        help="print the install manifests (pipe to kubectl apply -f -)",
        description=(
            "Print the CRDs, ServiceAccount, least-privilege RBAC, controller Deployment "
            "(2 replicas, leader election), PodDisruptionBudget and metrics Service, as YAML."
        ),
    )
    parser.add_argument(
        "--namespace",
        default="rollout-system",
        help="where the controller runs and its Lease lives (default %(default)s)",
    )
    parser.add_argument(
        "--name",
        default="rollout-controller",
        help="name of the objects; give each shard its own (default %(default)s)",
    )
    parser.add_argument("--image", default=DEFAULT_IMAGE, help="(default %(default)s)")
    parser.add_argument("--replicas", type=int, default=2, help="(default %(default)s)")
    parser.add_argument(
        "--watch-namespace",
        metavar="NS",
        help="namespace-scoped install: act only on Rollouts in NS, with a Role there "
        "instead of a ClusterRole",
    )
    parser.add_argument(
        "--rollout-selector",
        metavar="SELECTOR",
        type=label_selector,
        help="shard: act only on Rollouts whose labels match (use with its own --name)",
    )
    parser.add_argument(
        "--routers",
        default=",".join(sorted(ROUTERS)),
        help="traffic layers to grant access to, comma-separated (default: all: %(default)s)",
    )
    parser.add_argument("--no-crds", dest="crds", action="store_false", help="leave the CRDs out")
    parser.add_argument(
        "--no-namespace",
        dest="create_namespace",
        action="store_false",
        help="leave the Namespace object out (it exists already)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    routers = tuple(r.strip() for r in args.routers.split(",") if r.strip())
    try:
        options = InstallOptions(
            namespace=args.namespace,
            name=args.name,
            image=args.image,
            replicas=args.replicas,
            watch_namespace=args.watch_namespace,
            rollout_selector=args.rollout_selector,
            routers=routers,
            include_crds=args.crds,
            include_namespace=args.create_namespace,
        )
    except ValueError as err:
        print(f"rollout install: {err}", file=sys.stderr)
        return 2
    sys.stdout.write(render(install_documents(options)))
    return 0
