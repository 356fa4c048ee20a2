"""The resource registry: which kinds the sandbox serves, and how.

Everything kind-specific the server needs (scope, subresources, short names,
strategic-merge support) lives in one :class:`ResourceType` row, so adding a
built-in kind is one entry in :data:`BUILTIN_TYPES`. Custom resources are
added and removed at runtime by the CRD handling in :mod:`.crds`.
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass, field

ALL_VERBS = ("create", "delete", "deletecollection", "get", "list", "patch", "update", "watch")
SUBRESOURCE_VERBS = ("get", "patch", "update")


@dataclass(frozen=True)
class ScalePaths:
    """Where a kind keeps its replica counts (CRD ``subresources.scale`` shape)."""

    spec_replicas: str = ".spec.replicas"
    status_replicas: str = ".status.replicas"
    label_selector: str | None = None
    # Built-in Deployments render .spec.selector (a LabelSelector) into the Scale's
    # status.selector string; CRDs point labelSelectorPath at a ready-made string.
    selector_from_spec: bool = False


@dataclass(frozen=True)
class ResourceType:
    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True
    short_names: tuple[str, ...] = ()
    status: bool = False
    scale: ScalePaths | None = None
    categories: tuple[str, ...] = ()
    # Strategic merge patch needs Go struct tags; the API server answers 415
    # for custom resources, so only built-ins set this.
    strategic_merge: bool = True
    # Custom resources, namespaces, pods, services and service accounts return
    # the deleted object from DELETE; other built-ins return a Success Status.
    delete_returns_object: bool = False
    crd: bool = False
    singular: str = field(default="")
    # Pods: the read-only /log subresource (rendered by pod_logs.py).
    log: bool = False

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def group_version(self) -> str:
        return self.api_version

    @property
    def storage_key(self) -> str:
        """Versions of one group/resource share storage (no conversion is done)."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    @property
    def singular_name(self) -> str:
        return self.singular or self.kind.lower()

    @property
    def subresources(self) -> tuple[str, ...]:
        subs = []
        if self.status:
            subs.append("status")
        if self.scale is not None:
            subs.append("scale")
        if self.log:
            subs.append("log")
        return tuple(subs)


_core = functools.partial(ResourceType, "", "v1")


BUILTIN_TYPES: tuple[ResourceType, ...] = (
    _core(
        "namespaces",
        "Namespace",
        namespaced=False,
        short_names=("ns",),
        status=True,
        delete_returns_object=True,
    ),
    _core(
        "services",
        "Service",
        short_names=("svc",),
        status=True,
        categories=("all",),
        delete_returns_object=True,
    ),
    _core("events", "Event", short_names=("ev",)),
    _core("configmaps", "ConfigMap", short_names=("cm",)),
    _core("secrets", "Secret"),
    _core(
        "pods",
        "Pod",
        short_names=("po",),
        status=True,
        categories=("all",),
        delete_returns_object=True,
        log=True,
    ),
    _core("serviceaccounts", "ServiceAccount", short_names=("sa",), delete_returns_object=True),
    ResourceType(
        "apps",
        "v1",
        "deployments",
        "Deployment",
        short_names=("deploy",),
        status=True,
        scale=ScalePaths(label_selector=".spec.selector", selector_from_spec=True),
        categories=("all",),
    ),
    # Served (empty unless someone writes them) because `kubectl describe
    # deployment` lists ReplicaSets and fails without the endpoint.
    ResourceType(
        "apps",
        "v1",
        "replicasets",
        "ReplicaSet",
        short_names=("rs",),
        status=True,
        scale=ScalePaths(label_selector=".spec.selector", selector_from_spec=True),
        categories=("all",),
    ),
    ResourceType("coordination.k8s.io", "v1", "leases", "Lease"),
    # RBAC objects are enforced by authz.py for requests that carry a token.
    ResourceType("rbac.authorization.k8s.io", "v1", "roles", "Role"),
    ResourceType("rbac.authorization.k8s.io", "v1", "rolebindings", "RoleBinding"),
    ResourceType(
        "rbac.authorization.k8s.io", "v1", "clusterroles", "ClusterRole", namespaced=False
    ),
    ResourceType(
        "rbac.authorization.k8s.io",
        "v1",
        "clusterrolebindings",
        "ClusterRoleBinding",
        namespaced=False,
    ),
    ResourceType(
        "policy",
        "v1",
        "poddisruptionbudgets",
        "PodDisruptionBudget",
        short_names=("pdb",),
        status=True,
    ),
    ResourceType("networking.k8s.io", "v1", "ingresses", "Ingress", status=True),
    ResourceType("networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False),
    _core("persistentvolumeclaims", "PersistentVolumeClaim", short_names=("pvc",), status=True),
    ResourceType("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False),
    ResourceType("scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False),
    ResourceType("batch", "v1", "jobs", "Job", status=True, categories=("all",)),
    ResourceType("events.k8s.io", "v1", "events", "Event", short_names=("ev",)),
    ResourceType(
        "apiextensions.k8s.io",
        "v1",
        "customresourcedefinitions",
        "CustomResourceDefinition",
        namespaced=False,
        short_names=("crd", "crds"),
        status=True,
    ),
)

# Groups served before any CRD exists, in discovery order (core first).
_PREFERRED_ORDER = (
    "",
    "apps",
    "batch",
    "coordination.k8s.io",
    "events.k8s.io",
    "policy",
    "rbac.authorization.k8s.io",
    "apiextensions.k8s.io",
)


class Registry:
    """Thread-safe table of served (group, version, plural) -> ResourceType."""

    def __init__(self, types: tuple[ResourceType, ...] = BUILTIN_TYPES) -> None:
        self._lock = threading.Lock()
        self._types: dict[tuple[str, str, str], ResourceType] = {}
        for rt in types:
            self._types[(rt.group, rt.version, rt.plural)] = rt

    def lookup(self, group: str, version: str, plural: str) -> ResourceType | None:
        with self._lock:
            return self._types.get((group, version, plural))

    def by_storage_key(self, key: str) -> list[ResourceType]:
        with self._lock:
            return [rt for rt in self._types.values() if rt.storage_key == key]

    def all(self) -> list[ResourceType]:
        with self._lock:
            return list(self._types.values())

    def has_group_version(self, group: str, version: str) -> bool:
        with self._lock:
            return any(g == group and v == version for g, v, _ in self._types)

    def group_versions(self) -> dict[str, list[str]]:
        """group -> served versions, built-in groups first (discovery order matters to kubectl)."""
        with self._lock:
            out: dict[str, list[str]] = {}
            for g in _PREFERRED_ORDER:
                out[g] = []
            for g, v, _ in self._types:
                versions = out.setdefault(g, [])
                if v not in versions:
                    versions.append(v)
            return {g: vs for g, vs in out.items() if vs}

    def replace_custom(self, key: str, types: list[ResourceType]) -> None:
        """Atomically (re)register a CRD's served versions, dropping ones no longer served."""
        with self._lock:
            for k, rt in list(self._types.items()):
                if rt.storage_key == key and rt.crd:
                    del self._types[k]
            for rt in types:
                self._types[(rt.group, rt.version, rt.plural)] = rt

    def unregister_storage(self, key: str) -> list[ResourceType]:
        """Drop every version of a custom resource; built-ins cannot be removed."""
        with self._lock:
            gone = [rt for rt in self._types.values() if rt.storage_key == key and rt.crd]
            for rt in gone:
                del self._types[(rt.group, rt.version, rt.plural)]
            return gone
