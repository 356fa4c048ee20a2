"""The `rollout` CLI end to end: the real command line (in this process), a sandbox API server
and the controller. Each test asserts on the Rollout objects the command leaves behind and on
what it prints.

Every action is one documented patch (see rollout.api and the README), so the tests that steer
run twice: once through the CLI, once through the kubectl-equivalent patch sent with the
official client, and they must have the same effect.
"""

from __future__ import annotations

import copy
import json
import re
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import yaml

from rollout import labels
from rollout.cli.main import main
from rollout.engine import revision_hash
from rollout.kube import NAMESPACES, ROLLOUTS
from rollout.kube.client import Obj, PatchType
from rollout.models import Rollout
from rollout.models.time import format_time, parse_time
from rollout.reconciler.controller import Controller
from tests.e2e.harness import NS, Cluster, rollout_doc

NOT_FOUND = 'error: rollout "nope" not found in namespace "default"'
MANUAL_PAUSE = 3  # index of the `pause: {}` step in the harness's steps


def rev(image: str, name: str = "demo") -> str:
    """The revision the controller computes for the harness's template with `image`."""
    template = Rollout.model_validate(rollout_doc(name, image)).spec.template
    assert template is not None
    return revision_hash(template.to_dict())


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str


class CLI:
    """`rollout ARGS --kubeconfig <the sandbox's>`, run in this process."""

    def __init__(self, kubeconfig: Path, capsys: pytest.CaptureFixture[str]) -> None:
        self.kubeconfig = kubeconfig
        self._capsys = capsys

    def argv(self, *args: str) -> list[str]:
        return [*args, "--kubeconfig", str(self.kubeconfig)]

    def __call__(self, *args: str) -> Result:
        self._capsys.readouterr()
        code = main(self.argv(*args))
        captured = self._capsys.readouterr()
        assert "Traceback" not in captured.err
        return Result(code, captured.out, captured.err)


@pytest.fixture
def cli(
    cluster: Cluster, controller: Controller, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> CLI:
    path = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(path)
    return CLI(path, capsys)


def steer(
    cli: CLI,
    cluster: Cluster,
    via: str,
    *,
    args: list[str],
    printed: str,
    patch: Obj | list[Obj],
    status: bool = False,
    patch_type: PatchType = "merge",
) -> None:
    """Run `rollout ARGS` (via="cli") or send its documented equivalent patch (via="kubectl")."""
    name = "demo"
    if via == "cli":
        result = cli(*args)
        assert (result.code, result.err) == (0, "")
        assert result.out == f'rollout "{name}" {printed}\n'
    else:
        cluster.kube.patch(
            ROLLOUTS,
            name,
            patch,
            namespace=NS,
            sub="status" if status else None,
            patch_type=patch_type,
        )


VIA = pytest.mark.parametrize("via", ["cli", "kubectl"])


def release_v2(
    cluster: Cluster, *, steps: list[Obj] | None = None, to_step: int = MANUAL_PAUSE
) -> Obj:
    """`demo` healthy on app:v1, then app:v2 released and walked to step `to_step`."""
    cluster.create("demo", steps=steps)
    cluster.wait_phase("demo", "Healthy")
    cluster.api.set_image(NS, "demo", "app", "app:v2")
    return cluster.wait_step("demo", to_step)


def reasons(cluster: Cluster, name: str = "demo") -> list[str]:
    return [h["reason"] for h in cluster.status(name).get("history", [])]


def lines_after(text: str, heading: str) -> list[str]:
    """The indented lines under `heading:` in `rollout get` output."""
    lines = text.splitlines()
    start = lines.index(f"{heading}:") + 1
    block = []
    for line in lines[start:]:
        if not line.startswith(" "):
            break
        block.append(line)
    return block


# -- reading -----------------------------------------------------------------------------------
def test_list_prints_a_table_per_namespace_and_objects_that_parse_back(
    cli: CLI, cluster: Cluster
) -> None:
    v1 = rev("app:v1")
    cluster.create("demo")
    cluster.kube.create(
        NAMESPACES, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}}
    )
    other = rollout_doc("other", "app:v1", replicas=1)
    other["metadata"]["namespace"] = "team"
    cluster.kube.create(ROLLOUTS, other, namespace="team")
    cluster.wait_phase("demo", "Healthy")

    result = cli("list")
    assert (result.code, result.err) == (0, "")
    header, *rows = result.out.splitlines()
    assert header.split() == [
        "NAME", "PHASE", "STEP", "WEIGHT", "DESIRED", "AVAILABLE", "STABLE", "CANARY", "AGE"
    ]  # fmt: skip
    assert len(rows) == 1
    assert rows[0].split()[:8] == ["demo", "Healthy", "4/4", "0%", "5", "5", v1, "-"]

    result = cli("list", "-A")
    header, *rows = result.out.splitlines()
    assert header.split()[:2] == ["NAMESPACE", "NAME"]
    assert [row.split()[:2] for row in rows] == [["default", "demo"], ["team", "other"]]

    assert [r.split()[0] for r in cli("list", "-n", "team").out.splitlines()[1:]] == ["other"]
    assert cli("list", "-n", "empty").out == 'No rollouts found in namespace "empty".\n'

    for fmt, load in (("json", json.loads), ("yaml", yaml.safe_load)):
        result = cli("list", "-o", fmt)
        assert (result.code, result.err) == (0, "")
        listed = load(result.out)
        assert listed["kind"] == "List"
        assert [i["metadata"]["name"] for i in listed["items"]] == ["demo"]
        (item,) = listed["items"]
        assert item["spec"] == cluster.rollout("demo")["spec"]
        assert item["status"]["stableRevision"] == v1
        everywhere = load(cli("list", "-A", "-o", fmt).out)
        assert {
            (i["metadata"]["namespace"], i["metadata"]["name"]) for i in everywhere["items"]
        } == {
            ("default", "demo"),
            ("team", "other"),
        }


