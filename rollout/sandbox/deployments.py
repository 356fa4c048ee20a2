"""Simulated Deployment controller: turns Deployment specs into realistic status.

There are no Pods or ReplicaSets. Each Deployment gets a list of simulated
replicas (start times); a replica is ready ``ready-after`` seconds after it
started and available ``minReadySeconds`` later. Scaling up adds replicas
now, scaling down drops the newest immediately, and a pod-template change
restarts every replica at once (a simplified rolling update: all replicas
count as "updated" immediately, and surge/unavailability budgets only decide
the Available condition). Status and the Available/Progressing conditions
follow the documented deployment-controller semantics, including
ProgressDeadlineExceeded. Status is written only when it changes.

A pass looks only at the Deployments that changed since the last one and those
whose status is due to change by then (a replica becoming ready or available, the
progress deadline), so its cost follows the changes, not the number of Deployments.

Knobs, read from the Deployment's annotations or its pod template's:
``sandbox.rollout.dev/ready-after: "2.5"`` and
``sandbox.rollout.dev/never-ready: "true"``.
"""

from __future__ import annotations

import copy
import hashlib
import heapq
import json
import logging
import math
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .loop import ControllerLoop
from .objects import get_path
from .resources import ResourceType
from .store import Store

JSON = dict[str, Any]
READY_AFTER = "sandbox.rollout.dev/ready-after"
NEVER_READY = "sandbox.rollout.dev/never-ready"
_HASH_CHARS = "bcdfghjklmnpqrstvwxz2456789"
_log = logging.getLogger(__name__)


