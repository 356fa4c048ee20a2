"""Pydantic models of the custom resources: the single source of truth for their schemas."""

from rollout.models.resource import API_VERSION, GROUP, KIND, PLURAL, VERSION, ObjectMeta, Rollout
from rollout.models.spec import CanaryStep, CanaryStrategy, LabelSelector, PodTemplate, RolloutSpec
from rollout.models.status import (
    Condition,
    ConditionType,
    HistoryEntry,
    PauseCondition,
    PauseReason,
    Phase,
    RevisionWeight,
    RolloutStatus,
    ScaleDownDeadline,
    TrafficWeights,
)

__all__ = [
    "API_VERSION",
    "GROUP",
    "KIND",
    "PLURAL",
    "VERSION",
    "CanaryStep",
    "CanaryStrategy",
    "Condition",
    "ConditionType",
    "HistoryEntry",
    "LabelSelector",
    "ObjectMeta",
    "PauseCondition",
    "PauseReason",
    "Phase",
    "PodTemplate",
    "RevisionWeight",
    "Rollout",
    "RolloutSpec",
    "RolloutStatus",
    "ScaleDownDeadline",
    "TrafficWeights",
]
