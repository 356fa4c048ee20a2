"""The Rollout spec: what the user writes in Git. The single source of truth for the CRD schema.

Field docstrings become the CRD's descriptions (`rollout crds`); model validators hold the rules
a schema cannot say (exactly one of, ordering, cross-field checks), so `lint` and the controller
reject the same documents with the same messages.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from rollout.models.analysis_ref import (
    AnalysisStep,
    BackgroundAnalysis,
    dns_name,
)
from rollout.models.base import Duration, IntOrPercent, SpecModel, resolve_int_or_percent
from rollout.models.bluegreen import BlueGreenStrategy, RollbackWindow
from rollout.models.notifications import Notification
from rollout.models.preflight import Preflight
from rollout.models.slo import RolloutAnalysis
from rollout.models.time import parse_time
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute, TrafficRouting
from rollout.models.webhooks import Approval, Webhook

Weight = Annotated[int, Field(ge=0, le=100)]


class LabelSelectorRequirement(SpecModel):
    """One set-based requirement, as in a Deployment's selector."""

    key: str
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"]
    values: list[str] = []

    @model_validator(mode="after")
    def _values_fit_operator(self) -> LabelSelectorRequirement:
        if self.operator in ("In", "NotIn") and not self.values:
            raise ValueError(f"operator {self.operator} needs at least one value")
        if self.operator in ("Exists", "DoesNotExist") and self.values:
            raise ValueError(f"operator {self.operator} takes no values")
        return self


class LabelSelector(SpecModel):
    """Selects the pods of this Rollout (all revisions). Must match the template's labels."""

    match_labels: dict[str, str] = {}
    match_expressions: list[LabelSelectorRequirement] = []

    @model_validator(mode="after")
    def _not_empty(self) -> LabelSelector:
        if not self.match_labels and not self.match_expressions:
            raise ValueError(
                "an empty selector would select every pod in the namespace; "
                "give matchLabels (for example app: my-service)"
            )
        return self

    def matches(self, labels: dict[str, str]) -> bool:
        if any(labels.get(k) != v for k, v in self.match_labels.items()):
            return False
        for req in self.match_expressions:
            present = req.key in labels
            if req.operator == "In" and labels.get(req.key) not in req.values:
                return False
            if req.operator == "NotIn" and present and labels[req.key] in req.values:
                return False
            if req.operator == "Exists" and not present:
                return False
            if req.operator == "DoesNotExist" and present:
                return False
        return True


class PodTemplateMetadata(SpecModel):
    """Labels and annotations of the pods."""

    labels: dict[str, str] = {}
    annotations: dict[str, str] = {}


class PodTemplate(SpecModel):
    """The pod template of the service, as in a Deployment. Each distinct template is a revision."""

    metadata: PodTemplateMetadata = PodTemplateMetadata()
    spec: Annotated[
        dict[str, Any],
        Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}),
    ]
    """A core/v1 PodSpec. Kept as written; only `containers` is checked here."""

    @field_validator("spec")
    @classmethod
    def _has_containers(cls, spec: dict[str, Any]) -> dict[str, Any]:
        containers = spec.get("containers")
        if not isinstance(containers, list) or not containers:
            raise ValueError("containers: a pod needs at least one container")
        names: set[str] = set()
        for i, container in enumerate(containers):
            if not isinstance(container, dict):
                raise ValueError(f"containers[{i}]: must be an object with name and image")
            name, image = container.get("name"), container.get("image")
            if not isinstance(name, str) or not name:
                raise ValueError(f"containers[{i}].name: required (a non-empty string)")
            if not isinstance(image, str) or not image:
                raise ValueError(f"containers[{i}].image: required (a non-empty string)")
            if name in names:
                raise ValueError(f"containers[{i}].name: duplicate container name {name!r}")
            names.add(name)
        return spec


class WorkloadRef(SpecModel):
    """A Deployment kept in Git whose pod template this Rollout uses.

    The controller keeps that Deployment at 0 replicas once the Rollout's stable revision is fully
    available, so migrating a live Deployment never drops capacity.
    """

    api_version: Literal["apps/v1"] = "apps/v1"
    kind: Literal["Deployment"] = "Deployment"
    name: str

    _check_name = field_validator("name")(classmethod(lambda cls, v: _dns_name_253(v)))


def _dns_name_253(value: str) -> str:
    if len(value) > 253 or not re.fullmatch(r"[a-z0-9]([-a-z0-9.]*[a-z0-9])?", value):
        raise ValueError("must be a DNS-1123 subdomain (lower-case letters, digits, '-' and '.')")
    return value