def _rfc3339(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def template_hash(template: Any) -> str:
    digest = hashlib.sha256(json.dumps(template, sort_keys=True).encode()).digest()
    return "".join(_HASH_CHARS[b % len(_HASH_CHARS)] for b in digest[:10])


def _scaled(value: Any, total: int, *, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent for maxSurge/maxUnavailable."""
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.endswith("%"):
        try:
            pct = int(value[:-1])
        except ValueError:
            return 0
        exact = pct * total / 100
        return math.ceil(exact) if round_up else math.floor(exact)
    return 0


def max_unavailable(spec: JSON, desired: int) -> int:
    strategy = spec.get("strategy") or {}
    if strategy.get("type", "RollingUpdate") != "RollingUpdate" or desired == 0:
        return 0
    ru = strategy.get("rollingUpdate") or {}
    surge = _scaled(ru.get("maxSurge", "25%"), desired, round_up=True)
    unavailable = _scaled(ru.get("maxUnavailable", "25%"), desired, round_up=False)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # the controller never allows both to be zero
    return min(unavailable, desired)


@dataclass
class _Replicas:
    template: str
    generation: int
    starts: list[float] = field(default_factory=list)  # monotonic start time per replica
    progress_mono: float = 0.0
    progress_wall: float = 0.0
    available_seen: int = 0


def _knob(obj: JSON, key: str) -> str | None:
    for notes in (
        get_path(obj, ".metadata.annotations"),
        get_path(obj, ".spec.template.metadata.annotations"),
    ):
        if isinstance(notes, dict) and isinstance(notes.get(key), str):
            return str(notes[key])
    return None


class DeploymentSimulator(ControllerLoop):
    def __init__(self, store: Store, rt: ResourceType, *, ready_delay: float, tick: float) -> None:
        super().__init__(store, name="sandbox-deployments", tick=tick, watched=[rt.storage_key])
        self._rt = rt
        self._ready_delay = ready_delay
        self._state: dict[str, _Replicas] = {}
        self._uids: dict[tuple[str, str], str] = {}  # (namespace, name) -> uid simulated
        self._changed: set[tuple[str, str]] = set()  # written since the last pass
        self._timers: list[tuple[float, tuple[str, str]]] = []  # heap: (monotonic, key)
        self._full_pass = True  # the first pass looks at every Deployment

    def _on_change(self, key: str, type_: str, obj: JSON) -> None:
        """Called under the store's lock, after each commit."""
        if key == self._rt.storage_key:
            meta = obj["metadata"]
            self._changed.add((meta.get("namespace") or "", meta["name"]))
        super()._on_change(key, type_, obj)

    def reconcile_all(self) -> None:
        now_mono = time.monotonic()
        with self._store.lock:  # `_on_change` runs under it
            keys, self._changed = self._changed, set()
        while self._timers and self._timers[0][0] <= now_mono:
            keys.add(heapq.heappop(self._timers)[1])
        if self._full_pass:
            self._full_pass = False
            keys.update(key for key, _ in self._store.objects_of(self._rt.storage_key))
        for ns, name in sorted(keys):
            obj = self._store.find(self._rt, ns, name)
            uid = obj["metadata"]["uid"] if obj is not None else None
            old_uid = self._uids.pop((ns, name), None)
            if old_uid is not None and old_uid != uid:
                self._state.pop(old_uid, None)  # deleted, or deleted and created again
            if obj is None or uid is None:
                continue
            self._uids[(ns, name)] = uid
            now_mono, now_wall = time.monotonic(), time.time()
            wanted, due = self._desired_status(obj, now_mono, now_wall)
            if due is not None:
                heapq.heappush(self._timers, (due, (ns, name)))
            if wanted != obj.get("status"):
                self._write(ns, name, uid, wanted)

    def _write(self, ns: str, name: str, uid: str, status: JSON) -> None:
        def with_status(current: JSON) -> JSON:
            new = copy.deepcopy(current)
            if current["metadata"]["uid"] == uid:
                new["status"] = status
            return new

        try:
            self._store.mutate(self._rt, ns, name, with_status, subresource="status")
        except Exception as exc:  # deleted meanwhile, etc.: next pass sees the truth
            _log.debug("status write for %s/%s skipped: %s", ns, name, exc)

    def _desired_status(self, obj: JSON, now: float, wall: float) -> tuple[JSON, float | None]:
        """The status `obj` should have now, and when (monotonic) it next changes by itself
        (None: not before the object changes)."""
        meta, spec = obj["metadata"], obj.get("spec") or {}
        desired = int(spec.get("replicas", 1))
        generation = int(meta.get("generation", 1))
        tmpl = template_hash(spec.get("template"))
        st = self._state.get(meta["uid"])
        if st is None or st.template != tmpl:
            # New Deployment or template change: every replica (re)starts now.
            st = _Replicas(tmpl, generation, [now] * desired, now, wall)
            self._state[meta["uid"]] = st
        if st.generation != generation:
            st.generation = generation
            st.progress_mono, st.progress_wall = now, wall
        if desired > len(st.starts):
            st.starts.extend([now] * (desired - len(st.starts)))
        del st.starts[desired:]  # scale-down is immediate; newest replicas go first

        never = (_knob(obj, NEVER_READY) or "").lower() == "true"
        try:
            ready_after = float(_knob(obj, READY_AFTER) or self._ready_delay)
        except ValueError:
            ready_after = self._ready_delay
        min_ready = float(spec.get("minReadySeconds") or 0)
        ready = 0 if never else sum(1 for s in st.starts if now - s >= ready_after)
        available = 0 if never else sum(1 for s in st.starts if now - s >= ready_after + min_ready)
        if available > st.available_seen:
            st.progress_mono, st.progress_wall = now, wall  # new available pods count as progress
        st.available_seen = available
        deadline = float(spec.get("progressDeadlineSeconds", 600))
        changes = [] if never else [s + ready_after for s in st.starts]
        changes += [] if never else [s + ready_after + min_ready for s in st.starts]
        if available < desired:
            changes.append(st.progress_mono + deadline + 1e-3)  # `>`: just after the deadline
        due = min((t for t in changes if t > now and math.isfinite(t)), default=None)

        rs = f"{meta['name']}-{tmpl}"
        previous = {c.get("type"): c for c in (obj.get("status") or {}).get("conditions") or []}
        min_available = desired - max_unavailable(spec, desired)
        if available >= min_available:
            avail = ("True", "MinimumReplicasAvailable", "Deployment has minimum availability.")
        else:
            avail = (
                "False",
                "MinimumReplicasUnavailable",
                "Deployment does not have minimum availability.",
            )
        if spec.get("paused"):
            prog = ("Unknown", "DeploymentPaused", "Deployment is paused")
        elif available >= desired:
            prog = (
                "True",
                "NewReplicaSetAvailable",
                f'ReplicaSet "{rs}" has successfully progressed.',
            )
        elif now - st.progress_mono > deadline:
            prog = (
                "False",
                "ProgressDeadlineExceeded",
                f'ReplicaSet "{rs}" has timed out progressing.',
            )
        else:
            prog = ("True", "ReplicaSetUpdated", f'ReplicaSet "{rs}" is progressing.')
        conditions = [
            _condition(previous.get("Available"), "Available", avail, wall, st.progress_wall),
            _condition(previous.get("Progressing"), "Progressing", prog, wall, st.progress_wall),
        ]
        status: JSON = {"observedGeneration": generation}
        # Counts are omitempty in the API: zero values are absent, as on a real cluster.
        for key, value in (
            ("replicas", desired),
            ("updatedReplicas", desired),
            ("readyReplicas", ready),
            ("availableReplicas", available),
            ("unavailableReplicas", desired - available),
        ):
            if value:
                status[key] = value
        status["conditions"] = conditions
        return status, due


def _condition(
    prev: JSON | None, type_: str, value: tuple[str, str, str], now: float, progress: float
) -> JSON:
    status, reason, message = value
    same_status = prev is not None and prev.get("status") == status
    unchanged = (
        same_status
        and prev is not None
        and (prev.get("reason"), prev.get("message")) == (reason, message)
    )
    transition = (
        str(prev.get("lastTransitionTime")) if same_status and prev is not None else _rfc3339(now)
    )
    if not unchanged or prev is None:
        updated = _rfc3339(now)
    elif type_ == "Progressing":
        # Progressing.lastUpdateTime marks the last progress; the deadline counts from it.
        updated = max(str(prev.get("lastUpdateTime") or ""), _rfc3339(progress))
    else:
        updated = str(prev.get("lastUpdateTime"))
    return {
        "type": type_,
        "status": status,
        "lastUpdateTime": updated,
        "lastTransitionTime": transition,
        "reason": reason,
        "message": message,
    }
