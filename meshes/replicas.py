"""The `replicas` router: no traffic layer. Weights follow the pods each revision has.

Traffic reaches pods through a Service selecting every revision, so a revision's share of
traffic is its share of available pods. The engine sizes revisions to match the step's weight;
this router has nothing to write and reports nothing (the engine derives weights from pods).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from rollout.kube import Kube
from rollout.models import Rollout
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from rollout.routing import RouterError, RouterState

# No traffic layer, so no traffic metrics of ours to query.
QUERIES: Mapping[str, str] = {}


class ReplicaRatioRouter:
    name: ClassVar[str] = "replicas"
    exact_weights: ClassVar[bool] = False
    capabilities: ClassVar[frozenset[str]] = frozenset()
    queries: ClassVar[Mapping[str, str]] = QUERIES

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    def read(self, rollout: Rollout) -> RouterState:
        return RouterState()

    def set_weight(self, rollout: Rollout, *, stable: str, canary: str, weight: int) -> None:
        return None

    def set_header_route(self, rollout: Rollout, route: SetHeaderRoute) -> None:
        raise RouterError("header routes need trafficRouting")

    def set_mirror_route(self, rollout: Rollout, route: SetMirrorRoute) -> None:
        raise RouterError("mirror routes need trafficRouting")

    def remove_managed_routes(self, rollout: Rollout) -> None:
        return None

    def finalize(self, rollout: Rollout, *, stable: str) -> None:
        return None
