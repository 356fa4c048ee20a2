"""The rollouts of the fault suite: their kinds, documents and expected ends, and what the
driver (tests/faults/driver.py), which releases them v1 -> v2 and plays the person on call,
reads of them: a `World` of the committed state, `at_end`, `waiting_for_promotion`.

Kinds (`KINDS` has the counts for the 100-rollout run; the reference run has one of each):
- `plain`: no router (traffic by replica ratio), FAST_STEPS with a manual pause: promoted by
  the on-call.
- `istio`, `gw`: an Istio VirtualService / a Gateway API HTTPRoute, timed steps.
- `good`, `goodistio`: an analysis step on the `web` provider answering a good value.
- `bad`, `badgw`: the same answering a bad value: aborted by the analysis.
- `bkbad`: background analysis (istio) answering a bad value from step 1, a manual pause
  nobody promotes: aborted by the analysis, never promoted by the steps.
- `fragile`: an analysis step whose metric tolerates 2 errors in a row, released while the
  metrics provider is down, on a path that answers 503 even once it is back: aborted by the
  errors. (The others tolerate 1000: they ride the outage out and decide on the values once
  it is over.)
- `bg`, `bggood`: blue-green with auto-promotion; `bggood` with a pre-promotion analysis.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from rollout import labels
from rollout.errors import KubeError
from rollout.kube import Kind as KubeKind
from rollout.kube.client import Obj
from rollout.kube.kinds import ANALYSIS_TEMPLATES
from tests.bench.canary_bench import KINDS as ROUTING_KINDS
from tests.bench.canary_bench import ROUTINGS, routing_object
from tests.e2e.harness import FAST_STEPS, NS, Cluster
from tests.e2e.test_canary import rev
from tests.faults.record import DEPLOYMENTS, ROLLOUTS, SERVICES, Change
from tests.meshes import upstream

PROMOTED, ABORTED = "promoted", "aborted"
GOOD, BAD, FRAGILE = "web-good", "web-bad", "web-fragile"
REPLICAS = 5
# Far above the clock jumps of the run (together): a forward jump must not fire a deadline.
PROGRESS_DEADLINE = 3600
ROUTED_STEPS: list[Obj] = [{"setWeight": 20}, {"pause": {"duration": "1s"}}, {"setWeight": 60}]


def analysis_steps(template: str) -> list[Obj]:
    return [
        {"setWeight": 25},
        {"analysis": {"templates": [{"templateName": template}]}},
        {"setWeight": 50},
    ]


@dataclass(frozen=True)
class Kind:
    key: str
    count: int
    expect: str
    router: str = "none"
    strategy: str = "canary"
    analysis: str | None = None
    background: bool = False
    manual: bool = False  # stops at a manual pause the on-call promotes
    after_outage: bool = False  # released once the metrics provider is down

    def names(self) -> list[str]:
        return [f"{self.key}{i:02d}" for i in range(self.count)]


KINDS: tuple[Kind, ...] = (
    Kind("plain", 28, PROMOTED, manual=True),
    Kind("istio", 14, PROMOTED, router="istio"),
    Kind("gw", 14, PROMOTED, router="gatewayAPI"),
    Kind("good", 12, PROMOTED, analysis=GOOD),
    Kind("goodistio", 6, PROMOTED, router="istio", analysis=GOOD),
    Kind("bad", 8, ABORTED, analysis=BAD),
    Kind("badgw", 6, ABORTED, router="gatewayAPI", analysis=BAD),
    Kind("bkbad", 4, ABORTED, router="istio", analysis=BAD, background=True),
    Kind("fragile", 4, ABORTED, analysis=FRAGILE, after_outage=True),
    Kind("bg", 2, PROMOTED, strategy="blueGreen"),
    Kind("bggood", 2, PROMOTED, strategy="blueGreen", analysis=GOOD),
)


def one_of_each() -> tuple[Kind, ...]:
    return tuple(
        Kind(k.key, 1, k.expect, k.router, k.strategy, k.analysis, k.background, k.manual)
        for k in KINDS
    )


def template(name: str, url: str, *, error_limit: int) -> Obj:
    """A `web` metric: 2 measurements 1 s apart; good below 0.05, failed from 0.1."""
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": name},
        "spec": {
            "metrics": [
                {
                    "name": "error-ratio",
                    "provider": {"web": {"url": url, "jsonPath": "$.value", "timeout": 1}},
                    "interval": "1s",
                    "count": 2,
                    "successCondition": "result < 0.05",
                    "failureCondition": "result >= 0.1",
                    "consecutiveErrorLimit": error_limit,
                }
            ]
        },
    }


def install(cluster: Cluster, metrics_url: str) -> None:
    """The upstream routing CRDs and the three AnalysisTemplates."""
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    upstream.install(cluster.kube, "gateway.networking.k8s.io", "HTTPRoute")
    for name, path, limit in ((GOOD, "good", 1000), (BAD, "bad", 1000), (FRAGILE, "fragile", 2)):
        body = template(name, f"{metrics_url}/{path}", error_limit=limit)
        cluster.kube.create(ANALYSIS_TEMPLATES, body, namespace=NS)


def create(cluster: Cluster, kind: Kind, name: str) -> None:
    spec: dict[str, Any] = {
        "progressDeadlineSeconds": PROGRESS_DEADLINE,
        "preflight": {"timeout": PROGRESS_DEADLINE},
    }
    if kind.strategy == "blueGreen":
        blue_green: Obj = {"previewReplicaCount": 1}
        if kind.analysis:
            blue_green["prePromotionAnalysis"] = {"templates": [{"templateName": kind.analysis}]}
        cluster.create_blue_green(name, replicas=REPLICAS, blue_green=blue_green, **spec)
        return
    canary: Obj = {"abortScaleDownDelaySeconds": 1}
    if kind.router != "none":
        routing = routing_object(kind.router, name)
        assert routing is not None
        cluster.kube.create(ROUTING_KINDS[kind.router], routing, namespace=NS)
        canary["trafficRouting"] = ROUTINGS[kind.router](name)
    steps: list[Obj]
    if kind.background:
        canary["analysis"] = {"templates": [{"templateName": kind.analysis}], "startingStep": 1}
        # A manual pause nobody promotes: the background run alone ends the update, at the
        # same step however long the metrics outage holds back its verdict.
        steps = [{"setWeight": 20}, {"pause": {}}]
    elif kind.analysis:
        steps = analysis_steps(kind.analysis)
    elif kind.manual:
        steps = FAST_STEPS
    else:
        steps = ROUTED_STEPS
    cluster.create(name, steps=steps, canary=canary, replicas=REPLICAS, **spec)


def services(kind: Kind, name: str) -> tuple[str, str]:
    if kind.strategy == "blueGreen":
        return f"{name}-active", f"{name}-preview"
    return f"{name}-stable", f"{name}-canary"


def routing_kind(kind: Kind) -> KubeKind | None:
    return ROUTING_KINDS.get(kind.router)


def retried(
    action: Callable[[], object],
    *,
    also: tuple[type[Exception], ...] = (),
    attempts: int = 50,
) -> None:
    """The driver's own API calls meet the injected faults too: a person retries (on an API
    error, and on the errors in `also`)."""
    retry_on: tuple[type[Exception], ...] = (KubeError, *also)
    for attempt in range(attempts):
        try:
            action()
            return
        except retry_on:
            if attempt == attempts - 1:
                raise
            time.sleep(0.05)


class World:
    """The newest committed state of every object the recorder saw (no API reads: the
    driver must not add load, or meet faults, to know where each rollout stands)."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], Obj] = {}
        self.deployments_of: dict[str, dict[str, Obj]] = {}  # rollout -> revision -> Deployment

    def apply(self, changes: list[Change]) -> None:
        for change in changes:
            key = (change.kind, change.name)
            if change.type == "DELETED":
                self.objects.pop(key, None)
            else:
                self.objects[key] = change.obj
            if change.kind == DEPLOYMENTS:
                meta_labels = change.obj["metadata"].get("labels") or {}
                owner, revision = meta_labels.get(labels.NAME), meta_labels.get(labels.REVISION)
                if owner and revision:
                    revisions = self.deployments_of.setdefault(str(owner), {})
                    if change.type == "DELETED":
                        revisions.pop(str(revision), None)
                    else:
                        revisions[str(revision)] = change.obj

    def rollout(self, name: str) -> Obj:
        return self.objects.get((ROLLOUTS, name)) or {}

    def status(self, name: str) -> Obj:
        return self.rollout(name).get("status") or {}

    def replicas(self, name: str) -> dict[str, tuple[int, int]]:
        return {
            revision: (
                int((d.get("spec") or {}).get("replicas", 1)),
                int((d.get("status") or {}).get("availableReplicas") or 0),
            )
            for revision, d in self.deployments_of.get(name, {}).items()
        }

    def pin(self, service: str) -> str | None:
        obj = self.objects.get((SERVICES, service)) or {}
        selector = (obj.get("spec") or {}).get("selector") or {}
        pinned = selector.get(labels.REVISION)
        return None if pinned is None else str(pinned)