class PauseStep(SpecModel):
    """Stop here. With a duration the step ends by itself; without one it waits for `promote`."""

    duration: Duration | None = None


class SetCanaryScale(SpecModel):
    """Set the canary's replica count apart from its traffic weight (needs trafficRouting)."""

    weight: Weight | None = None
    """Canary replicas as a percentage of spec.replicas."""
    replicas: Annotated[int, Field(ge=0)] | None = None
    """An absolute canary replica count."""
    match_traffic_weight: bool | None = None
    """Go back to sizing the canary by its traffic weight."""

    @model_validator(mode="after")
    def _exactly_one(self) -> SetCanaryScale:
        given = [
            n
            for n in ("weight", "replicas", "match_traffic_weight")
            if getattr(self, n) is not None
        ]
        if len(given) != 1:
            raise ValueError("give exactly one of weight, replicas or matchTrafficWeight")
        return self


class CanaryStep(SpecModel):
    """One step of a canary. Exactly one field is set."""

    set_weight: Weight | None = None
    """Send this percentage of traffic to the canary (0-100)."""
    pause: PauseStep | None = None
    set_canary_scale: SetCanaryScale | None = None
    analysis: AnalysisStep | None = None
    set_header_route: SetHeaderRoute | None = None
    """Route requests matching headers to the canary (needs a router that supports it)."""
    set_mirror_route: SetMirrorRoute | None = None
    """Mirror a percentage of traffic to the canary (needs a router that supports it)."""
    confirm: Approval | None = None
    """Wait for `rollout promote`, or for every `approval` webhook to answer 2xx; with a
    timeout and what happens when it passes (Abort, or Wait)."""

    @model_validator(mode="after")
    def _exactly_one(self) -> CanaryStep:
        given = [k for k, v in self.to_dict().items() if v is not None]
        if len(given) != 1:
            allowed = (
                "setWeight, pause, setCanaryScale, analysis, setHeaderRoute, setMirrorRoute "
                "or confirm"
            )
            found = ", ".join(given) if given else "none"
            raise ValueError(f"a step has exactly one of {allowed} (found: {found})")
        return self


