"""The simulated Job controller, the TTL-after-finished controller and the pod log endpoint.

Expected behaviour: the Jobs concept page ("Writing a Job spec": only restartPolicy Never or
OnFailure, a name of at most 63 characters; completions/parallelism default to 1, backoffLimit
to 6, the selector and the `job-name` / `batch.kubernetes.io/job-name` pod labels are
generated; "Pod backoff failure policy": failed Pods are replaced until backoffLimit is
exceeded, then the Job is Failed with reason BackoffLimitExceeded; "Job termination and
cleanup": activeDeadlineSeconds fails it with reason DeadlineExceeded and terminates its
running Pods; a deleted Pod is replaced; the TTL mechanism deletes a finished Job cascadingly;
unmanaged Jobs orphan their Pods when deleted without a propagation policy), the Job API
reference (status.succeeded/failed/active, completionTime only on success, Complete/Failed
conditions), the pod log endpoint of the Pod API (text, `tailLines`, `container`), and the
sandbox's documented knobs (`sandbox.rollout.dev/job-outcome`, `.../job-duration`,
`.../log`).
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import status_of, wait_until

OUTCOME = "sandbox.rollout.dev/job-outcome"
DURATION = "sandbox.rollout.dev/job-duration"
LOG = "sandbox.rollout.dev/log"
Obj = dict[str, Any]


@pytest.fixture
def batch(api: client.ApiClient) -> client.BatchV1Api:
    return client.BatchV1Api(api)


def job(
    name: str,
    *,
    annotations: dict[str, str] | None = None,
    restart: str | None = "Never",
    containers: int = 1,
    **spec: Any,
) -> Obj:
    pod: Obj = {"containers": [{"name": f"c{i}", "image": "busybox"} for i in range(containers)]}
    if restart is not None:
        pod["restartPolicy"] = restart
    template: Obj = {"spec": pod}
    if annotations:
        template["metadata"] = {"annotations": annotations}
    return {"metadata": {"name": name}, "spec": {"template": template, **spec}}


def finished(batch: client.BatchV1Api, ns: str, name: str) -> client.V1Job | None:
    got = batch.read_namespaced_job(name, ns)
    conds = {c.type: c for c in got.status.conditions or []} if got.status else {}
    done = any(conds.get(t) and conds[t].status == "True" for t in ("Complete", "Failed"))
    return got if done else None


def conditions(job_obj: client.V1Job) -> dict[str, Any]:
    return {c.type: c for c in job_obj.status.conditions or []}


def pods_of(core: client.CoreV1Api, ns: str, name: str) -> list[client.V1Pod]:
    return list(
        core.list_namespaced_pod(ns, label_selector=f"batch.kubernetes.io/job-name={name}").items
    )


def started_pods(core: client.CoreV1Api, ns: str, name: str) -> list[client.V1Pod]:
    """The Job's Pods once they have a phase (the controller writes it just after creating)."""
    found = pods_of(core, ns, name)
    return found if found and all(p.status and p.status.phase for p in found) else []


def job_status(batch: client.BatchV1Api, ns: str, name: str) -> client.V1JobStatus:
    """The Job's status; empty until the Job controller has seen the Job (a race to allow)."""
    return batch.read_namespaced_job(name, ns).status or client.V1JobStatus()


def test_defaults_and_generated_selector(batch: client.BatchV1Api, ns: str) -> None:
    created = batch.create_namespaced_job(ns, job("defaults"))
    uid = created.metadata.uid
    assert (created.spec.completions, created.spec.parallelism) == (1, 1)
    assert created.spec.backoff_limit == 6
    assert created.spec.selector.match_labels == {"batch.kubernetes.io/controller-uid": uid}
    labels = created.spec.template.metadata.labels
    assert labels["batch.kubernetes.io/job-name"] == "defaults"
    assert labels["job-name"] == "defaults"
    assert labels["batch.kubernetes.io/controller-uid"] == uid


@pytest.mark.parametrize("restart", [None, "Always"])
def test_restart_policy_must_be_never_or_on_failure(
    batch: client.BatchV1Api, ns: str, restart: str | None
) -> None:
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job(ns, job("bad-restart", restart=restart))
    assert err.value.status == 422
    body = status_of(err.value)
    assert body["reason"] == "Invalid"
    assert "spec.template.spec.restartPolicy" in body["message"]
    assert '"Always"' in body["message"]