@cache
def revisions(name: str) -> tuple[str, str]:
    """(v1, v2): the revision hashes of app:v1 and app:v2 (cached: a pydantic validation each,
    and the driver asks for them every tick for every rollout)."""
    return rev("app:v1", name), rev("app:v2", name)


def roles(name: str) -> dict[str, str]:
    v1, v2 = revisions(name)
    return {v1: "v1", v2: "v2"}


def at_end(world: World, kind: Kind, name: str) -> bool:
    """The rollout is where an uninterrupted run leaves it (as far as status, Deployments and
    Service pins tell; test_hundred_rollouts checks the rest once everything is quiet)."""
    v1, v2 = revisions(name)
    status = world.status(name)
    rollout = world.rollout(name)
    current_generation = status.get("observedGeneration") == (rollout.get("metadata") or {}).get(
        "generation"
    )
    primary, secondary = services(kind, name)
    replicas = world.replicas(name)
    if kind.expect == PROMOTED:
        return (
            current_generation
            and status.get("phase") == "Healthy"
            and status.get("stableRevision") == status.get("currentRevision") == v2
            and replicas == {v2: (REPLICAS, REPLICAS), v1: (0, 0)}
            and world.pin(primary) == world.pin(secondary) == v2
        )
    return (
        current_generation
        and status.get("phase") == "Degraded"
        and bool(status.get("abort"))
        and status.get("stableRevision") == v1
        and status.get("currentRevision") == v2
        and replicas == {v1: (REPLICAS, REPLICAS), v2: (0, 0)}
        and world.pin(primary) == world.pin(secondary) == v1
    )


def waiting_for_promotion(world: World, kind: Kind, name: str) -> bool:
    """At its manual pause, not yet promoted (the on-call's cue)."""
    status = world.status(name)
    pauses = status.get("pauseConditions") or []
    return (
        kind.manual
        and status.get("currentRevision") == revisions(name)[1]
        and status.get("currentRevision") != status.get("stableRevision")
        and not status.get("abort")
        and status.get("promoteStep") is None
        and status.get("currentStepIndex") == len(FAST_STEPS) - 1
        and any(p.get("reason") == "CanaryPauseStep" for p in pauses)
    )
