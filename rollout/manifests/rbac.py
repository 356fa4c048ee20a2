"""The controller's permissions: each one named after the code path that needs it.

This table is the single source of the install manifests' RBAC (ClusterRole or Role,
the leader-election Role) and of the Helm chart's. tests/install/test_rbac.py runs the
real controller under exactly these rules against the sandbox, which enforces RBAC
like an API server, and checks both directions: every request the controller makes
is granted (nothing missing) and every grant is used by some scenario (nothing extra).
Adding a `kube.<verb>(KIND)` call without its grant here fails those tests.

Routers are optional: an install for Istio only needs no Ingress or HTTPRoute rights.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Grant:
    group: str
    resources: tuple[str, ...]
    verbs: tuple[str, ...]
    why: str  # the code that needs it: keep this true when the code moves
    cluster_scoped: bool = False

    def rule(self) -> dict[str, Any]:
        return {
            "apiGroups": [self.group],
            "resources": list(self.resources),
            "verbs": list(self.verbs),
        }


WATCH = ("get", "list", "watch")

# What every install needs, whatever the traffic layer.
CORE: tuple[Grant, ...] = (
    Grant(
        "rollout.dev",
        ("rollouts",),
        ("list", "watch", "patch"),
        "reconciler/informer.py (cache; never a single get); reconcile.py patches the finalizer",
    ),
    Grant("rollout.dev", ("rollouts/status",), ("update",), "reconcile.py _persist (guarded PUT)"),
    Grant(
        "rollout.dev",
        ("analysistemplates",),
        ("get",),
        "reconciler/analyst.py and analysis/preflight_analysis.py read templates",
    ),
    Grant(
        "rollout.dev",
        ("clusteranalysistemplates",),
        ("get",),
        "the same, for cluster-wide templates",
        cluster_scoped=True,
    ),
    Grant(
        "apps",
        ("deployments",),
        (*WATCH, "create", "patch", "delete"),
        "reconciler/execute.py creates, scales and removes revisions; informer.py",
    ),
    Grant(
        "",
        ("services",),
        ("list", "watch", "patch"),
        "execute.py pins selectors to revisions; informer.py (preflight reads the cache)",
    ),
    Grant("", ("events",), ("create",), "reconcile.py _event: what `rollout get` shows"),
    Grant(
        "",
        ("secrets",),
        ("get",),
        "rollout/secrets.py: provider and notification credentials; preflight_objects.py",
    ),
    Grant(
        "",
        ("configmaps", "serviceaccounts", "persistentvolumeclaims"),
        ("get",),
        "analysis/preflight_objects.py: what the pod template refers to exists",
    ),
    Grant(
        "storage.k8s.io",
        ("storageclasses",),
        ("get",),
        "preflight_objects.py: a PVC's StorageClass exists",
        cluster_scoped=True,
    ),
    Grant(
        "scheduling.k8s.io",
        ("priorityclasses",),
        ("get",),
        "preflight_objects.py: the pod template's PriorityClass exists",
        cluster_scoped=True,
    ),
    Grant(
        "networking.k8s.io",
        ("ingressclasses",),
        ("get",),
        "analysis/preflight.py: a routed Ingress's class exists (nginx; a get is harmless)",
        cluster_scoped=True,
    ),
    Grant(
        "batch",
        ("jobs",),
        ("get", "list", "create", "delete"),
        "analysis/providers/job.py: the job provider's Jobs (list finds one after a restart)",
    ),
    Grant("", ("pods",), ("list",), "job.py: the Pods of a finished Job"),
    Grant("", ("pods/log",), ("get",), "job.py: the tail of a Job's log, kept with the run"),
)

# The Lease lives in the controller's own namespace: a Role there, never cluster-wide.
LEADER_ELECTION: tuple[Grant, ...] = (
    Grant(
        "coordination.k8s.io",
        ("leases",),
        ("get", "create", "update"),
        "reconciler/leader.py: acquire, renew and release the Lease",
    ),
)

ROUTERS: dict[str, tuple[Grant, ...]] = {
    "replicas": (),  # the default without a traffic layer: pod ratios only, CORE covers it
    "istio": (
        Grant(
            "networking.istio.io",
            ("virtualservices", "destinationrules"),
            ("get", "update"),
            "meshes/istio.py: route weights and subsets",
        ),
    ),
    "nginx": (
        Grant(
            "networking.k8s.io",
            ("ingresses",),
            ("get", "create", "update", "delete"),
            "meshes/nginx.py: the canary Ingress beside the user's; preflight.py reads it",
        ),
    ),
    "gatewayAPI": (
        Grant(
            "gateway.networking.k8s.io",
            ("httproutes", "grpcroutes"),
            ("get", "update"),
            "meshes/gateway_api.py and gateway_routes.py: backendRef weights",
        ),
    ),
    "linkerd": (
        Grant(
            "",
            ("services",),
            ("get",),
            "meshes/linkerd.py and preflight read the TrafficSplit's root Service",
        ),
        Grant(
            "split.smi-spec.io",
            ("trafficsplits",),
            ("get", "create", "update", "delete"),
            "meshes/linkerd.py: the TrafficSplit it owns",
        ),
        Grant(
            "policy.linkerd.io",
            ("httproutes",),
            ("get", "update"),
            "meshes/linkerd.py via gateway_routes.py: backendRef weights of Linkerd's HTTPRoute",
        ),
        Grant(
            "gateway.networking.k8s.io",
            ("httproutes",),
            ("get", "update"),
            "the same, when the route is Gateway API's own HTTPRoute",
        ),
    ),
}


def grants(routers: Iterable[str]) -> list[Grant]:
    """CORE plus each named router's grants (unknown names are a ValueError)."""
    chosen = list(CORE)
    for name in routers:
        if name not in ROUTERS:
            known = ", ".join(sorted(ROUTERS))
            raise ValueError(f"unknown router {name!r} (known: {known})")
        chosen.extend(ROUTERS[name])
    return chosen


def rules(chosen: Iterable[Grant]) -> list[dict[str, Any]]:
    """PolicyRules, one per grant, in table order (stable output for review and diffs)."""
    return [grant.rule() for grant in chosen]
