"""Pydantic models of the custom resources: the single source of truth for their schemas.

The names below are loaded on first use (PEP 562), not when the package is imported: importing
`rollout.models.time` (which the CLI's `list` needs) would otherwise build every model first.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rollout.models.resource import (
        API_VERSION,
        GROUP,
        KIND,
        PLURAL,
        VERSION,
        ObjectMeta,
        Rollout,
    )
    from rollout.models.spec import (
        CanaryStep,
        CanaryStrategy,
        LabelSelector,
        PodTemplate,
        RolloutSpec,
    )
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

_HOME = {
    "API_VERSION": "rollout.models.resource",
    "GROUP": "rollout.models.resource",
    "KIND": "rollout.models.resource",
    "PLURAL": "rollout.models.resource",
    "VERSION": "rollout.models.resource",
    "ObjectMeta": "rollout.models.resource",
    "Rollout": "rollout.models.resource",
    "CanaryStep": "rollout.models.spec",
    "CanaryStrategy": "rollout.models.spec",
    "LabelSelector": "rollout.models.spec",
    "PodTemplate": "rollout.models.spec",
    "RolloutSpec": "rollout.models.spec",
    "Condition": "rollout.models.status",
    "ConditionType": "rollout.models.status",
    "HistoryEntry": "rollout.models.status",
    "PauseCondition": "rollout.models.status",
    "PauseReason": "rollout.models.status",
    "Phase": "rollout.models.status",
    "RevisionWeight": "rollout.models.status",
    "RolloutStatus": "rollout.models.status",
    "ScaleDownDeadline": "rollout.models.status",
    "TrafficWeights": "rollout.models.status",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value


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