class CanaryStrategy(SpecModel):
    """Move traffic to the new revision step by step."""

    steps: list[CanaryStep] = []
    """The steps, in order. With none, a new revision is rolled out at once (like a Deployment)."""
    max_surge: IntOrPercent = "25%"
    """How many pods above spec.replicas may exist while replicas move between revisions."""
    max_unavailable: IntOrPercent = "25%"
    """How many of spec.replicas may be unavailable while replicas move between revisions."""
    scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After promotion, keep the old stable revision up this long so a rollback is instant."""
    abort_scale_down_delay_seconds: Annotated[int, Field(ge=0)] = 30
    """After an abort, keep the canary up this long (only when a router removes its traffic)."""
    stable_service: str | None = None
    """A Service whose selector the controller pins to the stable revision."""
    canary_service: str | None = None
    """A Service whose selector the controller pins to the canary revision."""
    analysis: BackgroundAnalysis | None = None
    """Background analysis for the whole update."""
    traffic_routing: TrafficRouting | None = None
    """The traffic layer that sets exact weights. Without it, weights follow pod counts."""
    baseline: bool = False
    """Run a baseline beside the canary: fresh pods of the stable revision, as many as the
    canary and taking the same share of traffic, for a like-for-like comparison (their pods
    carry `rollout.dev/revision-hash: <stable>-baseline`, `$baseline` in queries). Without a
    router, weights follow pods; with one, the router splits three ways (stable, canary,
    baseline: `baselineService`). canary + baseline <= 100%."""
    baseline_service: str | None = None
    """With `baseline` and a router: a Service whose selector the controller pins to the
    baseline's pods; the router sends the baseline's share to it."""

    @field_validator("stable_service", "canary_service", "baseline_service")
    @classmethod
    def _service_name(cls, value: str | None) -> str | None:
        return None if value is None else dns_name(value)

    @model_validator(mode="after")
    def _rules(self) -> CanaryStrategy:
        if self.stable_service and self.stable_service == self.canary_service:
            raise ValueError("stableService and canaryService must be different Services")
        last_weight = 0
        for i, step in enumerate(self.steps):
            if step.set_weight is not None:
                if step.set_weight < last_weight:
                    raise ValueError(
                        f"steps[{i}].setWeight: {step.set_weight} is below the earlier "
                        f"setWeight {last_weight}; weights only rise during a canary "
                        "(to go back, abort)"
                    )
                last_weight = step.set_weight
            if step.set_canary_scale is not None and self.traffic_routing is None:
                # Without a traffic router the canary's weight *is* its share of replicas,
                # so sizing it apart from its weight cannot be honoured.
                raise ValueError(
                    f"steps[{i}].setCanaryScale: needs trafficRouting (a mesh or ingress); "
                    "without one, traffic follows replica counts"
                )
        if self.baseline_service and not self.baseline:
            raise ValueError("baselineService: only with baseline: true")
        services = [self.stable_service, self.canary_service, self.baseline_service]
        named = [s for s in services if s]
        if len(named) != len(set(named)):
            raise ValueError("stableService, canaryService and baselineService must differ")
        if self.baseline:
            istio = self.traffic_routing.istio if self.traffic_routing else None
            rule = istio.destination_rule if istio is not None else None
            if rule is not None and not rule.baseline_subset_name:
                raise ValueError(
                    "baseline: behind istio with a destinationRule, needs "
                    "destinationRule.baselineSubsetName (a third subset, pinned to the "
                    "baseline's pods)"
                )
            if (
                self.traffic_routing is not None
                and rule is None
                and not (self.baseline_service and self.stable_service and self.canary_service)
            ):
                raise ValueError(
                    "baseline: with trafficRouting, needs stableService, canaryService and "
                    "baselineService (the router splits traffic between the three)"
                )
            if last_weight > 50:
                raise ValueError(
                    f"baseline: setWeight {last_weight} leaves no room for a baseline of the "
                    "same size (canary + baseline must stay at or below 100%)"
                )
        routed = self.traffic_routing
        managed = {r.name for r in routed.managed_routes} if routed else set()
        for i, step in enumerate(self.steps):
            route = step.set_header_route or step.set_mirror_route
            if route is None:
                continue
            field = "setHeaderRoute" if step.set_header_route else "setMirrorRoute"
            if routed is None:
                raise ValueError(f"steps[{i}].{field}: needs trafficRouting (a mesh or ingress)")
            if route.name not in managed:
                raise ValueError(
                    f"steps[{i}].{field}.name: {route.name!r} is not listed in "
                    "trafficRouting.managedRoutes"
                )
        if routed is not None and not (self.stable_service and self.canary_service):
            istio = routed.istio
            if not (istio is not None and istio.destination_rule is not None):
                raise ValueError(
                    "trafficRouting needs stableService and canaryService (the router sends "
                    "each revision's share to its Service)"
                )
        return self

    def surge_and_unavailable(self, replicas: int) -> tuple[int, int]:
        """Resolved maxSurge / maxUnavailable. If both resolve to 0, unavailable becomes 1
        (as Kubernetes does for Deployments), so a rollout can always make progress."""
        surge = resolve_int_or_percent(self.max_surge, replicas, round_up=True)
        unavailable = resolve_int_or_percent(self.max_unavailable, replicas, round_up=False)
        if surge == 0 and unavailable == 0:
            unavailable = 1
        return surge, unavailable


class Strategy(SpecModel):
    """How a new revision is released. Exactly one strategy.

    The properties below are what the engine, the reconciler and the routers need whichever
    strategy it is, so none of them looks inside a strategy it does not own."""

    canary: CanaryStrategy | None = None
    blue_green: BlueGreenStrategy | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> Strategy:
        if (self.canary is None) == (self.blue_green is None):
            found = " (found both)" if self.canary is not None else ""
            raise ValueError(f"give exactly one strategy: canary or blueGreen{found}")
        return self

    @property
    def name(self) -> str:
        """The strategy's registered name (entry point group `rollout.strategies`)."""
        return "canary" if self.canary is not None else "blueGreen"

    @property
    def steps(self) -> list[CanaryStep]:
        return self.canary.steps if self.canary is not None else []

    @property
    def traffic_routing(self) -> TrafficRouting | None:
        chosen = self.canary or self.blue_green
        return chosen.traffic_routing if chosen is not None else None

    @property
    def stable_service(self) -> str | None:
        """The Service of the revision in production: stableService, or blue-green's
        activeService."""
        if self.blue_green is not None:
            return self.blue_green.active_service
        return self.canary.stable_service if self.canary is not None else None

    @property
    def canary_service(self) -> str | None:
        """The Service of the new revision: canaryService, or blue-green's previewService."""
        if self.blue_green is not None:
            return self.blue_green.preview_service
        return self.canary.canary_service if self.canary is not None else None

    @property
    def baseline_service(self) -> str | None:
        """A canary's baselineService (blue-green has no baseline)."""
        return self.canary.baseline_service if self.canary is not None else None

    @property
    def pinned_services(self) -> list[tuple[str, str]]:
        """(Service, its field name) for every Service whose selector the controller pins:
        stable and canary (blue-green: active and preview), and a canary's baseline."""
        if self.blue_green is not None:
            named = [
                (self.blue_green.active_service, "activeService"),
                (self.blue_green.preview_service, "previewService"),
            ]
        else:
            canary = self.canary
            assert canary is not None
            named = [
                (canary.stable_service, "stableService"),
                (canary.canary_service, "canaryService"),
                (canary.baseline_service, "baselineService"),
            ]
        return [(name, field) for name, field in named if name]

    @property
    def field(self) -> str:
        """The strategy's field path, for messages."""
        return "spec.strategy.canary" if self.canary is not None else "spec.strategy.blueGreen"

    @property
    def scale_down_delay_seconds(self) -> int:
        chosen = self.canary or self.blue_green
        assert chosen is not None
        return chosen.scale_down_delay_seconds

    def abort_scale_down_delay(self, *, routed: bool) -> int:
        """How long an aborted new revision keeps its pods. A canary without a router still
        takes traffic through its pods, so it goes as soon as the stable is back; blue-green's
        preview takes none once the abort pinned its Services back."""
        if self.blue_green is not None:
            return self.blue_green.abort_scale_down_delay_seconds
        assert self.canary is not None
        return self.canary.abort_scale_down_delay_seconds if routed else 0

    def surge_and_unavailable(self, replicas: int) -> tuple[int, int]:
        """Blue-green runs both revisions at full size and never gives up a serving pod."""
        if self.canary is not None:
            return self.canary.surge_and_unavailable(replicas)
        return replicas, 0


