"""Options shared by the commands that talk to a cluster."""

from __future__ import annotations

import argparse

from rollout.kube import Kube


def add_cluster_options(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument("-n", "--namespace", help="namespace (default: the context's, or default)")
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


def connect(args: argparse.Namespace) -> Kube:
    return Kube.from_config(kubeconfig=args.kubeconfig, context=args.context)


def namespace_of(args: argparse.Namespace) -> str:
    """-n, else the kubeconfig context's namespace, else `default` (as kubectl does)."""
    if getattr(args, "namespace", None):
        return str(args.namespace)
    return Kube.context_namespace(kubeconfig=args.kubeconfig, context=args.context)
