"""The traffic-router protocol: what every router in `meshes/` implements.

A router moves traffic between the stable and canary revisions of one Rollout, and can read
back what it did, so the engine only ever records verified weights. Routers get the `Kube`
facade; they never import the Kubernetes client.
"""

from __future__ import annotations

from typing import ClassVar, Protocol

from rollout.kube import Kube
from rollout.models import Rollout, TrafficWeights


class TrafficRouter(Protocol):
    name: ClassVar[str]
    exact_weights: ClassVar[bool]
    """True: the router sets weights itself (meshes). False: weights follow pod counts."""

    def __init__(self, kube: Kube) -> None: ...

    def read_weights(self, rollout: Rollout) -> TrafficWeights | None:
        """The weights in force now, as read from the cluster (None: nothing set yet)."""
        ...

    def set_weight(self, rollout: Rollout, *, stable: str, canary: str, weight: int) -> None:
        """One write: `weight`% to `canary`, the rest to `stable`."""
        ...
