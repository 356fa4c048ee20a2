"""Object-level rules that do not depend on storage: validation, defaulting, generation.

Owns what the API server's per-kind "strategy" does before persisting: name
validation, server-managed metadata, which changes bump ``metadata.generation``,
and the small amount of Deployment defaulting/validation that clients rely on
(replicas defaults to 1, ``spec.selector`` is required, matches the template
and is immutable), and of Job defaulting/validation (the generated selector and
pod-template labels the Job controller finds its Pods by, ``restartPolicy``
Never/OnFailure, names that fit a label value).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from .errors import ApiError, invalid
from .patch import json_equal
from .resources import ResourceType
from .selectors import label_selector_to_string, match_labels, parse_label_selector

JSON = dict[str, Any]

_DNS_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
# Fields only the server may set; whatever a client sends for them is replaced.
SERVER_MANAGED = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
)


def now_rfc3339() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def get_path(obj: JSON, path: str) -> Any:
    """Read a CRD-style path such as ``.spec.replicas``."""
    cur: Any = obj
    for part in path.strip(".").split("."):
        if not isinstance(cur, dict):
            return None
        cur = cur.get(part)
    return cur


def set_path(obj: JSON, path: str, value: Any) -> None:
    parts = path.strip(".").split(".")
    cur = obj
    for part in parts[:-1]:
        nxt = cur.get(part)
        if not isinstance(nxt, dict):
            nxt = {}
            cur[part] = nxt
        cur = nxt
    cur[parts[-1]] = value


def validate_name(rt: ResourceType, name: str) -> None:
    # Namespaces are DNS labels; (almost) everything else is a DNS subdomain.
    if rt.plural == "namespaces":
        pattern, what, limit = _DNS_LABEL, "RFC 1123 label", 63
    else:
        pattern, what, limit = _DNS_SUBDOMAIN, "RFC 1123 subdomain", 253
    if len(name) > limit or not pattern.match(name):
        raise invalid(
            rt.group,
            rt.kind,
            name,
            [
                (
                    "metadata.name",
                    f'Invalid value: "{name}": a lowercase {what} must consist of lower case '
                    "alphanumeric characters, '-' or '.', and must start and end with an "
                    "alphanumeric character",
                )
            ],
        )


def spec_part(rt: ResourceType, obj: JSON) -> JSON:
    """What ``generation`` tracks: everything but metadata (and status when it is a subresource)."""
    skip = {"metadata", "status"} if rt.status else {"metadata"}
    return {k: v for k, v in obj.items() if k not in skip and k not in ("kind", "apiVersion")}


def generation_changed(rt: ResourceType, old: JSON, new: JSON) -> bool:
    return not json_equal(spec_part(rt, old), spec_part(rt, new))


def apply_defaults(rt: ResourceType, obj: JSON) -> None:
    """The subset of API defaulting clients observe (and our simulator needs)."""
    if rt.group == "apps" and rt.plural in ("deployments", "replicasets"):
        spec = obj.setdefault("spec", {})
        if isinstance(spec, dict):
            spec.setdefault("replicas", 1)
            if rt.plural == "deployments":
                spec.setdefault("progressDeadlineSeconds", 600)
                spec.setdefault("revisionHistoryLimit", 10)
                strategy = spec.setdefault("strategy", {"type": "RollingUpdate"})
                if (
                    isinstance(strategy, dict)
                    and strategy.get("type", "RollingUpdate") == "RollingUpdate"
                ):
                    strategy["type"] = "RollingUpdate"
                    ru = strategy.setdefault("rollingUpdate", {})
                    if isinstance(ru, dict):
                        ru.setdefault("maxUnavailable", "25%")
                        ru.setdefault("maxSurge", "25%")
    elif rt.group == "batch" and rt.plural == "jobs":
        _default_job(obj)
    elif rt.group == "" and rt.plural == "namespaces":
        obj.setdefault("spec", {"finalizers": ["kubernetes"]})
        status = obj.setdefault("status", {})
        if isinstance(status, dict):
            status.setdefault("phase", "Active")


def validate(rt: ResourceType, obj: JSON, old: JSON | None) -> None:
    """Per-kind validation (422). Only Deployments/ReplicaSets get structural checks."""
    name = obj["metadata"]["name"]
    meta = obj["metadata"]
    for field in ("labels", "annotations"):
        values = meta.get(field)
        if values is not None and (
            not isinstance(values, dict) or not all(isinstance(v, str) for v in values.values())
        ):
            raise invalid(
                rt.group,
                rt.kind,
                name,
                [(f"metadata.{field}", "Invalid value: must be a map of strings")],
            )
    if rt.group == "batch" and rt.plural == "jobs":
        job_causes = _job_causes(obj)
        if job_causes:
            raise invalid(rt.group, rt.kind, name, job_causes)
        return
    if not (rt.group == "apps" and rt.plural in ("deployments", "replicasets")):
        return
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise invalid(rt.group, rt.kind, name, [("spec", "Required value")])
    selector = spec.get("selector")
    causes: list[tuple[str, str]] = []
    if not isinstance(selector, dict) or not (
        selector.get("matchLabels") or selector.get("matchExpressions")
    ):
        causes.append(("spec.selector", "Required value"))
    else:
        template_labels = ((spec.get("template") or {}).get("metadata") or {}).get("labels") or {}
        reqs = parse_label_selector(label_selector_to_string(selector))
        if not match_labels(reqs, {"metadata": {"labels": template_labels}}):
            causes.append(
                (
                    "spec.template.metadata.labels",
                    "Invalid value: `selector` does not match template `labels`",
                )
            )
        if old is not None and not json_equal((old.get("spec") or {}).get("selector"), selector):
            causes.append(("spec.selector", "Invalid value: field is immutable"))
    replicas = spec.get("replicas")
    if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
        causes.append(("spec.replicas", "Invalid value: must be greater than or equal to 0"))
    if causes:
        raise invalid(rt.group, rt.kind, name, causes)


# The labels the Job API puts on a Job's pod template (and so on its Pods); the legacy
# unprefixed pair is still written, and clients (kubectl, our job provider) select by either.
JOB_CONTROLLER_UID = "batch.kubernetes.io/controller-uid"
JOB_NAME = "batch.kubernetes.io/job-name"
_JOB_TEMPLATE_LABELS = (JOB_CONTROLLER_UID, JOB_NAME, "controller-uid", "job-name")


def _default_job(obj: JSON) -> None:
    """The Job strategy's defaults: one pod to one completion, 6 retries, and (unless
    ``manualSelector``) a selector on the Job's uid plus the matching template labels."""
    spec = obj.setdefault("spec", {})
    if not isinstance(spec, dict):
        return
    if spec.get("completions") is None and spec.get("parallelism") is None:
        spec["completions"] = 1
    spec.setdefault("parallelism", 1)
    spec.setdefault("backoffLimit", 6)
    spec.setdefault("completionMode", "NonIndexed")
    spec.setdefault("suspend", False)
    meta = obj["metadata"]
    template = spec.get("template")
    if spec.get("manualSelector") or not meta.get("uid") or not isinstance(template, dict):
        return
    spec.setdefault("selector", {"matchLabels": {JOB_CONTROLLER_UID: meta["uid"]}})
    tmeta = template.setdefault("metadata", {})
    if isinstance(tmeta, dict):
        labels = tmeta.setdefault("labels", {})
        if isinstance(labels, dict):
            values = (meta["uid"], meta.get("name", ""), meta["uid"], meta.get("name", ""))
            for key, value in zip(_JOB_TEMPLATE_LABELS, values, strict=True):
                labels.setdefault(key, value)


