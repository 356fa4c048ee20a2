"""Simulated Job controller (and TTL-after-finished controller): Jobs run Pods to completion.

For each Job it creates Pods from the template (named ``<job>-<5 chars>``, the
template's labels -- which the Job API defaulted to ``job-name`` /
``batch.kubernetes.io/job-name`` / ``controller-uid`` -- and a controller
ownerReference to the Job), marks each Running at once, and after the Pod's run
time marks it Succeeded or Failed. The Job's status follows the documented
controller semantics: ``active``/``ready``/``succeeded``/``failed`` counts,
``startTime``; Complete (``completionTime``; reason CompletionsReached) once
``completions`` Pods succeeded (for a work-queue Job, once one succeeded and none
is active); a failed Pod is replaced until more than ``backoffLimit`` failed, then
Failed/BackoffLimitExceeded; Failed/DeadlineExceeded after
``activeDeadlineSeconds`` (active Pods deleted). As on v1.31+ clusters,
SuccessCriteriaMet / FailureTarget precede Complete / Failed. A Pod deleted
before it finished counts as failed and is replaced (Pod tracking finalizers).
``ttlSecondsAfterFinished`` deletes a finished Job and, in the background, its Pods.

Knobs, read from the Job's annotations or its pod template's:
``sandbox.rollout.dev/job-outcome: succeed|fail`` (default succeed) and
``sandbox.rollout.dev/job-duration: "2s"`` (also ``500ms``, ``1m``, or plain
seconds ``1.5``; default ``start_sandbox(job_duration=...)``). A Pod's log is its
``sandbox.rollout.dev/log`` annotation (see pod_logs.py), so putting that on the
pod template gives every Pod of the Job that output.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import re
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from . import lifecycle
from .errors import ApiError
from .lifecycle import DeleteOptions
from .loop import ControllerLoop
from .resources import ResourceType
from .store import Store

JSON = dict[str, Any]
OUTCOME = "sandbox.rollout.dev/job-outcome"
DURATION = "sandbox.rollout.dev/job-duration"
_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "": 1.0}
_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h)?\s*$")
_GENERATED_PREFIX = 58  # names.SimpleNameGenerator: 63 minus the 5 random characters
_log = logging.getLogger(__name__)


def _rfc3339(wall: float) -> str:
    return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_duration(text: str | None, default: float) -> float:
    """``"2s"``, ``"500ms"``, ``"1m"``, ``"1.5"`` -> seconds; anything else -> ``default``."""
    match = _DURATION_RE.match(text or "")
    if not match:
        return default
    return float(match[1]) * _UNITS[match[2] or ""]


def _knob(job: JSON, key: str) -> str | None:
    for notes in (
        (job.get("metadata") or {}).get("annotations"),
        (((job.get("spec") or {}).get("template") or {}).get("metadata") or {}).get("annotations"),
    ):
        if isinstance(notes, dict) and isinstance(notes.get(key), str):
            return str(notes[key])
    return None


def finished_condition(job: JSON) -> JSON | None:
    """The Job's terminal condition (Complete or Failed with status True), if any."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return dict(cond)
    return None


def _condition(type_: str, reason: str, message: str, wall: float) -> JSON:
    stamp = _rfc3339(wall)
    return {
        "type": type_,
        "status": "True",
        "reason": reason,
        "message": message,
        "lastProbeTime": stamp,
        "lastTransitionTime": stamp,
    }


def _int(value: Any, default: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) else default


@dataclass
class _JobRun:
    started_mono: float
    started_wall: float
    running: dict[str, float] = field(default_factory=dict)  # pod uid -> monotonic start
    lost: int = 0  # Pods deleted before they finished: they count as failed
    finished_mono: float | None = None


