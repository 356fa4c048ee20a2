"""Applying the install manifests' RBAC to a sandbox and reading what a ServiceAccount did.

The sandbox enforces RBAC for token-bearing requests (rollout/sandbox/authz.py), so a
client made here acts with exactly the rights `rollout install` grants, no more.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from rollout.kube import Kind, Kube
from rollout.manifests import InstallOptions, install_documents
from rollout.manifests.rbac import Grant
from rollout.sandbox import Sandbox
from rollout.sandbox.faults import RequestRecord

_RBAC = "rbac.authorization.k8s.io"
KINDS = {
    "Namespace": Kind("", "v1", "namespaces", "Namespace", namespaced=False),
    "ServiceAccount": Kind("", "v1", "serviceaccounts", "ServiceAccount"),
    "ClusterRole": Kind(_RBAC, "v1", "clusterroles", "ClusterRole", namespaced=False),
    "ClusterRoleBinding": Kind(
        _RBAC, "v1", "clusterrolebindings", "ClusterRoleBinding", namespaced=False
    ),
    "Role": Kind(_RBAC, "v1", "roles", "Role"),
    "RoleBinding": Kind(_RBAC, "v1", "rolebindings", "RoleBinding"),
}


@dataclass(frozen=True)
class Account:
    user: str  # as the request log names it
    kubeconfig: Path


def apply_identity(
    sandbox: Sandbox, admin: Kube, options: InstallOptions, directory: Path
) -> Account:
    """Create the install's Namespace, ServiceAccount and RBAC objects (as the admin, as a
    person's `kubectl apply` would), and a kubeconfig acting as that ServiceAccount."""
    for doc in install_documents(options):
        kind = KINDS.get(doc["kind"])
        if kind is None:
            continue  # CRDs are installed by the harness; the workload is not needed here
        admin.create(kind, doc, namespace=doc["metadata"].get("namespace"))
    token = sandbox.issue_token(options.namespace, options.name)
    kubeconfig = directory / f"{options.name}.kubeconfig"
    sandbox.write_kubeconfig(kubeconfig, token=token)
    return Account(f"system:serviceaccount:{options.namespace}:{options.name}", kubeconfig)


def requests_of(sandbox: Sandbox, user: str) -> list[RequestRecord]:
    return [r for r in sandbox.requests.entries() if r.user == user]


def refused(records: Iterable[RequestRecord]) -> list[str]:
    return [
        f"{r.verb} {r.group}/{r.resource}{'/' + r.subresource if r.subresource else ''}"
        f" ns={r.namespace} -> {r.status}"
        for r in records
        if r.status in (401, 403)
    ]


def used(records: Iterable[RequestRecord]) -> set[tuple[str, str, str]]:
    """(group, resource[/subresource], verb) of every request that was answered."""
    return {
        (r.group, r.resource + (f"/{r.subresource}" if r.subresource else ""), r.verb)
        for r in records
        if r.status not in (0, 401, 403)
    }


def granted(grants: Iterable[Grant]) -> set[tuple[str, str, str]]:
    return {(g.group, res, verb) for g in grants for res in g.resources for verb in g.verbs}


def eventually(check: Callable[[], bool], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


def service_account_kube(sandbox: Sandbox, account: Account) -> Kube:
    return Kube.from_config(kubeconfig=str(account.kubeconfig))
