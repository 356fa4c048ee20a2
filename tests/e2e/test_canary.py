"""The canary's required behaviour, end to end: controller + sandbox API server, asserting on
the objects in the cluster."""

from __future__ import annotations

import time

import pytest

from rollout import labels
from rollout.engine import revision_hash
from rollout.kube import DEPLOYMENTS, ROLLOUTS
from rollout.models import Rollout
from tests.e2e.harness import REFERENCE_HISTORY, Cluster, DeploymentRecorder, rollout_doc

pytestmark = pytest.mark.usefixtures("controller")


def rev(image: str, name: str = "app") -> str:
    """The revision the controller computes: the hash of the normalized template."""
    template = Rollout.model_validate(rollout_doc(name, image)).spec.template
    assert template is not None
    return revision_hash(template.to_dict())


def release_v2(cluster: Cluster, name: str = "app") -> None:
    cluster.create(name)
    cluster.wait_phase(name, "Healthy")
    cluster.api.set_image("default", name, "app", "app:v2")


def test_v1_to_v2_walks_the_steps_and_ends_healthy(cluster: Cluster) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    release_v2(cluster)
    cluster.wait_step("app", 1)
    assert cluster.replicas("app")[v2] == (1, 1)
    assert cluster.status("app")["canary"]["weights"]["canary"] == {"revision": v2, "weight": 20}
    assert cluster.pins("app") == (v1, v2)
    cluster.wait_step("app", 3)  # the 1s pause ended by itself
    assert cluster.replicas("app")[v2][0] == 3
    time.sleep(1.5)
    status = cluster.status("app")
    assert status["phase"] == "Paused" and status["currentStepIndex"] == 3
    cluster.api.promote("default", "app")
    done = cluster.wait_phase("app", "Healthy")
    assert done["status"]["stableRevision"] == v2
    assert cluster.pins("app") == (v2, v2)
    cluster.wait(
        "app",
        lambda r: cluster.replicas("app")[v1][0] == 0,
        timeout=10,
        what="v1 scaled to 0 after the scale-down delay",
    )
    assert cluster.replicas("app")[v2] == (5, 5)
    reasons = [h["reason"] for h in cluster.status("app")["history"]]
    assert reasons == REFERENCE_HISTORY


@pytest.mark.ready_delay(0.4)  # so that every step, setWeight ones too, can be caught
@pytest.mark.parametrize("step", [0, 1, 2, 3])
def test_abort_restores_stable_before_the_canary_scales_down(cluster: Cluster, step: int) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    recorder = DeploymentRecorder(cluster)
    try:
        release_v2(cluster)
        cluster.wait_step("app", step)
        cluster.api.abort("default", "app")
        cluster.wait(
            "app",
            lambda r: (
                cluster.replicas("app").get(v2, (1, 0))[0] == 0
                and cluster.replicas("app")[v1] == (5, 5)
            ),
            what="rolled back",
        )
    finally:
        recorder.stop()
    status = cluster.status("app")
    assert status["phase"] == "Degraded" and status["abort"] is True
    assert "aborted by request" in status["message"]
    assert status["canary"]["weights"]["canary"]["weight"] == 0
    assert cluster.pins("app") == (v1, v1)
    # In the order the API server saw them: the stable was fully available again before the
    # canary lost its last pod.
    canary_gone = next(
        i for i, (r, desired, _) in enumerate(recorder.events) if r == v2 and desired == 0
    )
    assert any(r == v1 and available == 5 for r, _, available in recorder.events[:canary_gone])


def test_retry_restarts_from_step_one_and_reverting_the_template_skips_the_steps(
    cluster: Cluster,
) -> None:
    v1 = rev("app:v1")
    release_v2(cluster)
    cluster.wait_step("app", 3)
    cluster.api.abort("default", "app")
    cluster.wait_phase("app", "Degraded")
    cluster.api.retry("default", "app")
    cluster.wait_step("app", 1)
    status = cluster.status("app")
    assert "Retried" in [h["reason"] for h in status["history"]]

    cluster.api.abort("default", "app")
    cluster.wait_phase("app", "Degraded")
    before = len(cluster.status("app")["history"])
    cluster.api.set_image("default", "app", "app", "app:v1")
    done = cluster.wait_phase("app", "Healthy")
    assert done["status"]["stableRevision"] == v1
    after = [h["reason"] for h in done["status"]["history"][before:]]
    assert after[0] == "RolledBack" and "StepCompleted" not in after


def test_a_new_revision_mid_rollout_supersedes_the_canary(cluster: Cluster) -> None:
    v1, v2, v3 = rev("app:v1"), rev("app:v2"), rev("app:v3")
    release_v2(cluster)
    cluster.wait_step("app", 3)
    cluster.api.set_image("default", "app", "app", "app:v3")
    cluster.wait(
        "app",
        lambda r: (
            r["status"].get("currentRevision") == v3 and r["status"].get("currentStepIndex") == 3
        ),
        what="v3 at its manual pause",
    )
    assert cluster.replicas("app")[v2][0] == 0
    assert cluster.status("app")["stableRevision"] == v1
    assert cluster.pins("app") == (v1, v3)
    cluster.api.promote("default", "app")
    assert cluster.wait_phase("app", "Healthy")["status"]["stableRevision"] == v3


