"""From cached objects to the engine's `World`: revisions, pinned Services, weights."""

from __future__ import annotations

import json
from typing import Any

from rollout import labels
from rollout.engine import RevisionState, World
from rollout.kube.client import Obj
from rollout.models import Rollout
from rollout.routing import RouterState


def revision_states(rollout: Rollout, deployments: list[Obj]) -> dict[str, RevisionState]:
    """Revisions owned by this Rollout (by uid, so a recreated Rollout of the same name does not
    adopt its predecessor's Deployments while they are garbage-collected)."""
    states: dict[str, RevisionState] = {}
    for dep in deployments:
        meta = dep["metadata"]
        if meta.get("deletionTimestamp"):
            continue
        owners = meta.get("ownerReferences") or []
        if rollout.metadata.uid and not any(o.get("uid") == rollout.metadata.uid for o in owners):
            continue
        revision = (meta.get("labels") or {}).get(labels.REVISION)
        if not revision:
            continue
        replicas = int((dep.get("spec") or {}).get("replicas", 1))
        status = dep.get("status") or {}
        # A status older than the last scale may still count pods that are gone.
        available = min(int(status.get("availableReplicas") or 0), replicas)
        ready = min(int(status.get("readyReplicas") or 0), replicas)
        number = int((meta.get("annotations") or {}).get(labels.REVISION_NUMBER, "0") or 0)
        states[revision] = RevisionState(revision, number, replicas, available, ready)
    return states


def service_pins(rollout: Rollout, services: dict[str, Obj | None]) -> dict[str, str | None]:
    pins: dict[str, str | None] = {}
    for name, svc in services.items():
        if svc is None:
            continue
        selector: dict[str, Any] = (svc.get("spec") or {}).get("selector") or {}
        pins[name] = selector.get(labels.REVISION)
    return pins


def build_world(
    rollout: Rollout,
    deployments: list[Obj],
    services: dict[str, Obj | None],
    *,
    routing: RouterState,
    workload: Obj | None,
) -> World:
    return World(
        revisions=revision_states(rollout, deployments),
        stable_template=_template_of(rollout, deployments, rollout.status.stable_revision),
        services=service_pins(rollout, services),
        weights=routing.weights,
        header_routes=routing.header_routes,
        mirror_routes=routing.mirror_routes,
        workload_replicas=None
        if workload is None
        else int((workload.get("spec") or {}).get("replicas", 1)),
    )


def _template_of(rollout: Rollout, deployments: list[Obj], revision: str | None) -> Any:
    """A revision's pod template as the Rollout had it (the annotation the executor writes)."""
    for dep in deployments:
        meta = dep["metadata"]
        if revision and (meta.get("labels") or {}).get(labels.REVISION) == revision:
            raw = (meta.get("annotations") or {}).get(labels.TEMPLATE)
            if raw:
                try:
                    return json.loads(raw)
                except ValueError:
                    return None
    return None
