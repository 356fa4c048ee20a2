"""Carry out the engine's actions, in order, as Kubernetes writes.

Each action is one write and idempotent: re-running a decision after a crash or a conflict
converges to the same objects. Results are written through to the caches.
"""

from __future__ import annotations

import contextlib
import copy
import json
from collections.abc import Callable
from typing import Any

from rollout import labels
from rollout.engine import (
    Action,
    CreateRevision,
    DeleteRevision,
    PinService,
    RemoveManagedRoutes,
    RenumberRevision,
    RestartRevision,
    ScaleRevision,
    ScaleWorkload,
    SetRoute,
    SetWeight,
)
from rollout.errors import ConflictError, NotFoundError
from rollout.kube import DEPLOYMENTS, SERVICES, Kube
from rollout.kube.client import Obj
from rollout.models import Rollout
from rollout.models.bluegreen import AntiAffinity
from rollout.models.time import format_time
from rollout.models.traffic import SetHeaderRoute
from rollout.routing import TrafficRouter


def deployment_name(rollout: Rollout, revision: str) -> str:
    return f"{rollout.metadata.name}-{revision}"


def revision_deployment(rollout: Rollout, action: CreateRevision) -> Obj:
    """The Deployment of one revision: the Rollout's template plus the revision label, owned
    by the Rollout (so deleting the Rollout deletes it)."""
    template: dict[str, Any] = copy.deepcopy(action.template)
    meta = template.setdefault("metadata", {})
    meta.setdefault("labels", {})[labels.REVISION] = action.revision
    blue_green = rollout.spec.strategy.blue_green
    if blue_green is not None and blue_green.anti_affinity is not None and action.avoid:
        _avoid(template, blue_green.anti_affinity, action.avoid)
    selector = rollout.spec.selector.to_dict()
    selector.setdefault("matchLabels", {})[labels.REVISION] = action.revision
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": deployment_name(rollout, action.revision),
            "namespace": rollout.metadata.namespace,
            "labels": {labels.NAME: rollout.metadata.name, labels.REVISION: action.revision},
            "annotations": {
                labels.REVISION_NUMBER: str(action.number),
                labels.TEMPLATE: json.dumps(action.template, sort_keys=True, separators=(",", ":")),
            },
            "ownerReferences": [rollout.owner_reference()],
        },
        "spec": {
            "replicas": action.replicas,
            "selector": selector,
            "template": template,
            "progressDeadlineSeconds": rollout.spec.progress_deadline_seconds,
        },
    }


def _avoid(template: dict[str, Any], rule: AntiAffinity, revision: str) -> None:
    """Add a pod anti-affinity term against the old revision's pods, by node. Only the
    Deployment's copy gets it: the template annotation (undo) and the hash stay as written."""
    term = {
        "labelSelector": {"matchLabels": {labels.REVISION: revision}},
        "topologyKey": "kubernetes.io/hostname",
    }
    spec = template.setdefault("spec", {})
    anti = spec.setdefault("affinity", {}).setdefault("podAntiAffinity", {})
    preferred = rule.preferred_during_scheduling_ignored_during_execution
    if preferred is not None:
        anti.setdefault("preferredDuringSchedulingIgnoredDuringExecution", []).append(
            {"weight": preferred.weight, "podAffinityTerm": term}
        )
    else:
        anti.setdefault("requiredDuringSchedulingIgnoredDuringExecution", []).append(term)


class Executor:
    def __init__(
        self, kube: Kube, router: TrafficRouter, *, remember: Callable[[Obj], None]
    ) -> None:
        self._kube = kube
        self._router = router
        self._remember = remember  # write-through to the caches

    def run(self, rollout: Rollout, actions: list[Action]) -> None:
        for action in actions:
            self.apply(rollout, action)

    def apply(self, rollout: Rollout, action: Action) -> None:
        ns = rollout.metadata.namespace
        match action:
            case CreateRevision():
                # AlreadyExists: an earlier run of this same decision created it.
                with contextlib.suppress(ConflictError):
                    body = revision_deployment(rollout, action)
                    self._remember(self._kube.create(DEPLOYMENTS, body, namespace=ns))
            case ScaleRevision(revision=rev, replicas=n):
                self._patch_deployment(rollout, rev, {"spec": {"replicas": n}})
            case RenumberRevision(revision=rev, number=n):
                self._patch_deployment(
                    rollout, rev, {"metadata": {"annotations": {labels.REVISION_NUMBER: str(n)}}}
                )
            case RestartRevision(revision=rev, at=at):
                stamp = {labels.RESTARTED_AT: format_time(at)}
                self._patch_deployment(
                    rollout, rev, {"spec": {"template": {"metadata": {"annotations": stamp}}}}
                )
            case DeleteRevision(revision=rev):
                with contextlib.suppress(NotFoundError):
                    self._kube.delete(DEPLOYMENTS, deployment_name(rollout, rev), namespace=ns)
            case PinService(service=svc, revision=rev):
                patch = {
                    "metadata": {"annotations": {labels.MANAGED_BY: rollout.metadata.name}},
                    "spec": {"selector": {labels.REVISION: rev}},
                }
                self._remember(self._kube.patch(SERVICES, svc, patch, namespace=ns))
            case SetWeight(stable_revision=stable, canary_revision=canary, weight=weight):
                if action.baseline is None:  # routers without a baseline lack the parameter
                    self._router.set_weight(rollout, stable=stable, canary=canary, weight=weight)
                else:
                    self._router.set_weight(
                        rollout,
                        stable=stable,
                        canary=canary,
                        weight=weight,
                        baseline=action.baseline,
                    )
            case SetRoute(route=route):
                if isinstance(route, SetHeaderRoute):
                    self._router.set_header_route(rollout, route)
                else:
                    self._router.set_mirror_route(rollout, route)
            case RemoveManagedRoutes():
                self._router.remove_managed_routes(rollout)
            case ScaleWorkload(name=name, replicas=n):
                self._kube.patch(DEPLOYMENTS, name, {"spec": {"replicas": n}}, namespace=ns)

    def _patch_deployment(self, rollout: Rollout, revision: str, patch: Obj) -> None:
        name = deployment_name(rollout, revision)
        self._remember(
            self._kube.patch(DEPLOYMENTS, name, patch, namespace=rollout.metadata.namespace)
        )