class RolloutSpec(SpecModel):
    """The desired state of one service's releases."""

    replicas: Annotated[int, Field(ge=0)] = 1
    """Pods of the stable revision when fully rolled out."""
    selector: LabelSelector
    template: PodTemplate | None = None
    """The pod template. Exactly one of template and workloadRef."""
    workload_ref: WorkloadRef | None = None
    """Take the pod template from a Deployment. Exactly one of template and workloadRef."""
    revision_history_limit: Annotated[int, Field(ge=0)] = 10
    """How many old, scaled-down revisions to keep for undo."""
    progress_deadline_seconds: Annotated[int, Field(ge=1)] = 600
    """How long a step may wait for pods to become available before the rollout is Degraded."""
    progress_deadline_abort: bool = True
    """Abort (roll back to stable) when the progress deadline passes."""
    paused: bool = False
    """Hold the rollout where it is (`rollout pause`). Aborts still proceed."""
    restart_at: str | None = None
    """RFC 3339 time; pods started before it are restarted (`rollout restart`)."""
    strategy: Strategy
    analysis: RolloutAnalysis = RolloutAnalysis()
    """Rollout-wide analysis: the default Prometheus, SLOs, the release and step gates, and how
    long an inconclusive analysis may pause the rollout."""
    preflight: Preflight = Preflight()
    """Checks made before any pod of a new revision is created."""
    rollback_window: RollbackWindow | None = None
    """Going back to one of the last N revisions skips steps and analysis."""
    webhooks: list[Webhook] = []
    """HTTP endpoints the update waits for (pre-rollout, pre-promotion, post-promotion),
    that may roll it back (rollback), or that approve it (approval)."""
    notifications: list[Notification] = []
    """Where to tell about this rollout's events (started, promoted, aborted ...). Sending never
    blocks or fails a rollout."""

    @field_validator("restart_at")
    @classmethod
    def _rfc3339(cls, value: str | None) -> str | None:
        if value is None:
            return None
        parse_time(value)
        return value

    @model_validator(mode="after")
    def _template_rules(self) -> RolloutSpec:
        if (self.template is None) == (self.workload_ref is None):
            raise ValueError("give exactly one of template and workloadRef")
        if self.template is not None and not self.selector.matches(self.template.metadata.labels):
            raise ValueError(
                # "field: reason" lets parse_rollout point at spec.selector, not all of spec.
                "selector: does not match template.metadata.labels; the pods would not be selected"
            )
        for field, names in (
            ("webhooks", [w.name for w in self.webhooks]),
            ("notifications", [n.name for n in self.notifications]),
        ):
            repeated = sorted({n for n in names if names.count(n) > 1})
            if repeated:
                raise ValueError(f"{field}: names must be unique (repeated: {', '.join(repeated)})")
        blue_green = self.strategy.blue_green
        count = blue_green.preview_replica_count if blue_green is not None else None
        if count is not None and count > self.replicas:
            raise ValueError(
                f"strategy.blueGreen.previewReplicaCount: {count} is more than replicas "
                f"({self.replicas}); the preview grows to replicas before the switch anyway"
            )
        return self
