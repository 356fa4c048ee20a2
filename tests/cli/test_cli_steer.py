"""The `rollout` CLI end to end: the real command line (in this process), a sandbox API server
and the controller. Each test asserts on the Rollout objects the command leaves behind and on
what it prints.

Every action is one documented patch (see rollout.api and the README), so the tests that steer
run twice: once through the CLI, once through the kubectl-equivalent patch sent with the
official client, and they must have the same effect.
"""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime, timedelta

import pytest

from rollout import labels
from rollout.api import TEMPLATE_WRITE_ATTEMPTS, ActionError
from rollout.kube import ROLLOUTS
from rollout.kube.client import Obj
from rollout.models.time import format_time, parse_time
from tests.cli.clitools import (
    CLI,
    MANUAL_PAUSE,
    NOT_FOUND,
    VIA,
    Result,
    lines_after,
    reasons,
    release_v2,
    rev,
    steer,
)
from tests.e2e.harness import NS, Cluster, rollout_doc


# -- steering ----------------------------------------------------------------------------------
@VIA
def test_pause_holds_a_timed_pause_and_resume_goes_on(cli: CLI, cluster: Cluster, via: str) -> None:
    steps: list[Obj] = [
        {"setWeight": 20},
        {"pause": {"duration": "2s"}},
        {"setWeight": 50},
        {"pause": {}},
    ]
    release_v2(cluster, steps=steps, to_step=1)
    steer(
        cli,
        cluster,
        via,
        args=["pause", "demo"],
        printed="paused",
        patch={"spec": {"paused": True}},
    )
    assert cluster.rollout("demo")["spec"]["paused"] is True
    held = cluster.wait(
        "demo",
        lambda r: any(c["reason"] == "UserPause" for c in r["status"].get("pauseConditions", [])),
        what="UserPause",
    )
    step_clock = next(
        c for c in held["status"]["pauseConditions"] if c["reason"] == "CanaryPauseStep"
    )
    ends = parse_time(step_clock["startTime"]) + timedelta(seconds=2)
    time.sleep(max(0.0, (ends - datetime.now(UTC)).total_seconds()) + 0.5)

    status = cluster.status("demo")
    assert status["phase"] == "Paused" and status["currentStepIndex"] == 1
    assert status["message"].startswith("paused by user (rollout resume demo)")
    # The step's clock is not restarted while the rollout is held.
    assert step_clock in status["pauseConditions"]
    assert "StepCompleted" not in [h["reason"] for h in status["history"] if h.get("step") == 1]

    steer(
        cli,
        cluster,
        via,
        args=["resume", "demo"],
        printed="resumed",
        patch={"spec": {"paused": False}},
    )
    assert cluster.rollout("demo")["spec"]["paused"] is False
    # The pause ran out while held: resuming goes straight on.
    resumed = cluster.wait_step("demo", MANUAL_PAUSE, timeout=1.0)
    assert [c["reason"] for c in resumed["status"]["pauseConditions"]] == ["CanaryPauseStep"]


@VIA
def test_promote_at_a_manual_pause_goes_on(cli: CLI, cluster: Cluster, via: str) -> None:
    v2 = rev("app:v2")
    release_v2(cluster)
    steer(
        cli,
        cluster,
        via,
        args=["promote", "demo"],
        printed="promote requested for the current step",
        patch={"status": {"promoteStep": MANUAL_PAUSE}},
        status=True,
    )
    done = cluster.wait_phase("demo", "Healthy")
    assert done["status"]["stableRevision"] == v2
    assert reasons(cluster)[-2:] == ["StepPromoted", "Promoted"]
    assert cluster.pins("demo") == (v2, v2)


@VIA
def test_promote_full_skips_the_remaining_steps(cli: CLI, cluster: Cluster, via: str) -> None:
    v2 = rev("app:v2")
    steps: list[Obj] = [
        {"setWeight": 20},
        {"pause": {"duration": "1h"}},
        {"setWeight": 50},
        {"pause": {}},
    ]
    release_v2(cluster, steps=steps, to_step=1)
    steer(
        cli,
        cluster,
        via,
        args=["promote", "demo", "--full"],
        printed="promoted (full)",
        patch={"status": {"promoteFull": True}},
        status=True,
    )
    done = cluster.wait_phase("demo", "Healthy")
    assert done["status"]["stableRevision"] == v2
    history = done["status"]["history"]
    assert [(h["reason"], h.get("step")) for h in history[1:]] == [
        ("NewRevision", 0),
        ("StepCompleted", 0),
        ("PromotedFull", 1),
        ("Promoted", None),
    ]
    assert cluster.replicas("demo")[v2] == (5, 5)


