"""Options shared by the commands that talk to a cluster, and the checks on what they are given.

A name or namespace goes into the request's URL as it is (`.../rollouts/NAME`), so one that
Kubernetes could never have created (`""`, `a/b`, `?watch=true`) is refused before any request,
as a usage error, rather than sent: it would list, or watch, or name something else.
"""

from __future__ import annotations

import argparse
import re

import yaml

from rollout.errors import KubeError
from rollout.kube import Kube
from rollout.selectors import SelectorError, parse_label_selector

_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?")  # DNS-1123, as Kubernetes names are
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")  # DNS-1123 label: namespaces, containers


def object_name(value: str) -> str:
    """argparse type: the name of an object (a Rollout), a DNS-1123 subdomain."""
    if len(value) <= 253 and _SUBDOMAIN.fullmatch(value):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is not a valid name (lower-case letters, digits, '-' and '.', at most 253)"
    )


def namespace_name(value: str) -> str:
    """argparse type: a namespace, a DNS-1123 label."""
    if is_label(value):
        return value
    raise argparse.ArgumentTypeError(
        f"{value!r} is not a valid namespace (lower-case letters, digits and '-', at most 63)"
    )


def is_label(value: str) -> bool:
    """A DNS-1123 label (a namespace's or a container's name)."""
    return len(value) <= 63 and bool(_LABEL.fullmatch(value))


def text(value: str) -> str:
    """argparse type: text that is recorded or printed. An argument holding bytes that are not
    UTF-8 reaches Python as lone surrogates, which can be neither sent as JSON text nor
    printed on a UTF-8 terminal."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise argparse.ArgumentTypeError(f"{value!r} is not valid UTF-8 text") from None
    return value


def label_selector(value: str) -> str:
    """argparse type: a label selector (`shard=a`, `tier in (web,api)`), checked as the API
    server checks it: a typo is a usage error now, not every list of a running controller."""
    try:
        text(value)
        parse_label_selector(value)
    except SelectorError as err:
        raise argparse.ArgumentTypeError(f"{value!r} is not a label selector: {err}") from None
    return value


def add_cluster_options(parser: argparse.ArgumentParser, *, all_namespaces: bool = False) -> None:
    parser.add_argument(
        "--kubeconfig", help="kubeconfig file (default: $KUBECONFIG, ~/.kube/config, in-cluster)"
    )
    parser.add_argument("--context", help="kubeconfig context to use")
    parser.add_argument(
        "-n",
        "--namespace",
        type=namespace_name,
        help="namespace (default: the context's, or default)",
    )
    if all_namespaces:
        parser.add_argument("-A", "--all-namespaces", action="store_true", help="every namespace")


def connect(args: argparse.Namespace) -> Kube:
    try:
        return Kube.from_config(kubeconfig=args.kubeconfig, context=args.context)
    except (yaml.YAMLError, OSError, ValueError) as err:
        # Kube.from_config turns a missing or incomplete kubeconfig into a KubeError; a file
        # that is not YAML, not text (UnicodeDecodeError) or not a file, or a server address
        # that is not a URL (ValueError), comes out of the client's loader as it is.
        where = args.kubeconfig or "the kubeconfig"
        reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
        raise KubeError(f"cannot load kubeconfig {where}: {reason}") from None


def namespace_of(args: argparse.Namespace) -> str:
    """-n, else the kubeconfig context's namespace, else `default` (as kubectl does)."""
    if getattr(args, "namespace", None):
        return str(args.namespace)
    namespace = Kube.context_namespace(kubeconfig=args.kubeconfig, context=args.context)
    if not is_label(namespace):  # it goes into URLs too (see above)
        raise KubeError(f"the kubeconfig context's namespace {namespace!r} is not a valid name")
    return namespace