def test_pods_never_ready_hit_the_progress_deadline_and_roll_back(cluster: Cluster) -> None:
    v1 = rev("app:v1")
    cluster.create("app", progressDeadlineSeconds=2)
    cluster.wait_phase("app", "Healthy")
    rollout = cluster.rollout("app")
    template = rollout["spec"]["template"]
    template["metadata"]["annotations"] = {"sandbox.rollout.dev/never-ready": "true"}
    template["spec"]["containers"][0]["image"] = "app:v3"
    cluster.kube.patch(ROLLOUTS, "app", {"spec": {"template": template}}, namespace="default")
    failed = cluster.wait_phase("app", "Degraded", timeout=15)
    status = failed["status"]
    assert status["stableRevision"] == v1
    progressing = next(c for c in status["conditions"] if c["type"] == "Progressing")
    assert progressing["status"] == "False" and progressing["reason"] == "RolloutAborted"
    assert "progress deadline exceeded" in progressing["message"]
    assert "0/1 available" in progressing["message"]
    cluster.wait(
        "app",
        lambda r: all(
            desired == 0 for r_, (desired, _) in cluster.replicas("app").items() if r_ != v1
        ),
        what="canary scaled down",
    )
    assert cluster.replicas("app")[v1] == (5, 5)
    assert cluster.pins("app") == (v1, v1)


def test_an_invalid_spec_sets_invalid_spec_and_touches_nothing(cluster: Cluster) -> None:
    v1 = rev("app:v1")
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")
    before = cluster.revisions("app")
    cluster.sandbox.requests.clear()
    # Weights going down is rejected by the spec rules (not by the CRD schema).
    cluster.kube.patch(
        ROLLOUTS,
        "app",
        {
            "spec": {
                "template": {
                    "metadata": {"labels": {"app": "app"}},
                    "spec": {"containers": [{"name": "app", "image": "app:v2"}]},
                },
                "strategy": {"canary": {"steps": [{"setWeight": 50}, {"setWeight": 10}]}},
            }
        },
        namespace="default",
    )
    failed = cluster.wait_phase("app", "Degraded")
    invalid = next(c for c in failed["status"]["conditions"] if c["type"] == "InvalidSpec")
    assert invalid["status"] == "True"
    assert "steps[1].setWeight" in invalid["message"]
    time.sleep(0.5)
    writes = [
        r
        for r in cluster.sandbox.requests.entries()
        if r.resource in ("deployments", "services")
        and r.verb in ("create", "update", "patch", "delete")
    ]
    assert writes == []
    after = cluster.revisions("app")
    assert {k: v["spec"] for k, v in after.items()} == {k: v["spec"] for k, v in before.items()}
    assert cluster.status("app")["stableRevision"] == v1


def test_the_revision_label_pins_pods_and_deployments_are_owned(cluster: Cluster) -> None:
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")
    (dep,) = cluster.revisions("app").values()
    owner = dep["metadata"]["ownerReferences"][0]
    assert owner["kind"] == "Rollout" and owner["controller"] is True
    assert owner["uid"] == cluster.rollout("app")["metadata"]["uid"]
    revision = dep["metadata"]["labels"][labels.REVISION]
    assert dep["spec"]["selector"]["matchLabels"] == {"app": "app", labels.REVISION: revision}
    assert dep["spec"]["template"]["metadata"]["labels"][labels.REVISION] == revision
    assert dep["metadata"]["annotations"][labels.REVISION_NUMBER] == "1"


def test_the_scale_subresource_resizes_the_stable_revision(cluster: Cluster) -> None:
    """What an HPA does: write spec.replicas through /scale, read status.replicas back."""
    v1 = rev("app:v1")
    cluster.create("app")
    cluster.wait_phase("app", "Healthy")
    cluster.kube.patch(ROLLOUTS, "app", {"spec": {"replicas": 8}}, namespace="default", sub="scale")
    cluster.wait(
        "app",
        lambda r: (
            cluster.replicas("app")[v1] == (8, 8)
            and (r.get("status") or {}).get("availableReplicas") == 8
        ),
        what="scaled to 8",
    )
    cluster.wait("app", lambda r: (r.get("status") or {}).get("replicas") == 8, what="counts")
    scale = cluster.kube.get(ROLLOUTS, "app", namespace="default", sub="scale")
    assert scale["kind"] == "Scale"
    assert scale["spec"]["replicas"] == 8 and scale["status"]["replicas"] == 8
    assert scale["status"]["selector"] == "app=app"


def test_undo_restores_the_template_as_written_not_as_defaulted(cluster: Cluster) -> None:
    """A real API server fills defaults into a Deployment's pod template (dnsPolicy,
    restartPolicy ...). Undo must bring back the template the Rollout had, so it hashes as the
    stable revision again and rolls back without steps, instead of starting a new revision."""
    v1 = rev("app:v1")
    release_v2(cluster)
    cluster.wait_step("app", 3)
    stable_dep = cluster.revisions("app")[v1]
    cluster.kube.patch(
        DEPLOYMENTS,
        stable_dep["metadata"]["name"],
        {"spec": {"template": {"spec": {"dnsPolicy": "ClusterFirst", "restartPolicy": "Always"}}}},
        namespace="default",
    )
    cluster.api.undo("default", "app")
    done = cluster.wait_phase("app", "Healthy")
    assert done["status"]["stableRevision"] == done["status"]["currentRevision"] == v1
    assert "RolledBack" in [h["reason"] for h in done["status"]["history"]]
    assert set(cluster.revisions("app")) == {v1, rev("app:v2")}
