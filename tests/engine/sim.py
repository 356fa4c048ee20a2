"""A tiny in-memory world for engine tests: it applies the engine's actions the way the
reconciler and Kubernetes would (Deployments, Services, readiness), with a hand-driven clock.

It is not a mock of the engine's collaborators' *calls*; tests assert on the resulting world and
status, exactly as they would against the sandbox.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml

from rollout.analysis.assess import next_due
from rollout.analysis.conditions import classify
from rollout.analysis.provider import Observation
from rollout.engine import (
    CreateRevision,
    Decision,
    DeleteRevision,
    Inputs,
    PinService,
    RemoveManagedRoutes,
    RenumberRevision,
    RestartRevision,
    RevisionState,
    ScaleRevision,
    ScaleWorkload,
    SetRoute,
    SetWeight,
    World,
    decide,
    revision_hash,
)
from rollout.engine.analysis import AnalysisInputs
from rollout.models import RevisionWeight, Rollout, RolloutStatus, TrafficWeights
from rollout.models.analysis import Metric
from rollout.models.analysis_status import Measurement, MeasurementPhase, MetricResult
from rollout.models.traffic import SetHeaderRoute

T0 = datetime(2026, 1, 1, tzinfo=UTC)

BASE = """
apiVersion: rollout.dev/v1alpha1
kind: Rollout
metadata: {name: demo, namespace: default}
spec:
  replicas: 5
  selector: {matchLabels: {app: demo}}
  template:
    metadata: {labels: {app: demo}}
    spec: {containers: [{name: app, image: "demo:v1"}]}
  strategy:
    canary:
      stableService: demo-stable
      canaryService: demo-canary
      scaleDownDelaySeconds: 30
      steps:
      - setWeight: 20
      - pause: {duration: 2s}
      - setWeight: 50
      - pause: {}