class JobSimulator(ControllerLoop):
    def __init__(
        self,
        store: Store,
        jobs: ResourceType,
        pods: ResourceType,
        *,
        job_duration: float,
        tick: float,
    ) -> None:
        super().__init__(
            store, name="sandbox-jobs", tick=tick, watched=[jobs.storage_key, pods.storage_key]
        )
        self._jobs = jobs
        self._pods = pods
        self._duration = job_duration
        self._state: dict[str, _JobRun] = {}

    def reconcile_all(self) -> None:
        live = set()
        for (ns, name), job in self._store.objects_of(self._jobs.storage_key):
            uid = job["metadata"]["uid"]
            live.add(uid)
            if job["metadata"].get("deletionTimestamp"):
                continue
            try:
                self._reconcile(ns, name, job)
            except ApiError as exc:  # deleted meanwhile, namespace terminating, ...
                _log.debug("job %s/%s: %s", ns, name, exc.message)
        for uid in list(self._state):
            if uid not in live:
                del self._state[uid]

    # ---- one Job ---------------------------------------------------------
    def _reconcile(self, ns: str, name: str, job: JSON) -> None:
        now, wall = time.monotonic(), time.time()
        uid = job["metadata"]["uid"]
        run = self._state.get(uid)
        if run is None:
            run = self._state[uid] = _JobRun(now, wall)
        if finished_condition(job) is not None:
            self._expire(ns, name, job, run)
            return
        spec = job.get("spec") or {}
        pods = self._pods_of(ns, uid)
        present = {p["metadata"]["uid"] for p in pods}
        for pod_uid in [u for u in run.running if u not in present]:
            del run.running[pod_uid]
            run.lost += 1
        duration = parse_duration(_knob(job, DURATION), self._duration)
        outcome = "Failed" if (_knob(job, OUTCOME) or "").lower() == "fail" else "Succeeded"
        phases: list[str] = []
        active: list[JSON] = []
        for pod in pods:
            phase = (pod.get("status") or {}).get("phase") or "Pending"
            pod_uid = pod["metadata"]["uid"]
            started = run.running.get(pod_uid)
            if started is not None and now - started >= duration:
                self._finish_pod(ns, pod, outcome, wall)
                del run.running[pod_uid]
                phase = outcome
            phases.append(phase)
            if phase not in ("Succeeded", "Failed") and not pod["metadata"].get(
                "deletionTimestamp"
            ):
                active.append(pod)
        succeeded = phases.count("Succeeded")
        failed = phases.count("Failed") + run.lost
        completions = spec.get("completions")
        parallelism = _int(spec.get("parallelism"), 1)
        deadline = spec.get("activeDeadlineSeconds")
        conditions: list[JSON] = []
        if failed > _int(spec.get("backoffLimit"), 6):
            reason, message = "BackoffLimitExceeded", "Job has reached the specified backoff limit"
            conditions = [
                _condition("FailureTarget", reason, message, wall),
                _condition("Failed", reason, message, wall),
            ]
        elif isinstance(deadline, int) and now - run.started_mono >= deadline:
            reason, message = "DeadlineExceeded", "Job was active longer than specified deadline"
            conditions = [
                _condition("FailureTarget", reason, message, wall),
                _condition("Failed", reason, message, wall),
            ]
        elif (
            (succeeded >= completions)
            if isinstance(completions, int)
            else (succeeded > 0 and not active)
        ):
            reason, message = "CompletionsReached", "Reached expected number of succeeded pods"
            conditions = [
                _condition("SuccessCriteriaMet", reason, message, wall),
                _condition("Complete", reason, message, wall),
            ]
        if conditions:
            if conditions[-1]["type"] == "Failed":
                for pod in active:  # a failed Job stops its running Pods
                    run.running.pop(pod["metadata"]["uid"], None)
                    self._delete_pod(ns, pod)
                active = []
            run.finished_mono = now
        elif not spec.get("suspend"):
            if isinstance(completions, int):
                wanted = min(parallelism, completions - succeeded)
            else:  # a work queue: no new Pods once one succeeded
                wanted = parallelism if succeeded == 0 else len(active)
            for _ in range(wanted - len(active)):
                active.append(self._start_pod(ns, name, job, run, wall))
        status: JSON = {"startTime": _rfc3339(run.started_wall)}
        for key, value in (("active", len(active)), ("succeeded", succeeded), ("failed", failed)):
            if value:  # omitempty, as the API serialises them
                status[key] = value
        status["ready"] = len(active)  # a pointer field: 0 is shown
        status["uncountedTerminatedPods"] = {}
        if conditions:
            status["conditions"] = conditions
            if conditions[-1]["type"] == "Complete":
                status["completionTime"] = _rfc3339(wall)
        if status != job.get("status"):
            self._write(self._jobs, ns, name, uid, status)

    def _expire(self, ns: str, name: str, job: JSON, run: _JobRun) -> None:
        """The TTL-after-finished controller: delete the Job, cascading in the background."""
        ttl = (job.get("spec") or {}).get("ttlSecondsAfterFinished")
        if not isinstance(ttl, int) or isinstance(ttl, bool):
            return
        now, wall = time.monotonic(), time.time()
        if run.finished_mono is not None:
            due = now - run.finished_mono >= ttl
        else:  # finished before we saw it (status written by someone else)
            cond = finished_condition(job) or {}
            try:
                stamp = datetime.strptime(str(cond.get("lastTransitionTime")), "%Y-%m-%dT%H:%M:%SZ")
            except ValueError:
                return
            due = wall - stamp.replace(tzinfo=UTC).timestamp() >= ttl
        if due:
            lifecycle.delete(
                self._store, self._jobs, ns, name, DeleteOptions(propagation="Background")
            )

    # ---- Pods ------------------------------------------------------------
    def _pods_of(self, ns: str, uid: str) -> list[JSON]:
        return [
            pod
            for (pod_ns, _), pod in self._store.objects_of(self._pods.storage_key)
            if pod_ns == ns
            and any(
                ref.get("uid") == uid and ref.get("controller")
                for ref in pod["metadata"].get("ownerReferences") or []
            )
        ]

    def _start_pod(self, ns: str, name: str, job: JSON, run: _JobRun, wall: float) -> JSON:
        template = copy.deepcopy((job.get("spec") or {}).get("template") or {})
        tmeta = template.get("metadata") or {}
        meta: JSON = {
            "generateName": f"{name}-"[:_GENERATED_PREFIX],
            "labels": tmeta.get("labels") or {},
            "ownerReferences": [
                {
                    "apiVersion": self._jobs.api_version,
                    "kind": self._jobs.kind,
                    "name": name,
                    "uid": job["metadata"]["uid"],
                    "controller": True,
                    "blockOwnerDeletion": True,
                }
            ],
        }
        if tmeta.get("annotations"):
            meta["annotations"] = tmeta["annotations"]
        body = {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": template.get("spec")}
        pod = self._store.create(self._pods, ns, body)
        run.running[pod["metadata"]["uid"]] = time.monotonic()
        stamp = _rfc3339(wall)
        containers = (pod.get("spec") or {}).get("containers") or []
        status = {
            "phase": "Running",
            "startTime": stamp,
            "conditions": [
                {"type": t, "status": "True", "lastTransitionTime": stamp}
                for t in ("PodScheduled", "Initialized", "ContainersReady", "Ready")
            ],
            "containerStatuses": [
                {
                    "name": c.get("name"),
                    "image": c.get("image"),
                    "imageID": "",
                    "ready": True,
                    "started": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": stamp}},
                }
                for c in containers
                if isinstance(c, dict)
            ],
        }
        self._write(self._pods, ns, pod["metadata"]["name"], pod["metadata"]["uid"], status)
        return pod

    def _finish_pod(self, ns: str, pod: JSON, phase: str, wall: float) -> None:
        stamp = _rfc3339(wall)
        old = pod.get("status") or {}
        ok = phase == "Succeeded"
        statuses = []
        for cs in old.get("containerStatuses") or []:
            started = ((cs.get("state") or {}).get("running") or {}).get("startedAt", stamp)
            terminated = {
                "exitCode": 0 if ok else 1,
                "reason": "Completed" if ok else "Error",
                "startedAt": started,
                "finishedAt": stamp,
            }
            statuses.append(
                {**cs, "ready": False, "started": False, "state": {"terminated": terminated}}
            )
        conditions = [
            {**c, "status": "False", "reason": "PodCompleted" if ok else "PodFailed"}
            if c.get("type") in ("Ready", "ContainersReady")
            else c
            for c in old.get("conditions") or []
        ]
        status = {**old, "phase": phase, "conditions": conditions, "containerStatuses": statuses}
        self._write(self._pods, ns, pod["metadata"]["name"], pod["metadata"]["uid"], status)

    def _delete_pod(self, ns: str, pod: JSON) -> None:
        with contextlib.suppress(ApiError):  # already gone
            lifecycle.delete(self._store, self._pods, ns, pod["metadata"]["name"], DeleteOptions())

    def _write(self, rt: ResourceType, ns: str, name: str, uid: str, status: JSON) -> None:
        def with_status(current: JSON) -> JSON:
            new = copy.deepcopy(current)
            if current["metadata"]["uid"] == uid:
                new["status"] = status
            return new

        try:
            self._store.mutate(rt, ns, name, with_status, subresource="status")
        except ApiError as exc:  # deleted meanwhile: the next pass sees the truth
            _log.debug("status write for %s %s/%s skipped: %s", rt.kind, ns, name, exc.message)