def test_name_longer_than_63_characters_is_invalid(batch: client.BatchV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        batch.create_namespaced_job(ns, job("j" * 64))
    assert err.value.status == 422
    assert "must be no more than 63 characters" in status_of(err.value)["message"]
    batch.create_namespaced_job(ns, job("j" * 63))  # exactly 63 is fine


def test_succeeding_job_runs_a_pod_then_completes(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job("ok", annotations={DURATION: "600ms"}))
    running = wait_until(lambda: job_status(batch, ns, "ok").active == 1 or None)
    assert running
    (pod,) = pods_of(core, ns, "ok")
    assert pod.metadata.name.startswith("ok-")
    assert pod.metadata.labels["job-name"] == "ok"
    (ref,) = pod.metadata.owner_references
    assert (ref.kind, ref.name, ref.controller) == ("Job", "ok", True)
    assert pod.status.phase == "Running"
    assert finished(batch, ns, "ok") is None  # still inside its 600ms
    done = wait_until(lambda: finished(batch, ns, "ok"))
    conds = conditions(done)
    assert conds["Complete"].status == "True"
    assert "Failed" not in conds
    assert done.status.succeeded == 1
    assert not done.status.failed
    assert not done.status.active
    assert done.status.completion_time is not None
    assert done.status.start_time is not None
    assert [p.status.phase for p in pods_of(core, ns, "ok")] == ["Succeeded"]


def test_failed_pods_are_replaced_until_the_backoff_limit(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job("retry", annotations={OUTCOME: "fail"}, backoffLimit=2))
    done = wait_until(lambda: finished(batch, ns, "retry"))
    failed = conditions(done)["Failed"]
    assert (failed.status, failed.reason) == ("True", "BackoffLimitExceeded")
    assert "Complete" not in conditions(done)
    assert done.status.failed == 3  # the first try plus backoffLimit retries
    assert not done.status.succeeded
    assert done.status.completion_time is None  # only set when the Job succeeds
    phases = [p.status.phase for p in pods_of(core, ns, "retry")]
    assert phases == ["Failed"] * 3


def test_active_deadline_fails_the_job_and_stops_its_pods(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(
        ns, job("slow", annotations={DURATION: "1h"}, activeDeadlineSeconds=1)
    )
    wait_until(lambda: pods_of(core, ns, "slow"))
    done = wait_until(lambda: finished(batch, ns, "slow"), timeout=5)
    failed = conditions(done)["Failed"]
    assert (failed.status, failed.reason) == ("True", "DeadlineExceeded")
    assert not done.status.active
    assert pods_of(core, ns, "slow") == []


def test_completions_with_parallelism(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(
        ns, job("par", annotations={DURATION: "300ms"}, completions=3, parallelism=2)
    )
    most = 0
    deadline = time.monotonic() + 5
    while finished(batch, ns, "par") is None and time.monotonic() < deadline:
        most = max(most, job_status(batch, ns, "par").active or 0)
        time.sleep(0.02)
    done = wait_until(lambda: finished(batch, ns, "par"))
    assert most == 2  # never more than parallelism, and it does run two at once
    assert done.status.succeeded == 3
    assert len(pods_of(core, ns, "par")) == 3


def test_a_deleted_pod_counts_as_failed_and_is_replaced(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job("lost", annotations={DURATION: "1h"}))
    (first,) = wait_until(lambda: pods_of(core, ns, "lost"))
    core.delete_namespaced_pod(first.metadata.name, ns)
    replaced = wait_until(
        lambda: [p for p in pods_of(core, ns, "lost") if p.metadata.uid != first.metadata.uid]
    )
    assert len(replaced) == 1
    got = wait_until(lambda: job_status(batch, ns, "lost").failed == 1 or None)
    assert got


def test_ttl_after_finished_deletes_the_job_and_its_pods(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job("ttl", ttlSecondsAfterFinished=0))

    def gone() -> bool:
        try:
            batch.read_namespaced_job("ttl", ns)
        except ApiException as exc:
            return exc.status == 404
        return False

    wait_until(gone)
    assert core.list_namespaced_pod(ns).items == []


def test_delete_without_policy_orphans_pods_background_removes_them(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    for name in ("orphans", "cascades"):
        batch.create_namespaced_job(ns, job(name, annotations={DURATION: "1h"}))
        wait_until(lambda name=name: pods_of(core, ns, name))  # type: ignore[misc]
    batch.delete_namespaced_job("orphans", ns)
    batch.delete_namespaced_job("cascades", ns, propagation_policy="Background")
    (orphan,) = pods_of(core, ns, "orphans")
    assert not orphan.metadata.owner_references
    assert pods_of(core, ns, "cascades") == []


def test_pod_log_endpoint(batch: client.BatchV1Api, core: client.CoreV1Api, ns: str) -> None:
    batch.create_namespaced_job(ns, job("logs", annotations={LOG: "one\ntwo\nthree"}))
    (pod,) = wait_until(lambda: started_pods(core, ns, "logs"))
    name = pod.metadata.name
    assert core.read_namespaced_pod_log(name, ns) == "one\ntwo\nthree\n"
    assert core.read_namespaced_pod_log(name, ns, tail_lines=2) == "two\nthree\n"
    assert core.read_namespaced_pod_log(name, ns, tail_lines=0) == ""
    assert core.read_namespaced_pod_log(name, ns, container="c0", tail_lines=1) == "three\n"
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log(name, ns, container="nope")
    assert err.value.status == 400
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("missing", ns)
    assert err.value.status == 404


def test_pod_log_needs_a_container_name_when_there_are_several(
    batch: client.BatchV1Api, core: client.CoreV1Api, ns: str
) -> None:
    batch.create_namespaced_job(ns, job("two", containers=2, annotations={LOG: "hi"}))
    (pod,) = wait_until(lambda: started_pods(core, ns, "two"))
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log(pod.metadata.name, ns)
    assert err.value.status == 400
    assert "c0 c1" in status_of(err.value)["message"]
    assert core.read_namespaced_pod_log(pod.metadata.name, ns, container="c1") == "hi\n"


def test_pod_that_never_started_has_no_log(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_pod(
        ns, {"metadata": {"name": "idle"}, "spec": {"containers": [{"name": "c", "image": "x"}]}}
    )
    with pytest.raises(ApiException) as err:
        core.read_namespaced_pod_log("idle", ns)
    assert err.value.status == 400
    assert "waiting to start" in status_of(err.value)["message"]