def test_get_marks_the_current_step_and_shows_revisions_conditions_and_events(
    cli: CLI, cluster: Cluster
) -> None:
    v1, v2 = rev("app:v1"), rev("app:v2")
    release_v2(cluster)
    # Events are recorded just after the status that caused them.
    cluster.wait("demo", lambda r: len(cluster.api.events(NS, "demo")) == 5, what="5 events")
    result = cli("get", "demo")
    assert (result.code, result.err) == (0, "")
    out = result.out
    assert "Name:        demo\n" in out
    assert "Phase:       Paused\n" in out
    assert "Message:     step 4/4 pause: waiting for promote (rollout promote demo)\n" in out

    assert [line.split() for line in lines_after(out, "Steps")] == [
        ["1.", "setWeight", "20", "done"],
        ["2.", "pause", "1s", "done"],
        ["3.", "setWeight", "50", "done"],
        [">", "4.", "pause", "(until", "promoted)", "<-", "current"],
    ]

    header, newest, oldest = lines_after(out, "Revisions")
    assert header.split() == ["REV", "HASH", "IMAGES", "ROLE", "PODS", "(available/desired)"]
    assert newest.split() == ["2", v2, "app:v2", "canary", "3/3"]
    assert oldest.split()[:4] == ["1", v1, "app:v1", "stable"]
    assert re.fullmatch(r"\d/2", oldest.split()[4])

    conditions = {line.split()[0]: line.split()[1:3] for line in lines_after(out, "Conditions")}
    assert conditions["Paused"] == ["True", "CanaryPauseStep"]
    assert conditions["Healthy"] == ["False", "Paused"]
    assert conditions["Progressing"] == ["True", "RolloutProgressing"]

    # Oldest first, in the order the controller recorded them (several share a second).
    events = [line.split(maxsplit=3)[1:] for line in lines_after(out, "Events")]
    assert events == [
        ["Normal", "Deployed", f"first revision {v1} deployed as stable"],
        ["Normal", "NewRevision", f"revision {v2} started"],
        ["Normal", "StepCompleted", "step 1/4 setWeight 20 completed"],
        ["Normal", "StepCompleted", "step 2/4 pause 1s completed"],
        ["Normal", "StepCompleted", "step 3/4 setWeight 50 completed"],
    ]

    for fmt, load in (("yaml", yaml.safe_load), ("json", json.loads)):
        result = cli("get", "demo", "-o", fmt)
        assert (result.code, result.err) == (0, "")
        shown = load(result.out)
        assert shown["kind"] == "Rollout" and shown["metadata"]["name"] == "demo"
        assert shown["spec"] == cluster.rollout("demo")["spec"]
        assert shown["status"]["currentStepIndex"] == MANUAL_PAUSE
        assert shown["status"]["currentRevision"] == v2


