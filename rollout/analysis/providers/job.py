"""The `job` provider: a Kubernetes Job is the measurement, and its outcome is the verdict.

measure() without a running measurement creates a batch/v1 Job from the metric's JobSpec and
answers RUNNING; the analyst calls it again with that Running measurement until the Job has a
terminal condition: Complete -> SUCCEEDED, Failed (backoffLimit exceeded, activeDeadlineSeconds
passed) -> FAILED with the condition's reason and message. The tail of the log of the Job's
last Pod is kept in the measurement's metadata (`logs`, from Pod `pod`), so why a smoke test
failed is in `rollout get`, not only in a Pod that the TTL will delete.

What the Job tests is the user's business, through the JobSpec: point it at the canary with
template args, e.g. `args: [{name: canary, value: "http://app-canary.shop"}]` and a container
running `curl -f {{args.canary}}/healthz`. `{{args.NAME}}` is replaced before this provider
sees the spec; the provider itself never guesses a Service or workload.

Why it is built this way:
- The Job's name is a function of (rollout, run, metric, revision, ctx.now), so the same
  measurement always asks for the same name: a controller that created the Job and crashed
  before recording the Running measurement gets 409 AlreadyExists and adopts its Job instead
  of starting a second test. Because the analyst's `now` may differ after a restart, an
  unfinished Job carrying this measurement's labels is adopted too.
- Our labels (rollout, revision, run, metric) go on the Job only, never on its pod template:
  the revision label on a Pod would put a test Pod behind the canary Service's pinned selector.
- `restartPolicy: Never` is set when the template has none (the Pod default `Always` is invalid
  for a Job, and with Never a failed Pod, and its log, stays), and `ttlSecondsAfterFinished`
  when the spec has none (finished Jobs do not pile up; an hour leaves time to look).
- Only Complete/Failed end the measurement: SuccessCriteriaMet/FailureTarget (v1.31+) mean
  Pods are still stopping and the log is not final yet.
- A Job DELETE naming no propagation policy orphans its Pods (batch/v1's legacy default), so
  terminate() asks for Background deletion.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import re
from typing import Any, ClassVar

from pydantic import BaseModel

from rollout import labels
from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.errors import ConflictError, KubeError, NotFoundError, TransientKubeError
from rollout.kube import Kube
from rollout.kube.client import Obj
from rollout.kube.kinds import JOBS, PODS
from rollout.models.analysis import JobMetric
from rollout.models.analysis_status import Measurement

ANALYSIS_RUN = "rollout.dev/analysis-run"
"""On Jobs we create: the analysis run (`step-2`, `background`) they measure for."""
METRIC = "rollout.dev/metric"
"""On Jobs we create: the metric they measure."""
JOB_NAME_LABELS = ("batch.kubernetes.io/job-name", "job-name")
"""The labels the Job API puts on a Job's Pods: the prefixed one (v1.27+) and the legacy one."""
DEFAULT_TTL_SECONDS = 3600
LOG_BYTES = 2048
"""At most this much of the log's tail is kept: the status is not a log store."""
LOG_TIMEOUT = 10.0
NAME_LIMIT = 63
"""A Job's name becomes the value of its Pods' job-name label, so it fits a label value."""
_DIGEST = 10
_LABEL_VALUE = re.compile(r"^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)?$")


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x00".join(parts).encode()).hexdigest()[:_DIGEST]


def job_name(ctx: MeasureContext) -> str:
    """`<rollout>-<run>-<metric>` made a DNS label, cut to fit, plus a digest of everything that
    identifies the measurement: deterministic, at most 63 characters."""
    digest = _digest(ctx.rollout, ctx.run, ctx.metric, ctx.revision, ctx.now.isoformat())
    readable = re.sub(r"[^a-z0-9]+", "-", f"{ctx.rollout}-{ctx.run}-{ctx.metric}".lower())
    readable = readable.strip("-")[: NAME_LIMIT - _DIGEST - 1].rstrip("-")
    return f"{readable}-{digest}" if readable else f"job-{digest}"


def label_value(text: str) -> str:
    """`text` when it is a valid label value, else a shortened form with a digest (a Rollout's
    name may be up to 253 characters; a label value only 63)."""
    if len(text) <= NAME_LIMIT and _LABEL_VALUE.match(text):
        return text
    head = re.sub(r"[^A-Za-z0-9_.-]+", "-", text)[: NAME_LIMIT - _DIGEST - 1]
    head = re.sub(r"^[^A-Za-z0-9]+|[^A-Za-z0-9]+$", "", head)
    return f"{head}-{_digest(text)}" if head else _digest(text)


