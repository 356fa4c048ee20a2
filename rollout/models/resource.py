"""The Rollout object as a whole (apiVersion, kind, metadata, spec, status) and parsing it."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import ConfigDict

from rollout.models.analysis import AnalysisTemplateSpec
from rollout.models.base import SpecModel
from rollout.models.spec import RolloutSpec
from rollout.models.status import RolloutStatus

GROUP = "rollout.dev"
VERSION = "v1alpha1"
API_VERSION = f"{GROUP}/{VERSION}"
KIND = "Rollout"
PLURAL = "rollouts"


class ObjectMeta(SpecModel):
    """The metadata we read. The API server adds many fields; those are kept, not rejected."""

    model_config = ConfigDict(extra="allow")

    name: str
    namespace: str | None = None
    uid: str | None = None
    resource_version: str | None = None
    generation: int | None = None
    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}
    deletion_timestamp: str | None = None
    finalizers: list[str] = []


class Rollout(SpecModel):
    api_version: Literal["rollout.dev/v1alpha1"]
    kind: Literal["Rollout"]
    metadata: ObjectMeta
    spec: RolloutSpec
    status: RolloutStatus = RolloutStatus()

    @property
    def key(self) -> str:
        return f"{self.metadata.namespace or 'default'}/{self.metadata.name}"

    def owner_reference(self) -> dict[str, Any]:
        """For objects this Rollout owns: Kubernetes deletes them with it."""
        return {
            "apiVersion": self.api_version,
            "kind": self.kind,
            "name": self.metadata.name,
            "uid": self.metadata.uid or "",
            "controller": True,
            "blockOwnerDeletion": True,
        }


class AnalysisTemplate(SpecModel):
    """An AnalysisTemplate (namespaced) or ClusterAnalysisTemplate (cluster-wide): same spec."""

    api_version: Literal["rollout.dev/v1alpha1"]
    kind: Literal["AnalysisTemplate", "ClusterAnalysisTemplate"]
    metadata: ObjectMeta
    spec: AnalysisTemplateSpec
