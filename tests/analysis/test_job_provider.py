"""The job provider against the sandbox (`cluster`, tests/conftest.py) through the real
kubernetes client and `Kube`: the Job it creates, success with the log's tail kept, failure
with the condition's reason, adoption after a controller restart (409 AlreadyExists, or an
unfinished Job of the same measurement), terminate deleting the Job and its Pods, and a Job
deleted under a running measurement. The sandbox's Job controller is pinned by
tests/sandbox/test_jobs.py; its knobs choose each Job's outcome, run time and log.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rollout import labels
from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.analysis.providers.job import (
    ANALYSIS_RUN,
    DEFAULT_TTL_SECONDS,
    LOG_BYTES,
    METRIC,
    JobProvider,
    job_name,
    label_value,
    log_tail,
)
from rollout.errors import ConfigError, NotFoundError
from rollout.kube import ROLLOUTS
from rollout.kube.client import Obj
from rollout.kube.kinds import JOBS, PODS
from rollout.models.analysis import JobMetric
from rollout.models.analysis_status import Measurement, MeasurementPhase
from tests.e2e.harness import NS, Cluster, rollout_doc

OUTCOME = "sandbox.rollout.dev/job-outcome"
DURATION = "sandbox.rollout.dev/job-duration"
LOG = "sandbox.rollout.dev/log"
NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


def context(owner: Obj | None = None, *, now: datetime = NOW, **fields: Any) -> MeasureContext:
    def secret(name: str, key: str) -> str:
        raise ConfigError(f"Secret {NS}/{name} not found")

    base: dict[str, Any] = {
        "namespace": NS,
        "rollout": "shop",
        "revision": "c4n4ry",
        "stable_revision": "st4bl3",
        "now": now,
        "metric": "smoke",
        "run": "step-1",
        "secret": secret,
        "owner": owner or {},
    }
    return MeasureContext(**{**base, **fields})


def metric(
    *,
    outcome: str = "succeed",
    duration: str = "300ms",
    log: str | None = None,
    tail: int = 20,
    **spec: Any,
) -> JobMetric:
    notes = {OUTCOME: outcome, DURATION: duration}
    if log is not None:
        notes[LOG] = log
    template = {
        "metadata": {"labels": {"app": "smoke"}, "annotations": notes},
        "spec": {"containers": [{"name": "curl", "image": "curlimages/curl"}]},
    }
    return JobMetric.model_validate({"spec": {"template": template, **spec}, "logsTailLines": tail})


def running(seen: Observation) -> Measurement:
    return Measurement(phase=MeasurementPhase.RUNNING, started_at=NOW, metadata=dict(seen.metadata))


def until_done(
    provider: JobProvider, config: JobMetric, ctx: MeasureContext, first: Observation
) -> Observation:
    assert first.outcome is Outcome.RUNNING, first
    deadline = time.monotonic() + 10
    seen = first
    while seen.outcome is Outcome.RUNNING:
        assert time.monotonic() < deadline, f"still running: {seen}"
        time.sleep(0.05)
        seen = provider.measure(config, ctx, running(first))
    return seen


@pytest.fixture
def owner(cluster: Cluster) -> Obj:
    created = cluster.kube.create(ROLLOUTS, rollout_doc("shop", "shop:v2"), namespace=NS)
    meta = created["metadata"]
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def wait_for(fn: Any, timeout: float = 5.0) -> Any:
    deadline = time.monotonic() + timeout
    while not (found := fn()):
        assert time.monotonic() < deadline, "not within the timeout"
        time.sleep(0.02)
    return found


def jobs(cluster: Cluster) -> list[Obj]:
    return cluster.kube.list(JOBS, namespace=NS)[0]


def pods(cluster: Cluster, job: str) -> list[Obj]:
    selector = f"batch.kubernetes.io/job-name={job}"
    return cluster.kube.list(PODS, namespace=NS, label_selector=selector)[0]


# --- the Job it creates --------------------------------------------------------------------


def test_the_job_is_labelled_owned_and_bounded(cluster: Cluster, owner: Obj) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context(owner)
    seen = provider.measure(metric(duration="1h"), ctx, None)
    assert seen.outcome is Outcome.RUNNING
    name = job_name(ctx)
    assert seen.metadata == {"job": name}
    job = cluster.kube.get(JOBS, name, namespace=NS)
    assert job["metadata"]["labels"] == {
        labels.NAME: "shop",
        labels.REVISION: "c4n4ry",
        ANALYSIS_RUN: "step-1",
        METRIC: "smoke",
    }
    assert job["metadata"]["ownerReferences"] == [owner]
    assert job["spec"]["ttlSecondsAfterFinished"] == DEFAULT_TTL_SECONDS
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
    # Our labels stay off the Pods: a revision label would put them behind the canary Service.
    (pod,) = wait_for(lambda: pods(cluster, name))
    assert labels.REVISION not in pod["metadata"]["labels"]
    assert labels.NAME not in pod["metadata"]["labels"]
    assert pod["metadata"]["labels"]["app"] == "smoke"


def test_the_users_ttl_and_restart_policy_are_kept(cluster: Cluster) -> None:
    config = metric(ttlSecondsAfterFinished=60)
    config.spec["template"]["spec"]["restartPolicy"] = "OnFailure"
    ctx = context()
    JobProvider(cluster.kube).measure(config, ctx, None)
    job = cluster.kube.get(JOBS, job_name(ctx), namespace=NS)
    assert job["spec"]["ttlSecondsAfterFinished"] == 60
    assert job["spec"]["template"]["spec"]["restartPolicy"] == "OnFailure"


def test_a_spec_the_api_rejects_is_an_error_with_the_reason(cluster: Cluster) -> None:
    config = JobMetric.model_validate({"spec": {"template": {"spec": {"containers": []}}}})
    seen = JobProvider(cluster.kube).measure(config, context(), None)
    assert seen.outcome is Outcome.ERROR
    assert "cannot create Job" in seen.message
    assert "spec.template.spec.containers: Required value" in seen.message
    assert jobs(cluster) == []


def test_names_are_deterministic_dns_labels_of_at_most_63() -> None:
    ctx = context()
    assert job_name(ctx) == job_name(context())
    assert job_name(ctx) != job_name(context(now=NOW + timedelta(seconds=1)))
    assert job_name(ctx) != job_name(context(revision="other"))
    assert job_name(ctx).startswith("shop-step-1-smoke-")
    long = job_name(context(rollout="R" * 200, metric="Error_Rate.p99"))
    assert len(long) == 63
    assert long.replace("-", "").isalnum()
    assert long == long.lower()
    assert long[0].isalnum()


def test_label_values_fit_the_label_syntax() -> None:
    assert label_value("shop") == "shop"
    long = label_value("a" * 200 + "-shop")
    assert len(long) <= 63
    assert long != label_value("a" * 200 + "-cart")  # shortened, not merely cut


# --- verdicts ----------------------------------------------------------------------------


def test_success_keeps_the_tail_of_the_log(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(log="\n".join(f"line {i}" for i in range(1, 31)), tail=5)
    first = provider.measure(config, ctx, None)
    done = until_done(provider, config, ctx, first)
    assert done.outcome is Outcome.SUCCEEDED
    name = job_name(ctx)
    assert done.message == f"Job {name} succeeded"
    assert done.metadata["job"] == name
    assert done.metadata["logs"] == "\n".join(f"line {i}" for i in range(26, 31))
    assert done.metadata["pod"] in {p["metadata"]["name"] for p in pods(cluster, name)}


def test_failure_carries_the_condition_reason_and_the_failed_pods_log(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(outcome="fail", log="GET /healthz\n503 Service Unavailable", backoffLimit=1)
    done = until_done(provider, config, ctx, provider.measure(config, ctx, None))
    assert done.outcome is Outcome.FAILED
    assert done.message == (
        f"Job {job_name(ctx)} failed: BackoffLimitExceeded: "
        "Job has reached the specified backoff limit"
    )
    assert done.metadata["logs"] == "GET /healthz\n503 Service Unavailable"
    assert len(pods(cluster, job_name(ctx))) == 2  # one retry, as backoffLimit says


def test_a_deadline_is_a_failure_without_logs(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(duration="1h", log="never read", activeDeadlineSeconds=1)
    done = until_done(provider, config, ctx, provider.measure(config, ctx, None))
    assert done.outcome is Outcome.FAILED
    assert "DeadlineExceeded" in done.message
    assert "logs" not in done.metadata  # the deadline stopped (deleted) the Pod


def test_no_log_is_read_when_no_lines_are_wanted(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(log="hello", tail=0)
    done = until_done(provider, config, ctx, provider.measure(config, ctx, None))
    assert done.outcome is Outcome.SUCCEEDED
    assert done.metadata == {"job": job_name(ctx)}
    logs = cluster.sandbox.requests.counts(by=("resource", "subresource"))
    assert ("pods", "log") not in logs


def test_a_long_log_is_cut_to_its_last_lines_within_the_byte_limit(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    lines = [f"{i:03d} " + "x" * 96 for i in range(100)]  # 100 bytes a line
    config = metric(log="\n".join(lines), tail=500)
    done = until_done(provider, config, ctx, provider.measure(config, ctx, None))
    kept = done.metadata["logs"]
    assert len(kept.encode()) <= LOG_BYTES
    assert kept.endswith(lines[-1])
    assert kept.split("\n")[0] in lines  # whole lines only


def test_log_tail_helper() -> None:
    assert log_tail("a\nb\n") == "a\nb"
    assert log_tail("abc\ndef\nghi", limit=6) == "ghi"  # "ef\nghi" starts mid-line
    assert log_tail("é" * 10, limit=5) == "éé"  # never half a character


# --- restarts, termination, deletion -----------------------------------------------------


def test_a_restarted_controller_adopts_its_finished_job_on_409(cluster: Cluster) -> None:
    ctx = context()
    config = metric(log="ok")
    before = JobProvider(cluster.kube)
    first = before.measure(config, ctx, None)
    assert first.outcome is Outcome.RUNNING
    until_done(before, config, ctx, first)  # it finished; the crash lost the measurement
    cluster.sandbox.requests.clear()
    after = JobProvider(cluster.kube)  # the restarted controller measures the same again
    seen = after.measure(config, ctx, None)
    assert seen.outcome is Outcome.SUCCEEDED
    assert seen.metadata["logs"] == "ok"
    assert [j["metadata"]["name"] for j in jobs(cluster)] == [job_name(ctx)]
    creates = [r.status for r in cluster.sandbox.requests.entries() if r.verb == "create"]
    assert creates == [409]


def test_a_restarted_controller_adopts_an_unfinished_job_of_the_measurement(
    cluster: Cluster,
) -> None:
    config = metric(duration="1h")
    first = JobProvider(cluster.kube).measure(config, context(), None)
    later = context(now=NOW + timedelta(seconds=30))  # the analyst's clock moved on
    seen = JobProvider(cluster.kube).measure(config, later, None)
    assert seen.outcome is Outcome.RUNNING
    assert seen.metadata == first.metadata
    assert "adopted" in seen.message
    assert len(jobs(cluster)) == 1


def test_a_foreign_job_with_the_same_name_is_an_error(cluster: Cluster) -> None:
    ctx = context()
    pod = {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}
    foreign = {"metadata": {"name": job_name(ctx)}, "spec": {"template": {"spec": pod}}}
    cluster.kube.create(JOBS, foreign, namespace=NS)
    seen = JobProvider(cluster.kube).measure(metric(), ctx, None)
    assert seen.outcome is Outcome.ERROR
    assert "already exists and was not created for this measurement" in seen.message


def test_terminate_deletes_the_job_and_its_pods(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(duration="1h")
    first = provider.measure(config, ctx, None)
    name = job_name(ctx)
    wait_for(lambda: pods(cluster, name))
    provider.terminate(config, ctx, running(first))
    with pytest.raises(NotFoundError):
        cluster.kube.get(JOBS, name, namespace=NS)
    assert pods(cluster, name) == []  # Background: a bare DELETE would orphan them
    provider.terminate(config, ctx, running(first))  # already gone: fine


def test_terminate_without_a_record_deletes_the_unfinished_jobs_of_the_measurement(
    cluster: Cluster,
) -> None:
    """A Job created just before a status write that failed (a 409 from the abort that ends
    the run) is on record nowhere: terminate(None) finds it by its labels. A finished Job of
    the measurement (its verdict kept) and another metric's Job are left alone."""
    provider = JobProvider(cluster.kube)
    earlier = context(now=NOW - timedelta(minutes=5))  # a finished measurement, same labels
    assert until_done(provider, metric(), earlier, provider.measure(metric(), earlier, None))
    config = metric(duration="1h")
    provider.measure(config, context(), None)  # the lost one
    lost = job_name(context())
    other = context(metric="other")
    provider.measure(config, other, None)
    later = context(now=NOW + timedelta(seconds=30))  # the analyst's clock moved on

    provider.terminate(config, later, None)
    with pytest.raises(NotFoundError):
        cluster.kube.get(JOBS, lost, namespace=NS)
    left = {j["metadata"]["name"] for j in jobs(cluster)}
    assert left == {job_name(other), job_name(earlier)}


def test_a_job_deleted_while_running_is_an_error(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(duration="1h")
    first = provider.measure(config, ctx, None)
    cluster.kube.delete(JOBS, job_name(ctx), namespace=NS)
    seen = provider.measure(config, ctx, running(first))
    assert seen.outcome is Outcome.ERROR
    assert seen.message == f"Job {job_name(ctx)} deleted while running"
    assert seen.metadata == {"job": job_name(ctx)}


def test_a_transient_api_failure_keeps_the_measurement_running(cluster: Cluster) -> None:
    provider = JobProvider(cluster.kube)
    ctx = context()
    config = metric(duration="400ms")
    first = provider.measure(config, ctx, None)
    cluster.sandbox.faults.add(verb="get", resource="jobs", code=503)
    seen = provider.measure(config, ctx, running(first))
    assert seen.outcome is Outcome.RUNNING
    assert "will retry" in seen.message
    assert seen.metadata == first.metadata
    assert until_done(provider, config, ctx, first).outcome is Outcome.SUCCEEDED