def test_promote_without_an_update_in_progress_is_refused(cli: CLI, cluster: Cluster) -> None:
    cluster.create("demo")
    before = cluster.wait_phase("demo", "Healthy")
    for args in (["promote", "demo"], ["promote", "demo", "--full"]):
        result = cli(*args)
        assert result == Result(
            2, "", 'error: rollout "demo" has no update in progress to promote\n'
        )
    after = cluster.rollout("demo")
    assert after["status"].get("promoteStep") is None and not after["status"].get("promoteFull")
    assert after["status"]["history"] == before["status"]["history"]


@VIA
def test_abort_goes_back_to_stable_and_retry_starts_again(
    cli: CLI, cluster: Cluster, via: str
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    release_v2(cluster)
    steer(
        cli,
        cluster,
        via,
        args=["abort", "demo"],
        printed="abort requested",
        patch={"status": {"abort": True}},
        status=True,
    )
    aborted = cluster.wait_phase("demo", "Degraded")["status"]
    assert aborted["abort"] is True and aborted["stableRevision"] == v1
    assert aborted["currentRevision"] == v2
    cluster.wait(
        "demo",
        lambda r: cluster.replicas("demo") == {v1: (5, 5), v2: (0, 0)},
        what="rolled back to v1",
    )
    assert cluster.pins("demo") == (v1, v1)

    steer(
        cli,
        cluster,
        via,
        args=["retry", "demo"],
        printed="retry requested",
        patch={"status": {"abort": False}},
        status=True,
    )
    again = cluster.wait(
        "demo",
        lambda r: (
            any(h["reason"] == "Retried" for h in r["status"]["history"])
            and r["status"].get("currentStepIndex") == MANUAL_PAUSE
        ),
        what="retried up to the manual pause",
    )["status"]
    assert again["abort"] is False and again["phase"] == "Paused"
    assert reasons(cluster)[-4:] == ["Retried", "StepCompleted", "StepCompleted", "StepCompleted"]
    assert cluster.pins("demo") == (v1, v2)

    result = cli("retry", "demo")
    assert result == Result(2, "", 'error: rollout "demo" is not aborted; nothing to retry\n')


def revision_template(cluster: Cluster, revision: str) -> Obj:
    """What `undo` puts back: a revision Deployment's template without what we added to it."""
    template: Obj = cluster.revisions("demo")[revision]["spec"]["template"]
    del template["metadata"]["labels"][labels.REVISION]
    (template["metadata"].get("annotations") or {}).pop(labels.RESTARTED_AT, None)
    return template


@VIA
def test_undo_during_an_update_goes_back_to_stable_without_steps(
    cli: CLI, cluster: Cluster, via: str
) -> None:
    v1 = rev("app:v1")
    cluster.create("demo")
    original = cluster.wait_phase("demo", "Healthy")["spec"]["template"]
    # The new template adds fields the old one does not have: undo must remove them.
    changed = copy.deepcopy(original)
    changed["metadata"]["annotations"] = {"team": "payments"}
    changed["spec"]["nodeSelector"] = {"disk": "ssd"}
    changed["spec"]["containers"][0]["image"] = "app:v2"
    cluster.kube.patch(ROLLOUTS, "demo", {"spec": {"template": changed}}, namespace=NS)
    v2 = cluster.wait_step("demo", MANUAL_PAUSE)["status"]["currentRevision"]
    steps_done = reasons(cluster).count("StepCompleted")

    steer(
        cli,
        cluster,
        via,
        args=["undo", "demo"],
        printed="template set back to the previous revision",
        # A merge patch would keep the keys only the newer template has.
        patch=[
            {"op": "replace", "path": "/spec/template", "value": revision_template(cluster, v1)}
        ],
        patch_type="json",
    )
    template = cluster.rollout("demo")["spec"]["template"]
    assert template["spec"] == original["spec"]
    assert template["metadata"]["labels"] == original["metadata"]["labels"]
    assert not template["metadata"].get("annotations")
    done = cluster.wait_phase("demo", "Healthy")["status"]
    assert done["stableRevision"] == done["currentRevision"] == v1
    assert reasons(cluster)[-1] == "RolledBack"
    assert reasons(cluster).count("StepCompleted") == steps_done
    cluster.wait("demo", lambda r: cluster.replicas("demo")[v2] == (0, 0), what="v2 scaled down")
    assert cluster.replicas("demo")[v1] == (5, 5)
    # The revision put back is the newest again, as with `kubectl rollout undo`.
    numbers = {
        r: d["metadata"]["annotations"][labels.REVISION_NUMBER]
        for r, d in cluster.revisions("demo").items()
    }
    assert numbers == {v1: "3", v2: "2"}


def test_undo_after_a_promotion_releases_the_old_template_through_the_steps(
    cli: CLI, cluster: Cluster
) -> None:
    """v1 is no longer what runs: putting it back is a release like any other (as in Argo
    Rollouts without a rollback window), so it walks the steps and waits at the manual pause."""
    v1, v2 = rev("app:v1"), rev("app:v2")
    release_v2(cluster)
    cluster.api.promote(NS, "demo", full=True)
    cluster.wait_phase("demo", "Healthy")

    result = cli("undo", "demo", "--to-revision", "7")
    assert result == Result(
        2, "", 'error: rollout "demo" has no revision 7 (kept revisions: 1, 2)\n'
    )
    assert cluster.rollout("demo")["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v2"

    result = cli("undo", "demo")
    assert result == Result(0, 'rollout "demo" template set back to the previous revision\n', "")
    walked = cluster.wait_step("demo", MANUAL_PAUSE)["status"]
    assert (walked["stableRevision"], walked["currentRevision"]) == (v2, v1)
    assert reasons(cluster)[-4:] == [
        "NewRevision",
        "StepCompleted",
        "StepCompleted",
        "StepCompleted",
    ]
    newest = lines_after(cli("get", "demo").out, "Revisions")[1].split()
    assert newest[:4] == ["3", v1, "app:v1", "canary"]

    cluster.api.promote(NS, "demo")
    assert cluster.wait_phase("demo", "Healthy")["status"]["stableRevision"] == v1
    result = cli("undo", "demo", "--to-revision", "2")
    assert result == Result(0, 'rollout "demo" template set back to revision 2\n', "")
    assert cluster.rollout("demo")["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v2"
    cluster.wait(
        "demo", lambda r: r["status"].get("currentRevision") == v2, what="v2 released again"
    )


@VIA
def test_restart_stamps_the_stable_revisions_pod_template(
    cli: CLI, cluster: Cluster, via: str
) -> None:
    v1 = rev("app:v1")
    cluster.create("demo")
    cluster.wait_phase("demo", "Healthy")
    steer(
        cli,
        cluster,
        via,
        args=["restart", "demo"],
        printed="restart requested",
        patch={"spec": {"restartAt": format_time(datetime.now(UTC))}},
    )
    wanted: str = cluster.rollout("demo")["spec"]["restartAt"]
    assert abs((parse_time(wanted) - datetime.now(UTC)).total_seconds()) < 5

    def stamped(_: Obj) -> bool:
        template = cluster.revisions("demo")[v1]["spec"]["template"]
        annotations: dict[str, str] = template["metadata"].get("annotations") or {}
        return annotations.get(labels.RESTARTED_AT) == wanted

    status = cluster.wait("demo", stamped, what="restartedAt on the pod template")["status"]
    assert reasons(cluster)[-1] == "Restarted"
    cluster.wait("demo", lambda r: r["status"].get("restartedAt") == wanted, what="restartedAt")
    assert status["stableRevision"] == v1


@VIA
def test_set_image_starts_a_new_revision(cli: CLI, cluster: Cluster, via: str) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    cluster.create("demo")
    cluster.wait_phase("demo", "Healthy")
    steer(
        cli,
        cluster,
        via,
        args=["set", "image", "demo", "app=app:v2"],
        printed="image set: app=app:v2",
        patch=[
            {"op": "replace", "path": "/spec/template/spec/containers/0/image", "value": "app:v2"}
        ],
        patch_type="json",
    )
    assert (
        cluster.rollout("demo")["spec"]["template"]
        == rollout_doc("demo", "app:v2")["spec"]["template"]
    )
    started = cluster.wait("demo", lambda r: r["status"].get("currentRevision") == v2, what="v2")
    assert started["status"]["stableRevision"] == v1
    assert "NewRevision" in reasons(cluster)
    # The status is written before the actions it decided: the Deployment follows.
    cluster.wait("demo", lambda _: v2 in cluster.revisions("demo"), what="v2's Deployment")
    image = cluster.revisions("demo")[v2]["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "app:v2"


def test_set_image_refuses_what_it_cannot_do(cli: CLI, cluster: Cluster) -> None:
    cluster.create("demo")
    before = cluster.wait_phase("demo", "Healthy")
    result = cli("set", "image", "demo", "app")
    assert result.code == 2 and result.out == ""
    assert result.err == (
        "error: 'app' is not CONTAINER=IMAGE "
        "(hint: for example: rollout set image demo app=registry/app:v2)\n"
    )
    result = cli("set", "image", "demo", "web=app:v2")
    assert result == Result(
        2, "", 'error: rollout "demo" has no container "web" (containers: app)\n'
    )
    # The API server answers 409 to every write: after a few attempts on a spec that did not
    # change, the command gives up and says so. (The rollout is idle: no status writes of the
    # controller take these faults.)
    cluster.sandbox.faults.add(
        verb="update", resource="rollouts", code=409, count=TEMPLATE_WRITE_ATTEMPTS
    )
    result = cli("set", "image", "demo", "app=app:v2")
    assert result == Result(
        2,
        "",
        'error: rollout "demo" changed while this command ran (hint: run the command again)\n',
    )
    after = cluster.rollout("demo")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]


def test_set_image_goes_on_through_a_409_that_left_the_spec_alone(
    cli: CLI, cluster: Cluster
) -> None:
    """A busy rollout's status changes several times a second (each write a new
    resourceVersion): a 409 from one of those is retried on the fresh object."""
    cluster.create("demo")
    before = cluster.wait_phase("demo", "Healthy")
    cluster.sandbox.faults.add(verb="update", resource="rollouts", code=409, count=2)
    result = cli("set", "image", "demo", "app=app:v2")
    assert result.code == 0, result
    after = cluster.rollout("demo")
    assert after["metadata"]["generation"] == before["metadata"]["generation"] + 1
    assert after["spec"]["template"]["spec"]["containers"][0]["image"] == "app:v2"


@pytest.mark.usefixtures("controller")
def test_a_template_write_never_overwrites_a_spec_changed_since_it_was_read(
    cluster: Cluster,
) -> None:
    cluster.create("demo")
    stale = cluster.wait_phase("demo", "Healthy")
    cluster.kube.patch(ROLLOUTS, "demo", {"spec": {"replicas": 7}}, namespace=NS)
    template = copy.deepcopy(stale["spec"]["template"])
    template["spec"]["containers"][0]["image"] = "app:v2"
    with pytest.raises(ActionError, match="changed while this command ran"):
        cluster.api._guarded_template(stale, template)  # the read, then someone else's edit
    after = cluster.rollout("demo")
    assert after["spec"]["replicas"] == 7
    assert after["spec"]["template"] == stale["spec"]["template"]


@pytest.mark.parametrize(
    "args",
    [
        ["get", "nope"],
        ["get", "nope", "-o", "yaml"],
        ["status", "nope"],
        ["status", "nope", "--watch", "--timeout", "5s"],
        ["pause", "nope"],
        ["resume", "nope"],
        ["promote", "nope"],
        ["promote", "nope", "--full"],
        ["abort", "nope"],
        ["retry", "nope"],
        ["undo", "nope"],
        ["restart", "nope"],
        ["set", "image", "nope", "app=app:v2"],
    ],
    ids=" ".join,
)
def test_an_unknown_rollout_is_a_clear_error(cli: CLI, cluster: Cluster, args: list[str]) -> None:
    cluster.create("demo")
    result = cli(*args)
    assert result.code == 2 and result.out == ""
    assert result.err == f"{NOT_FOUND} (hint: rollout list -A shows every rollout)\n"
    items, _ = cluster.kube.list(ROLLOUTS, namespace=NS)
    assert [i["metadata"]["name"] for i in items] == ["demo"]