def measurement_labels(ctx: MeasureContext) -> dict[str, str]:
    return {
        labels.NAME: label_value(ctx.rollout),
        labels.REVISION: label_value(ctx.revision),
        ANALYSIS_RUN: label_value(ctx.run),
        METRIC: label_value(ctx.metric),
    }


def finished_condition(job: Obj) -> Obj | None:
    """The terminal condition (Complete or Failed, status True), if the Job has one."""
    for cond in (job.get("status") or {}).get("conditions") or []:
        if cond.get("type") in ("Complete", "Failed") and cond.get("status") == "True":
            return dict(cond)
    return None


def log_tail(text: str, limit: int = LOG_BYTES) -> str:
    """The last `limit` bytes of `text`, starting at a line boundary when one is in reach."""
    data = text.encode()
    if len(data) > limit:
        text = data[-limit:].decode(errors="ignore")
        cut = text.find("\n")
        if 0 <= cut < len(text) - 1:
            text = text[cut + 1 :]
    return text.rstrip("\n")


class JobProvider:
    """Measures a `job` metric by running a Kubernetes Job (see the module docstring)."""

    name: ClassVar[str] = "job"
    config_model: ClassVar[type[BaseModel]] = JobMetric

    def __init__(self, kube: Kube) -> None:
        self._kube = kube

    def measure(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        if not isinstance(config, JobMetric):
            raise TypeError(f"expected JobMetric, got {type(config).__name__}")
        name = running.metadata.get("job") if running is not None else None
        if name:
            return self._poll(config, ctx, name)
        return self._start(config, ctx)

    def terminate(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> None:
        """Delete the Job and, in the background, its Pods. A Job already gone is fine. Also
        every unfinished Job carrying this measurement's labels: one created just before a
        status write that failed is on record nowhere else (its name has the `now` of that
        attempt), and it would go on testing the canary after the run ended."""
        names = {running.metadata.get("job")} if running is not None else set()
        names |= {str(j["metadata"]["name"]) for j in self._unfinished(ctx)}
        for name in sorted(n for n in names if n):
            with contextlib.suppress(NotFoundError):  # already gone: deleted, or its TTL ran out
                self._kube.delete(JOBS, name, namespace=ctx.namespace, propagation="Background")

    def _unfinished(self, ctx: MeasureContext) -> list[Obj]:
        """This measurement's Jobs (by our labels) not finished and not being deleted."""
        selector = ",".join(f"{k}={v}" for k, v in sorted(measurement_labels(ctx).items()))
        existing, _ = self._kube.list(JOBS, namespace=ctx.namespace, label_selector=selector)
        return [
            j
            for j in existing
            if finished_condition(j) is None and not j["metadata"].get("deletionTimestamp")
        ]

    # -- starting ----------------------------------------------------------------------------
    def _start(self, config: JobMetric, ctx: MeasureContext) -> Observation:
        ours = measurement_labels(ctx)
        name = job_name(ctx)
        try:
            unfinished = self._unfinished(ctx)
        except KubeError as err:
            return _error(f"cannot list Jobs to start {name}: {err.message}")
        if unfinished:
            newest = max(unfinished, key=lambda j: str(j["metadata"].get("creationTimestamp")))
            return self._judge(config, ctx, newest, adopted=True)
        try:
            self._kube.create(JOBS, self._job(config, ctx, name, ours), namespace=ctx.namespace)
        except ConflictError:  # AlreadyExists: created by us before a restart, or by someone else
            return self._adopt(config, ctx, name, ours)
        except KubeError as err:
            return _error(f"cannot create Job {name}: {err.message}", name)
        return Observation(Outcome.RUNNING, message=f"Job {name} started", metadata={"job": name})

    def _job(self, config: JobMetric, ctx: MeasureContext, name: str, ours: dict[str, str]) -> Obj:
        spec: dict[str, Any] = copy.deepcopy(config.spec)
        spec.setdefault("ttlSecondsAfterFinished", DEFAULT_TTL_SECONDS)
        template = spec.get("template")
        pod = template.setdefault("spec", {}) if isinstance(template, dict) else None
        if isinstance(pod, dict):
            pod.setdefault("restartPolicy", "Never")
        metadata: Obj = {"name": name, "namespace": ctx.namespace, "labels": ours}
        if ctx.owner:
            metadata["ownerReferences"] = [dict(ctx.owner)]
        return {
            "apiVersion": JOBS.api_version,
            "kind": JOBS.kind,
            "metadata": metadata,
            "spec": spec,
        }

    def _adopt(
        self, config: JobMetric, ctx: MeasureContext, name: str, ours: dict[str, str]
    ) -> Observation:
        try:
            job = self._kube.get(JOBS, name, namespace=ctx.namespace)
        except KubeError as err:
            return _error(f"Job {name} exists but cannot be read: {err.message}", name)
        found = job["metadata"].get("labels") or {}
        if any(found.get(k) != v for k, v in ours.items()):
            return _error(
                f"a Job named {name} already exists and was not created for this measurement "
                "(delete it, or rename the metric)",
                name,
            )
        return self._judge(config, ctx, job, adopted=True)

    # -- following ---------------------------------------------------------------------------
    def _poll(self, config: JobMetric, ctx: MeasureContext, name: str) -> Observation:
        try:
            job = self._kube.get(JOBS, name, namespace=ctx.namespace)
        except NotFoundError:
            return _error(f"Job {name} deleted while running", name)
        except TransientKubeError as err:
            # The Job is likely still running: ending the measurement now would orphan it.
            return Observation(
                Outcome.RUNNING,
                message=f"could not read Job {name} (will retry): {err.message}",
                metadata={"job": name},
            )
        except KubeError as err:
            return _error(f"cannot read Job {name}: {err.message}", name)
        return self._judge(config, ctx, job)

    def _judge(
        self, config: JobMetric, ctx: MeasureContext, job: Obj, *, adopted: bool = False
    ) -> Observation:
        name = str(job["metadata"]["name"])
        done = finished_condition(job)
        if done is None:
            if job["metadata"].get("deletionTimestamp"):
                return _error(f"Job {name} deleted while running", name)
            status = job.get("status") or {}
            counts = f"{status.get('active', 0)} active, {status.get('failed', 0)} failed"
            how = "adopted (created before a controller restart)" if adopted else "running"
            return Observation(
                Outcome.RUNNING, message=f"Job {name} {how}: {counts}", metadata={"job": name}
            )
        succeeded = done["type"] == "Complete"
        metadata = {"job": name, **self._logs(config, ctx.namespace, name, succeeded)}
        if succeeded:
            return Observation(
                Outcome.SUCCEEDED, message=f"Job {name} succeeded", metadata=metadata
            )
        why = ": ".join(str(done[k]) for k in ("reason", "message") if done.get(k))
        return Observation(
            Outcome.FAILED, message=f"Job {name} failed: {why or 'Failed'}", metadata=metadata
        )

    def _logs(self, config: JobMetric, namespace: str, job: str, succeeded: bool) -> dict[str, str]:
        """`pod` and `logs` (its tail) of the Job's newest Pod that ended as the Job did.
        Best effort: no Pods (deleted with the Job's deadline) or no log is no metadata."""
        if config.logs_tail_lines == 0:
            return {}
        pods: list[Obj] = []
        try:
            for label in JOB_NAME_LABELS:
                pods, _ = self._kube.list(
                    PODS, namespace=namespace, label_selector=f"{label}={job}"
                )
                if pods:
                    break
        except KubeError:
            return {}
        if not pods:
            return {}
        wanted = "Succeeded" if succeeded else "Failed"
        pod = max(
            pods,
            key=lambda p: (
                (p.get("status") or {}).get("phase") == wanted,
                str(p["metadata"].get("creationTimestamp")),
                str(p["metadata"]["name"]),
            ),
        )
        pod_name = str(pod["metadata"]["name"])
        containers = (pod.get("spec") or {}).get("containers") or [{}]
        query = [("tailLines", str(config.logs_tail_lines))]
        if containers[0].get("name"):
            query.append(("container", str(containers[0]["name"])))
        try:
            text = self._kube.read_text(
                PODS, pod_name, namespace=namespace, sub="log", query=query, timeout=LOG_TIMEOUT
            )
        except KubeError:
            return {"pod": pod_name}
        return {"pod": pod_name, "logs": log_tail(text)}


def _error(message: str, job: str | None = None) -> Observation:
    return Observation(Outcome.ERROR, message=message, metadata={"job": job} if job else {})