# -- status ------------------------------------------------------------------------------------
def test_status_exits_0_unless_degraded(cli: CLI, cluster: Cluster) -> None:
    cluster.create("demo")
    cluster.wait_phase("demo", "Healthy")
    assert cli("status", "demo") == Result(0, "Healthy - step 4/4 - healthy\n", "")

    cluster.api.set_image(NS, "demo", "app", "app:v2")
    cluster.wait_step("demo", MANUAL_PAUSE)
    assert cli("status", "demo") == Result(
        0, "Paused - step 4/4 - step 4/4 pause: waiting for promote (rollout promote demo)\n", ""
    )

    cluster.api.abort(NS, "demo")
    cluster.wait_phase("demo", "Degraded")
    result = cli("status", "demo")
    assert result.code == 1
    assert result.out.startswith("Degraded - step 4/4 - aborted: aborted by request")


def test_status_watch_exits_0_once_the_promoted_rollout_is_healthy(
    cli: CLI, cluster: Cluster, capsys: pytest.CaptureFixture[str]
) -> None:
    v2 = rev("app:v2")
    release_v2(cluster)
    codes: list[int] = []
    watcher = threading.Thread(
        target=lambda: codes.append(main(cli.argv("status", "demo", "--watch", "--timeout", "30s")))
    )
    capsys.readouterr()
    watcher.start()
    printed = ""
    deadline = time.monotonic() + 10
    while "\n" not in printed:  # the watch has shown where the rollout stands
        assert time.monotonic() < deadline, "status --watch printed nothing"
        time.sleep(0.02)
        printed += capsys.readouterr().out
    assert printed.startswith("Paused - step 4/4 - ")
    assert watcher.is_alive(), "returned before the rollout finished"
    assert main(cli.argv("promote", "demo")) == 0
    watcher.join(timeout=30)
    assert not watcher.is_alive()
    assert codes == [0]
    assert cluster.status("demo")["phase"] == "Healthy"
    assert cluster.status("demo")["stableRevision"] == v2
    out = (printed + capsys.readouterr().out).splitlines()
    assert 'rollout "demo" promote requested for the current step' in out
    assert out[-1] == "Healthy - step 4/4 - healthy"


def test_status_watch_exits_1_when_the_rollout_is_aborted(cli: CLI, cluster: Cluster) -> None:
    release_v2(cluster)
    cluster.api.abort(NS, "demo")
    result = cli("status", "demo", "--watch", "--timeout", "30s")
    assert result.code == 1
    assert result.out.splitlines()[-1].startswith(
        "Degraded - step 4/4 - aborted: aborted by request"
    )
    assert cluster.status("demo")["phase"] == "Degraded"


def test_status_watch_exits_3_on_timeout(cli: CLI, cluster: Cluster) -> None:
    release_v2(cluster)
    started = time.monotonic()
    result = cli("status", "demo", "--watch", "--timeout", "1s")
    assert time.monotonic() - started < 5
    assert result.code == 3
    assert result.err == "timed out after 1s waiting for rollout demo\n"
    assert result.out.startswith("Paused - step 4/4 - ")
    assert cluster.status("demo")["currentStepIndex"] == MANUAL_PAUSE


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
    # Someone else wrote the Rollout between our read and our write (the API server says 409).
    cluster.sandbox.faults.add(verb="update", resource="rollouts", code=409, count=1)
    result = cli("set", "image", "demo", "app=app:v2")
    assert result == Result(
        2,
        "",
        'error: rollout "demo" changed while this command ran (hint: run the command again)\n',
    )
    after = cluster.rollout("demo")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    assert after["spec"]["template"] == before["spec"]["template"]


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
