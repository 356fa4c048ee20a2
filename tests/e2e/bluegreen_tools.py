"""Shared tools of the blue-green end-to-end tests (test_bluegreen*.py)."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from rollout.engine import revision_hash
from rollout.kube import ROLLOUTS
from rollout.kube.client import Obj
from rollout.kube.kinds import JOBS
from rollout.models import Rollout
from rollout.sandbox.faults import RequestRecord
from tests.e2e.harness import NS, Cluster, blue_green_doc

ACTIVE, PREVIEW = "app-active", "app-preview"


# What an uninterrupted v1 -> v2 release with auto-promotion records, in order.
BG_HISTORY = ["Deployed", "NewRevision", "PromotionApproved", "ActiveSwitched", "Promoted"]
WRITES = ("create", "update", "patch", "delete")
NEVER_READY = {"sandbox.rollout.dev/never-ready": "true"}

# (active revision, preview revision, revision -> (desired, available))
Sample = tuple[str | None, str | None, dict[str, tuple[int, int]]]


def rev(image: str, annotations: dict[str, str] | None = None, name: str = "app") -> str:
    """The revision the controller computes: the hash of the normalized template."""
    template = Rollout.model_validate(blue_green_doc(name, image, annotations=annotations))
    assert template.spec.template is not None
    return revision_hash(template.spec.template.to_dict())


def writes_to(cluster: Cluster, resource: str, name: str, *, since: float) -> list[RequestRecord]:
    """The successful writes to one object the API server received after `since` (wall time)."""
    return [
        r
        for r in cluster.sandbox.requests.entries()
        if r.resource == resource
        and r.name == name
        and r.subresource is None
        and r.verb in WRITES
        and 200 <= r.status < 300
        and r.started >= since
    ]


def reasons(cluster: Cluster, name: str = "app") -> list[str]:
    return [h["reason"] for h in cluster.status(name).get("history") or []]


def phase_is(cluster: Cluster, phase: str, **fields: Any) -> bool:
    status = cluster.status("app")
    return status.get("phase") == phase and all(status.get(k) == v for k, v in fields.items())


def start_release(cluster: Cluster, **kwargs: Any) -> float:
    """v1 Healthy behind both Services, then the image set to app:v2; returns when (wall)."""
    cluster.create_blue_green("app", **kwargs)
    cluster.wait_phase("app", "Healthy")
    since = time.time()
    cluster.api.set_image(NS, "app", "app", "app:v2")
    return since


def watch_until(
    cluster: Cluster, done: Callable[[], bool], *, timeout: float = 20, what: str = ""
) -> list[Sample]:
    """Poll the Services and the Deployments until `done()`; every sample taken, the last one
    after `done()` held (what changed between the last poll and it is seen too)."""
    samples: list[Sample] = []
    deadline = time.monotonic() + timeout
    while True:
        finished = done()
        active, preview = cluster.blue_green_pins("app")
        samples.append((active, preview, cluster.replicas("app")))
        if finished:
            return samples
        if time.monotonic() > deadline:
            status = cluster.status("app")
            raise AssertionError(
                f"timed out waiting for {what}: {status.get('phase')}, {status.get('message')}"
            )
        time.sleep(0.02)


def assert_active_always_served(samples: list[Sample]) -> None:
    """At every poll the active Service selected a revision with available pods."""
    for active, _, replicas in samples:
        assert active is not None and replicas.get(active, (0, 0))[1] > 0, (active, replicas)


def set_template(cluster: Cluster, image: str, annotations: dict[str, str] | None = None) -> None:
    template = cluster.rollout("app")["spec"]["template"]
    template["metadata"]["annotations"] = dict(annotations or {})
    template["spec"]["containers"][0]["image"] = image
    cluster.kube.patch(ROLLOUTS, "app", {"spec": {"template": template}}, namespace=NS)


# -- analyses: the job provider (the sandbox runs the Job; an annotation passes or fails it) ----


def smoke_template(outcome: str, duration: str) -> Obj:
    """An AnalysisTemplate `smoke` whose one metric is a Job that succeeds or fails."""
    annotations = {
        "sandbox.rollout.dev/job-outcome": outcome,
        "sandbox.rollout.dev/job-duration": duration,
        "sandbox.rollout.dev/log": "GET http://{{args.service}}/healthz\\nstatus 503",
    }
    job = {
        "backoffLimit": 0,
        "template": {
            "metadata": {"annotations": annotations},
            "spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "smoke", "image": "curl"}],
            },
        },
    }
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "AnalysisTemplate",
        "metadata": {"name": "smoke"},
        "spec": {
            "args": [{"name": "service"}],
            "metrics": [{"name": "smoke", "provider": {"job": {"spec": job}}}],
        },
    }


def smoke(service: str) -> Obj:
    """A pre- or post-promotion analysis: the `smoke` Job against `service`."""
    return {
        "templates": [{"templateName": "smoke"}],
        "args": [{"name": "service", "value": service}],
    }


def run_of(cluster: Cluster, name: str) -> Obj | None:
    runs = cluster.status("app").get("analysisRuns") or []
    return next((dict(r) for r in runs if r["name"] == name), None)


def measuring(cluster: Cluster, name: str) -> bool:
    """The analysis run `name` exists and its Job is running."""
    run = run_of(cluster, name)
    return run is not None and any(
        (m.get("measurements") or [{}])[-1].get("phase") == "Running" for m in run["metrics"]
    )


def jobs(cluster: Cluster) -> list[Obj]:
    items, _ = cluster.kube.list(JOBS, namespace=NS)
    return items
