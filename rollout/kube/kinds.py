"""An explicit registry of the resource kinds we read and write, and their REST paths."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Kind:
    group: str  # "" for the core group
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    def path(
        self, *, namespace: str | None = None, name: str | None = None, sub: str | None = None
    ) -> str:
        root = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        parts = [root]
        if self.namespaced and namespace is not None:
            parts.append(f"namespaces/{namespace}")
        parts.append(self.plural)
        if name is not None:
            parts.append(name)
            if sub is not None:
                parts.append(sub)
        return "/".join(parts)


ROLLOUTS = Kind("rollout.dev", "v1alpha1", "rollouts", "Rollout")
DEPLOYMENTS = Kind("apps", "v1", "deployments", "Deployment")
SERVICES = Kind("", "v1", "services", "Service")
EVENTS = Kind("", "v1", "events", "Event")
NAMESPACES = Kind("", "v1", "namespaces", "Namespace", namespaced=False)
LEASES = Kind("coordination.k8s.io", "v1", "leases", "Lease")
CRDS = Kind(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
)
# Objects a pod template or a Rollout refers to, read by the preflight checks.
CONFIG_MAPS = Kind("", "v1", "configmaps", "ConfigMap")
SECRETS = Kind("", "v1", "secrets", "Secret")
SERVICE_ACCOUNTS = Kind("", "v1", "serviceaccounts", "ServiceAccount")
PVCS = Kind("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
STORAGE_CLASSES = Kind("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False)
PRIORITY_CLASSES = Kind(
    "scheduling.k8s.io", "v1", "priorityclasses", "PriorityClass", namespaced=False
)
INGRESSES = Kind("networking.k8s.io", "v1", "ingresses", "Ingress")
INGRESS_CLASSES = Kind(
    "networking.k8s.io", "v1", "ingressclasses", "IngressClass", namespaced=False
)
ANALYSIS_TEMPLATES = Kind("rollout.dev", "v1alpha1", "analysistemplates", "AnalysisTemplate")
CLUSTER_ANALYSIS_TEMPLATES = Kind(
    "rollout.dev",
    "v1alpha1",
    "clusteranalysistemplates",
    "ClusterAnalysisTemplate",
    namespaced=False,
)
# What the `job` metric provider creates, and the Pods it reads the log of.
JOBS = Kind("batch", "v1", "jobs", "Job")
PODS = Kind("", "v1", "pods", "Pod")
