"""The `replicas` router: no traffic layer. Weights follow the pods each revision has.

Traffic reaches pods through a Service selecting every revision, so a revision's share of
traffic is its share of available pods. The engine sizes revisions to match the step's weight;
this router has nothing to write and reports nothing (the engine derives weights from pods).
"""

from __future__ import annotations

from typing import ClassVar

from rollout.kube import Kube
from rollout.models import Rollout, TrafficWeights


class ReplicaRatioRouter:
    name: ClassVar[str] = "replicas"
    exact_weights: ClassVar[bool] = False

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    def read_weights(self, rollout: Rollout) -> TrafficWeights | None:
        return None

    def set_weight(self, rollout: Rollout, *, stable: str, canary: str, weight: int) -> None:
        return None
