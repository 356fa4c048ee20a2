"""The blue-green strategy's spec, and the rollback window both strategies share.

Blue-green runs the new revision fully sized beside the old one, shows it through a preview
Service, and moves all traffic in one write: the active Service's selector (or, with a traffic
router, a weight 0 -> 100). The rules a schema cannot say live in the validators, so `lint` and
the controller reject the same documents with the same messages.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, field_validator, model_validator

from rollout.models.analysis_ref import AnalysisStep, dns_name
from rollout.models.base import Duration, SpecModel
from rollout.models.traffic import TrafficRouting
from rollout.models.webhooks import Approval


class PreferredAntiAffinity(SpecModel):
    weight: Annotated[int, Field(ge=1, le=100)] = 1
    """The scheduler's preference weight (1-100)."""


class RequiredAntiAffinity(SpecModel):
    """Never schedule a new pod on a node that runs a pod of the old revision."""


class AntiAffinity(SpecModel):
    """Keep the new revision's pods off the nodes of the old revision's pods, so a bad node does
    not take both colours down. Exactly one of the two forms (as in Argo Rollouts)."""

    preferred_during_scheduling_ignored_during_execution: PreferredAntiAffinity | None = None
    required_during_scheduling_ignored_during_execution: RequiredAntiAffinity | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> AntiAffinity:
        given = [
            self.preferred_during_scheduling_ignored_during_execution,
            self.required_during_scheduling_ignored_during_execution,
        ]
        if sum(g is not None for g in given) != 1:
            raise ValueError(
                "give exactly one of preferredDuringSchedulingIgnoredDuringExecution and "
                "requiredDuringSchedulingIgnoredDuringExecution"
            )
        return self


class BlueGreenStrategy(SpecModel):
    """Run the new revision beside the old one, check it through the preview Service, then switch
    all traffic in one write."""

    active_service: str
    """The Service taking production traffic; its selector is pinned to the active revision."""
    preview_service: str | None = None
    """A Service pinned to the new revision once it is available, for tests before the switch."""
    preview_replica_count: Annotated[int, Field(ge=1)] | None = None
    """Pods of the new revision before promotion (default: spec.replicas). It grows to
    spec.replicas, and is fully available, before the switch."""
    auto_promotion_enabled: bool = True
    """Switch by itself once the preview is available and pre-promotion checks pass. False:
    wait for `rollout promote`."""
    auto_promotion_seconds: Duration | None = None
    """With auto-promotion: wait this long after the preview is ready before switching."""
    require_approval: Approval | None = None
    """Switch only on `rollout promote` or once every `approval` webhook answers 2xx, with a
    timeout and what happens when it passes (in place of auto-promotion)."""
    pre_promotion_analysis: AnalysisStep | None = None
    """Analysis of the preview before the switch: Failed / Error abort (active never switched),
    Inconclusive pauses."""
    post_promotion_analysis: AnalysisStep | None = None
    """Analysis after the switch, while the old revision still runs: Failed / Error switch the
    active Service back in one write."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After promotion, keep the old revision up this long so a rollback is instant."""
    abort_scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After an abort, keep the new revision up this long (the preview goes back to the old)."""
    anti_affinity: AntiAffinity | None = None
    """Prefer (or require) nodes that run no pod of the old revision."""
    traffic_routing: TrafficRouting | None = None
    """Switch through a traffic router (a weight 0 -> 100 in one routing write) instead of the
    active Service's selector. Needs previewService (the router's second backend)."""

    @field_validator("active_service", "preview_service")
    @classmethod
    def _service_name(cls, value: str | None) -> str | None:
        return None if value is None else dns_name(value)

    @model_validator(mode="after")
    def _rules(self) -> BlueGreenStrategy:
        if self.preview_service is not None and self.preview_service == self.active_service:
            raise ValueError(
                "previewService: must differ from activeService (the preview would take "
                "production traffic before the switch)"
            )
        if self.auto_promotion_seconds is not None and not self.auto_promotion_enabled:
            raise ValueError(
                "autoPromotionSeconds: has no effect with autoPromotionEnabled: false "
                "(remove one of them)"
            )
        if self.require_approval is not None and self.auto_promotion_seconds is not None:
            raise ValueError(
                "autoPromotionSeconds: has no effect with requireApproval (the switch waits "
                "for the approval)"
            )
        routing = self.traffic_routing
        if routing is not None:
            if self.preview_service is None:
                raise ValueError(
                    "trafficRouting needs previewService (the router sends the new revision's "
                    "share to it)"
                )
            if routing.managed_routes:
                raise ValueError(
                    "trafficRouting.managedRoutes: header and mirror routes are canary steps; "
                    "blue-green switches all traffic at once"
                )
        return self


class RollbackWindow(SpecModel):
    """Going back to one of the last N revisions skips steps and analysis and switches at once
    (when its pods are still up, within the scale-down delay; otherwise as fast as pods allow)."""

    revisions: Annotated[int, Field(ge=0)] = 0
    """How many revisions before the stable one count as within the window (0: none)."""
