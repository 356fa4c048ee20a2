"""The `rollout` CLI's reading commands end to end (list, get, status): the real command line
in this process, a sandbox API server and the controller; asserting on what is printed and on
the exit codes CI jobs rely on."""

from __future__ import annotations

import gc
import json
import re
import threading
import time

import pytest
import yaml

from rollout.cli.main import main
from rollout.kube import NAMESPACES, ROLLOUTS
from tests.cli.clitools import CLI, MANUAL_PAUSE, Result, lines_after, release_v2, rev
from tests.e2e.harness import NS, Cluster, rollout_doc


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
    assert gc.isenabled()  # `list` pauses the garbage collector while it runs, not after

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