"""


def make_rollout(**spec_updates: Any) -> Rollout:
    doc = yaml.safe_load(BASE)
    for path, value in spec_updates.items():
        target = doc["spec"]
        keys = path.split("__")
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return Rollout.model_validate(doc)


def with_image(rollout: Rollout, image: str) -> Rollout:
    doc = rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    doc["spec"]["template"]["spec"]["containers"][0]["image"] = image
    doc["metadata"]["generation"] = (rollout.metadata.generation or 1) + 1
    doc["status"] = rollout.status.model_dump(by_alias=True, exclude_none=True, mode="json")
    return Rollout.model_validate(doc)


@dataclass
class Sim:
    rollout: Rollout
    now: datetime = T0
    traffic_routing: bool = False
    revisions: dict[str, RevisionState] = field(default_factory=dict)
    templates: dict[str, dict[str, Any]] = field(default_factory=dict)
    services: dict[str, str | None] = field(
        default_factory=lambda: {"demo-stable": None, "demo-canary": None}
    )
    weights: TrafficWeights | None = None
    header_routes: set[str] = field(default_factory=set)
    mirror_routes: set[str] = field(default_factory=set)
    route_writes: list[int] = field(default_factory=list)
    weight_writes: list[tuple[str, int, int]] = field(default_factory=list)
    """(canary revision, weight, its available pods) for each weight write."""
    baseline_writes: list[tuple[int, int]] = field(default_factory=list)
    """(baseline weight, its available pods) for each weight write that carried one."""
    """The canary's available pods each time a route was added."""
    never_ready: set[str] = field(default_factory=set)
    slow: set[str] = field(default_factory=set)
    """Revisions whose pods become ready one per reconcile."""
    decisions: list[Decision] = field(default_factory=list)
    log: list[str] = field(default_factory=list)
    metrics: dict[str, tuple[Metric, ...]] = field(default_factory=dict)
    """Analysis run name -> its metrics (what the reconciler resolves from templates)."""
    observe: Callable[[str, str, datetime], Observation] | None = None
    """(run, metric, now) -> what the provider sees: the far side, scripted by the test."""
    preflight: tuple[str, ...] | None = None
    terminated: list[str] = field(default_factory=list)

    @property
    def status(self) -> RolloutStatus:
        return self.rollout.status

    def world(self) -> World:
        return World(
            revisions=dict(self.revisions),
            services=dict(self.services),
            weights=self.weights,
            header_routes=frozenset(self.header_routes),
            mirror_routes=frozenset(self.mirror_routes),
            stable_template=self.templates.get(self.status.stable_revision or ""),
        )

    def template(self) -> dict[str, Any]:
        assert self.rollout.spec.template is not None
        return self.rollout.spec.template.to_dict()

    def revision_of(self, image: str) -> str:
        doc = self.template()
        doc["spec"]["containers"][0]["image"] = image
        return revision_hash(doc)

    def set_image(self, image: str) -> None:
        self.rollout = with_image(self.rollout, image)

    def measurements(self) -> dict[tuple[str, str], Measurement]:
        """Measure what is due, as the reconciler's Analyst does (classified by the real CEL
        conditions), with the scripted observations."""
        taken: dict[tuple[str, str], Measurement] = {}
        for run in self.status.analysis_runs:
            if run.phase.done or run.revision != self.status.current_revision:
                continue
            results = {m.name: m for m in run.metrics}
            for metric in self.metrics.get(run.name, ()):
                result = results.get(metric.name) or MetricResult(name=metric.name)
                at = next_due(metric, result, run.started_at)
                if at is None or at > self.now or self.observe is None:
                    continue
                observation = self.observe(run.name, metric.name, self.now)
                phase, why = classify(metric, observation)
                running = (
                    result.last
                    if result.last and result.last.phase is MeasurementPhase.RUNNING
                    else None
                )
                taken[(run.name, metric.name)] = Measurement(
                    phase=phase,
                    value=observation.display,
                    message=why,
                    started_at=running.started_at if running else self.now,
                    finished_at=None if phase is MeasurementPhase.RUNNING else self.now,
                    metadata=dict(observation.metadata),
                )
        return taken

    def inputs(self) -> Inputs:
        return Inputs(
            name=self.rollout.metadata.name,
            spec=self.rollout.spec,
            status=self.status,
            generation=self.rollout.metadata.generation or 1,
            template=self.template(),
            world=self.world(),
            now=self.now,
            traffic_routing=self.traffic_routing,
            analysis=AnalysisInputs(metrics=self.metrics, measurements=self.measurements()),
            preflight=self.preflight,
        )

    def step(self) -> Decision:
        """One reconcile: decide, persist status, execute actions, let pods become ready."""
        decision = decide(self.inputs())
        self.decisions.append(decision)
        self.rollout = self.rollout.model_copy(update={"status": decision.status})
        self.terminated += [f"{t.run}/{t.metric}" for t in decision.terminations]
        for action in decision.actions:
            self.apply(action)
        self.settle()
        return decision

    def apply(self, action: object) -> None:
        self.log.append(repr(action))
        match action:
            case CreateRevision(revision=rev, number=n, replicas=r, template=t):
                if rev not in self.revisions:
                    self.revisions[rev] = RevisionState(rev, n, r)
                    self.templates[rev] = t
            case ScaleRevision(revision=rev, replicas=r):
                state = self.revisions[rev]
                self.revisions[rev] = replace(
                    state, replicas=r, available=min(state.available, r), ready=min(state.ready, r)
                )
            case RenumberRevision(revision=rev, number=n):
                self.revisions[rev] = replace(self.revisions[rev], number=n)
            case DeleteRevision(revision=rev):
                del self.revisions[rev]
            case PinService(service=svc, revision=rev):
                self.services[svc] = rev
            case SetWeight(stable_revision=s, canary_revision=c, weight=w, baseline=b):
                self.weight_writes.append(
                    (c, w, self.revisions[c].available if c in self.revisions else 0)
                )
                if b is not None:
                    available = (
                        self.revisions[b.revision].available if b.revision in self.revisions else 0
                    )
                    self.baseline_writes.append((b.weight, available))
                self.weights = TrafficWeights(
                    stable=RevisionWeight(revision=s, weight=100 - w - (b.weight if b else 0)),
                    canary=RevisionWeight(revision=c, weight=w),
                    baseline=b,
                )
            case SetRoute(route=route):
                canary = self.status.current_revision or ""
                self.route_writes.append(
                    self.revisions[canary].available if canary in self.revisions else 0
                )
                routes = (
                    self.header_routes if isinstance(route, SetHeaderRoute) else self.mirror_routes
                )
                if route.match or getattr(route, "percentage", None) is not None:
                    routes.add(route.name)
                else:
                    routes.discard(route.name)
            case RemoveManagedRoutes():
                self.header_routes.clear()
                self.mirror_routes.clear()
            case RestartRevision() | ScaleWorkload():
                pass
            case _:
                raise AssertionError(f"unknown action {action!r}")

    def settle(self) -> None:
        """Pods become ready at once, except those of never-ready revisions."""
        for rev, state in self.revisions.items():
            ready = 0 if rev in self.never_ready else state.replicas
            if rev in self.slow:
                ready = min(ready, state.available + 1)
            self.revisions[rev] = replace(state, available=ready, ready=ready)

    def run(self, *, seconds: float = 120, tick: float = 0.5, until: Any = None) -> None:
        """Reconcile every `tick` seconds of fake time until `until(sim)` or the time is up."""
        end = self.now + timedelta(seconds=seconds)
        while self.now < end:
            self.step()
            if until is not None and until(self):
                return
            self.now += timedelta(seconds=tick)
        if until is not None:
            raise AssertionError(f"condition not reached in {seconds}s: {self.status.message}")

    def promote(self) -> None:
        self.rollout = self.rollout.model_copy(
            update={
                "status": self.status.model_copy(
                    update={"promote_step": self.status.current_step_index}
                )
            }
        )

    def request(self, **updates: Any) -> None:
        self.rollout = self.rollout.model_copy(
            update={"status": self.status.model_copy(update=updates)}
        )