def _job_causes(obj: JSON) -> list[tuple[str, str]]:
    """Job validation that a client can trip over: the name becomes a label value (so at most
    63 characters), a pod template with containers, and a restartPolicy a Job allows."""
    name = obj["metadata"]["name"]
    causes: list[tuple[str, str]] = []
    if len(name) > 63:
        causes.append(
            ("metadata.name", f'Invalid value: "{name}": must be no more than 63 characters')
        )
    spec = obj.get("spec")
    template = spec.get("template") if isinstance(spec, dict) else None
    if not isinstance(template, dict):
        return [*causes, ("spec.template", "Required value")]
    pod = template.get("spec")
    pod = pod if isinstance(pod, dict) else {}
    if not pod.get("containers"):
        causes.append(("spec.template.spec.containers", "Required value"))
    restart = pod.get("restartPolicy") or "Always"  # the Pod default, which a Job forbids
    if restart not in ("OnFailure", "Never"):
        causes.append(
            (
                "spec.template.spec.restartPolicy",
                f'Unsupported value: "{restart}": supported values: "OnFailure", "Never"',
            )
        )
    limit = spec.get("backoffLimit") if isinstance(spec, dict) else None
    if not isinstance(limit, int) or isinstance(limit, bool) or limit < 0:
        causes.append(("spec.backoffLimit", "Invalid value: must be greater than or equal to 0"))
    return causes


def finalizers(obj: JSON) -> list[str]:
    return list((obj.get("metadata") or {}).get("finalizers") or [])


def owner_uids(obj: JSON) -> list[str]:
    refs = (obj.get("metadata") or {}).get("ownerReferences") or []
    return [r["uid"] for r in refs if isinstance(r, dict) and isinstance(r.get("uid"), str)]


def require_object(body: Any) -> JSON:
    if not isinstance(body, dict):
        raise ApiError(400, "the request body must be a JSON object")
    meta = body.get("metadata")
    if meta is None:
        body["metadata"] = {}
    elif not isinstance(meta, dict):
        raise ApiError(400, "metadata must be an object")
    return body
