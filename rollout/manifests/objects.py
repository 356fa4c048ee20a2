"""The install manifests: every object a cluster needs to run the controller.

`install_documents(options)` returns them in apply order (Namespace, CRDs, RBAC, then the
workload), as plain dicts; `rollout install` prints them, `deploy/` holds the committed
renderings and the Helm chart templates the same objects (tests compare the two).

Decisions where the issue left room, with the Argo Rollouts / Flagger practice they follow:
- Two replicas with leader election, a PodDisruptionBudget of minAvailable 1 and a
  preferred anti-affinity across nodes: a drain never takes both, and the standby's caches
  are warm when it takes over.
- The Lease is granted by a Role in the controller's namespace only.
- A namespace-scoped install (`watch_namespace`) grants its namespaced rights through a
  Role in that namespace; the few cluster-scoped kinds the controller reads (cluster
  analysis templates, StorageClasses, PriorityClasses, IngressClasses: `get` only) stay in
  a small ClusterRole, since preflight must read them. CRDs are cluster-wide by nature:
  `include_crds=False` leaves them to a cluster admin.
- Sharding (`rollout_selector`): each shard is its own install (own `name`), with its own
  Lease, acting only on the Rollouts its selector matches.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rollout.crd import crd_documents, to_yaml
from rollout.manifests.rbac import LEADER_ELECTION, ROUTERS, Grant, grants, rules
from rollout.selectors import parse_label_selector

Obj = dict[str, Any]

# What the README's `docker build -t rollout-controller:0.1.0 .` makes; no image is published.
DEFAULT_IMAGE = "rollout-controller:0.1.0"
METRICS_PORT = 8090
# The image's user (Dockerfile): not root, and a number so runAsNonRoot can check it.
RUN_AS_USER = 65532
RBAC_API = "rbac.authorization.k8s.io/v1"


@dataclass(frozen=True)
class InstallOptions:
    namespace: str = "rollout-system"  # where the controller runs (and its Lease lives)
    name: str = "rollout-controller"  # prefix of every object; differs per shard
    image: str = DEFAULT_IMAGE
    replicas: int = 2
    watch_namespace: str | None = None  # None: every namespace (ClusterRole)
    rollout_selector: str | None = None  # shard: only the Rollouts this selects
    routers: tuple[str, ...] = field(default_factory=lambda: tuple(sorted(ROUTERS)))
    include_crds: bool = True
    include_namespace: bool = True
    log_level: str = "info"

    def __post_init__(self) -> None:
        grants(self.routers)  # unknown router names fail here, before anything is printed
        if self.replicas < 1:
            raise ValueError("replicas must be at least 1")
        if self.rollout_selector:  # it goes into the controller's arguments: check it here
            parse_label_selector(self.rollout_selector)  # SelectorError is a ValueError


def install_documents(options: InstallOptions | None = None) -> list[Obj]:
    opts = options or InstallOptions()
    docs: list[Obj] = []
    if opts.include_namespace:
        docs.append(
            {"apiVersion": "v1", "kind": "Namespace", "metadata": _meta(opts, opts.namespace)}
        )
    if opts.include_crds:
        docs.extend(crd_documents())
    docs.append(
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": _meta(opts, opts.name, opts.namespace),
        }
    )
    docs.extend(_rbac(opts))
    docs.append(_deployment(opts))
    if opts.replicas > 1:  # with one replica a PDB of minAvailable 1 would block every drain
        docs.append(_pdb(opts))
    docs.append(_metrics_service(opts))
    return docs


def _labels(opts: InstallOptions) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "rollout-controller",
        "app.kubernetes.io/instance": opts.name,
        "app.kubernetes.io/component": "controller",
        "app.kubernetes.io/managed-by": "rollout-install",
    }


def _selector(opts: InstallOptions) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": "rollout-controller",
        "app.kubernetes.io/instance": opts.name,
    }


def _meta(opts: InstallOptions, name: str, namespace: str | None = None) -> Obj:
    meta: Obj = {"name": name}
    if namespace is not None:
        meta["namespace"] = namespace
    meta["labels"] = _labels(opts)
    return meta


def _subject(opts: InstallOptions) -> list[Obj]:
    return [{"kind": "ServiceAccount", "name": opts.name, "namespace": opts.namespace}]


def _role(kind: str, meta: Obj, chosen: list[Grant]) -> Obj:
    return {"apiVersion": RBAC_API, "kind": kind, "metadata": meta, "rules": rules(chosen)}


def _binding(kind: str, meta: Obj, role_kind: str, opts: InstallOptions) -> Obj:
    return {
        "apiVersion": RBAC_API,
        "kind": kind,
        "metadata": meta,
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": role_kind,
            "name": meta["name"],
        },
        "subjects": _subject(opts),
    }


def _rbac(opts: InstallOptions) -> list[Obj]:
    chosen = grants(opts.routers)
    docs: list[Obj] = []
    if opts.watch_namespace is None:
        meta = _meta(opts, opts.name)
        docs.append(_role("ClusterRole", meta, chosen))
        docs.append(_binding("ClusterRoleBinding", meta, "ClusterRole", opts))
    else:
        namespaced = [g for g in chosen if not g.cluster_scoped]
        cluster = [g for g in chosen if g.cluster_scoped]
        meta = _meta(opts, opts.name, opts.watch_namespace)
        docs.append(_role("Role", meta, namespaced))
        docs.append(_binding("RoleBinding", meta, "Role", opts))
        cluster_meta = _meta(opts, f"{opts.name}-cluster-reads")
        docs.append(_role("ClusterRole", cluster_meta, cluster))
        docs.append(_binding("ClusterRoleBinding", cluster_meta, "ClusterRole", opts))
    lease_meta = _meta(opts, f"{opts.name}-leader-election", opts.namespace)
    docs.append(_role("Role", lease_meta, list(LEADER_ELECTION)))
    docs.append(_binding("RoleBinding", lease_meta, "Role", opts))
    return docs


def controller_args(opts: InstallOptions) -> list[str]:
    args = [
        "controller",
        f"--metrics-port={METRICS_PORT}",
        f"--log-level={opts.log_level}",
        "--leader-elect",
        f"--lease-name={opts.name}",
        "--lease-namespace=$(POD_NAMESPACE)",
        "--identity=$(POD_NAME)",
    ]
    if opts.watch_namespace is not None:
        args.append(f"--namespace={opts.watch_namespace}")
    if opts.rollout_selector:
        args.append(f"--rollout-selector={opts.rollout_selector}")
    return args


def _field_env(name: str, path: str) -> Obj:
    return {"name": name, "valueFrom": {"fieldRef": {"fieldPath": path}}}


def _probe(path: str, *, period: int, failures: int) -> Obj:
    return {
        "httpGet": {"path": path, "port": "metrics"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def _deployment(opts: InstallOptions) -> Obj:
    container: Obj = {
        "name": "controller",
        "image": opts.image,
        "imagePullPolicy": "IfNotPresent",
        "args": controller_args(opts),
        "env": [
            _field_env("POD_NAME", "metadata.name"),
            _field_env("POD_NAMESPACE", "metadata.namespace"),
        ],
        "ports": [{"name": "metrics", "containerPort": METRICS_PORT, "protocol": "TCP"}],
        # /healthz fails when a worker or the elector stops looping: restart then.
        "livenessProbe": _probe("/healthz", period=10, failures=3),
        # /readyz: caches synced and leader-or-standby known.
        "readinessProbe": _probe("/readyz", period=5, failures=2),
        "startupProbe": _probe("/healthz", period=2, failures=30),
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"memory": "1Gi"},  # no CPU limit: throttling stretches step latency
        },
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "readOnlyRootFilesystem": True,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": _meta(opts, opts.name, opts.namespace),
        "spec": {
            "replicas": opts.replicas,
            "revisionHistoryLimit": 3,
            "selector": {"matchLabels": _selector(opts)},
            "template": {
                "metadata": {"labels": _labels(opts)},
                "spec": {
                    "serviceAccountName": opts.name,
                    "securityContext": {
                        "runAsNonRoot": True,
                        "runAsUser": RUN_AS_USER,
                        "runAsGroup": RUN_AS_USER,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    # The controller releases its Lease on SIGTERM; 30 s covers a reconcile.
                    "terminationGracePeriodSeconds": 30,
                    "affinity": {
                        "podAntiAffinity": {
                            "preferredDuringSchedulingIgnoredDuringExecution": [
                                {
                                    "weight": 100,
                                    "podAffinityTerm": {
                                        "topologyKey": "kubernetes.io/hostname",
                                        "labelSelector": {"matchLabels": _selector(opts)},
                                    },
                                }
                            ]
                        }
                    },
                    "containers": [container],
                    "volumes": [{"name": "tmp", "emptyDir": {"sizeLimit": "64Mi"}}],
                },
            },
        },
    }


def _pdb(opts: InstallOptions) -> Obj:
    return {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": _meta(opts, opts.name, opts.namespace),
        "spec": {"minAvailable": 1, "selector": {"matchLabels": _selector(opts)}},
    }


def _metrics_service(opts: InstallOptions) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": _meta(opts, f"{opts.name}-metrics", opts.namespace),
        "spec": {
            "selector": _selector(opts),
            "ports": [
                {
                    "name": "metrics",
                    "port": METRICS_PORT,
                    "targetPort": "metrics",
                    "protocol": "TCP",
                }
            ],
        },
    }


def render(docs: list[Obj], *, header: str = "") -> str:
    """A multi-document YAML stream, for `kubectl apply -f -`."""
    return header + "".join("---\n" + to_yaml(doc) for doc in docs)
