"""`rollout list`, `rollout get` and `rollout status` for blue-green rollouts, and canary output
unchanged.

The Rollouts are real: the pure engine is driven through `tests.engine.sim.Sim` to each moment,
and the Rollout, its revisions' Deployments and its events are shaped as the API returns them.
"""

from __future__ import annotations

from typing import Any

from rollout import labels
from rollout.cli.render import describe, list_rows, step_text
from rollout.cli.view_cmd import _line
from rollout.kube.client import Obj
from rollout.models import Phase
from rollout.models.time import format_time
from tests.cli.clitools import lines_after
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_analysis_flow import NO_DATA, scripted, success_rate, value
from tests.engine.test_bluegreen_flow import ACTIVE, ANALYSIS, PREVIEW, blue_green, started

ROUTING = {"istio": {"virtualService": {"name": "app-vs", "routes": ["primary"]}}}


# -- the objects as the API returns them -------------------------------------------------------
def rollout_obj(sim: Sim) -> Obj:
    doc = sim.rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    doc["metadata"]["creationTimestamp"] = "2026-01-01T00:00:00Z"
    return doc


def deployments(sim: Sim) -> list[Obj]:
    """Each revision's Deployment, newest revision number first (as RolloutsAPI.revisions)."""
    return [
        {
            "metadata": {
                "name": f"demo-{rev}",
                "labels": {labels.NAME: "demo", labels.REVISION: rev},
                "annotations": {labels.REVISION_NUMBER: str(state.number)},
            },
            "spec": {"replicas": state.replicas, "template": sim.templates[rev]},
            "status": {"availableReplicas": state.available, "readyReplicas": state.ready},
        }
        for rev, state in sorted(sim.revisions.items(), key=lambda kv: -kv[1].number)
    ]


def events(sim: Sim) -> list[Obj]:
    """The Events the reconciler emits for the history entries (the last 10)."""
    return [
        {
            "lastTimestamp": format_time(entry.time),
            "type": "Normal",
            "reason": entry.reason,
            "message": entry.message,
        }
        for entry in sim.status.history[-10:]
    ]


def get(sim: Sim) -> str:
    return describe(rollout_obj(sim), deployments(sim), events(sim))


def field(out: str, name: str) -> str:
    """The value of a `Name:  value` line of `rollout get`."""
    (line,) = [line for line in out.splitlines() if line.startswith(f"{name}:")]
    return line[len(name) + 1 :].strip()


def listed(sim: Sim) -> list[str]:
    """The `rollout list` row, without AGE."""
    header, row = list_rows([rollout_obj(sim)], namespaces=False).splitlines()
    assert header.split()[:8] == [
        "NAME", "PHASE", "STEP", "WEIGHT", "DESIRED", "AVAILABLE", "STABLE", "CANARY"
    ]  # fmt: skip
    return row.split()[:8]


def roles(out: str) -> dict[str, str]:
    """HASH -> ROLE of the revisions table."""
    return {line.split()[1]: line.split()[3] for line in lines_after(out, "Revisions")[1:]}


def checked(**fields: Any) -> Sim:
    """Manual promotion, 2 preview pods, pre- and post-promotion analysis that pass (2 each)."""
    sim = started(
        autoPromotionEnabled=False,
        previewReplicaCount=2,
        prePromotionAnalysis=ANALYSIS,
        postPromotionAnalysis=ANALYSIS,
        **fields,
    )
    sim.metrics = {
        "pre-promotion": (success_rate(count=2),),
        "post-promotion": (success_rate(count=2),),
    }
    sim.observe = scripted([value(0.999)])
    return sim


CHECKED_STAGES = [
    "1. preview (2 pods)",
    "2. pre-promotion analysis success-rate",
    "3. switch (on rollout promote)",
    "4. post-promotion analysis success-rate",
    "5. promoted (old revision scales down after 30s)",
]


def stages(out: str) -> list[str]:
    """The stage lines, whitespace collapsed."""
    return [" ".join(line.split()) for line in lines_after(out, "Stages")]


# -- blue-green, moment by moment --------------------------------------------------------------
def test_waiting_for_the_preview_pods() -> None:
    sim = checked()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.never_ready.add(v2)
    sim.run(seconds=5, until=lambda s: v2 in s.revisions)
    sim.run(seconds=1, until=None)
    out = get(sim)

    assert field(out, "Phase") == "Progressing"
    assert field(out, "Message") == "waiting for preview pods (0/2 available)"
    assert field(out, "Strategy") == (
        f"blueGreen (active Service {ACTIVE}, preview Service {PREVIEW}; switch by selector)"
    )
    assert field(out, "Traffic") == f"stable 100% ({v1})  new 0% ({v2})"
    assert field(out, "Active") == f"{v1} (stable)"
    assert field(out, "Preview") == f"{v1} (stable, behind {PREVIEW})"  # not pointed at v2 yet
    assert field(out, "Waiting for") == f"preview pods of {v2} (0/2 available)"
    assert field(out, "Promotion") == "manual (rollout promote demo); not approved yet"
    assert stages(out) == [
        f"> {CHECKED_STAGES[0]} <- current",
        *CHECKED_STAGES[1:],
    ]
    assert "Steps:" not in out and "canary" not in out
    assert roles(out) == {v2: "new", v1: "stable,active"}

    assert listed(sim) == ["demo", "Progressing", "-", "0%", "5", "5", v1, v2]
    assert _line(rollout_obj(sim)) == (
        "Progressing - stage preview - waiting for preview pods (0/2 available)"
    )


def test_pre_promotion_analysis_running_on_the_preview() -> None:
    sim = checked()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(
        seconds=30, until=lambda s: any(r.name == "pre-promotion" for r in s.status.analysis_runs)
    )
    out = get(sim)

    assert field(out, "Preview") == f"{v2} (new, behind {PREVIEW})"
    assert field(out, "Waiting for") == (
        "pre-promotion analysis (Running: success-rate: waiting for the first measurement)"
    )
    assert stages(out) == [
        f"{CHECKED_STAGES[0]} done",
        f"> {CHECKED_STAGES[1]} <- current",
        *CHECKED_STAGES[2:],
    ]
    assert roles(out) == {v2: "new,preview", v1: "stable,active"}
    assert lines_after(out, "Analysis")[0].split()[:2] == ["pre-promotion:", "Running"]
    assert _line(rollout_obj(sim)).startswith("Progressing - stage pre-promotion - ")


def test_paused_for_promote_with_the_preview_checked() -> None:
    sim = checked()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.PAUSED)
    out = get(sim)

    head = out.split("\nRevisions:")[0].splitlines()
    assert head[2:] == [
        "Phase:       Paused",
        "Message:     preview ready: waiting for promote (rollout promote demo)",
        f"Strategy:    blueGreen (active Service {ACTIVE}, preview Service {PREVIEW}; "
        "switch by selector)",
        "Replicas:    desired 5, available 7",
        f"Traffic:     stable 100% ({v1})  new 0% ({v2})",
        f"Active:      {v1} (stable)",
        f"Preview:     {v2} (new, behind {PREVIEW})",
        f"Waiting for: promote (rollout promote demo) to switch traffic to {v2}",
        "Promotion:   manual (rollout promote demo); not approved yet",
        "Stages:",
        "    1. preview (2 pods)                              done",
        "    2. pre-promotion analysis success-rate           done",
        "  > 3. switch (on rollout promote)                   <- current",
        "    4. post-promotion analysis success-rate",
        "    5. promoted (old revision scales down after 30s)",
    ]
    assert roles(out) == {v2: "new,preview", v1: "stable,active"}
    analysis = lines_after(out, "Analysis")
    assert analysis[0].split() == [
        "pre-promotion:", "Successful", "success-rate:", "2/2", "successful"
    ]  # fmt: skip
    conditions = {line.split()[0]: line.split()[1:3] for line in lines_after(out, "Conditions")}
    assert conditions["Paused"] == ["True", "BlueGreenPause"]

    assert listed(sim) == ["demo", "Paused", "-", "0%", "5", "7", v1, v2]
    assert _line(rollout_obj(sim)) == (
        "Paused - stage switch - preview ready: waiting for promote (rollout promote demo)"
    )


def test_approved_growing_to_full_size_before_the_switch() -> None:
    sim = started(autoPromotionEnabled=False, previewReplicaCount=2)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    sim.slow.add(v2)
    sim.promote()
    sim.step()  # approved, and grown to 5 in the same decision (2 available, +1 per step)
    sim.step()
    out = get(sim)

    assert field(out, "Active") == f"{v1} (stable)"
    assert field(out, "Waiting for") == "new revision pods before the switch (4/5 available)"
    assert field(out, "Promotion") == "manual (rollout promote demo); approved"
    assert stages(out)[1] == "> 2. switch (on rollout promote) <- current"


def test_switched_during_post_promotion_analysis() -> None:
    sim = checked()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.PAUSED)
    sim.promote()
    sim.run(
        seconds=30,
        until=lambda s: any(r.name == "post-promotion" for r in s.status.analysis_runs),
    )
    out = get(sim)

    assert field(out, "Traffic") == f"stable 0% ({v1})  new 100% ({v2})"
    assert field(out, "Active") == f"{v2} (new)"
    assert field(out, "Preview") == f"{v2} (new, behind {PREVIEW})"
    assert field(out, "Waiting for") == (
        "post-promotion analysis (Running: success-rate: waiting for the first measurement)"
    )
    assert field(out, "Promotion") == "manual (rollout promote demo); approved"
    assert stages(out) == [
        *(f"{stage} done" for stage in CHECKED_STAGES[:3]),
        f"> {CHECKED_STAGES[3]} <- current",
        CHECKED_STAGES[4],
    ]
    # The old revision keeps its pods (and its role) until promotion completes.
    assert roles(out) == {v2: "new,active", v1: "stable"}
    runs = [line.split()[:2] for line in lines_after(out, "Analysis") if not line.startswith("   ")]
    assert runs == [["pre-promotion:", "Successful"], ["post-promotion:", "Running"]]

    assert listed(sim) == ["demo", "Progressing", "-", "100%", "5", "10", v1, v2]
    assert _line(rollout_obj(sim)).startswith("Progressing - stage post-promotion - ")


def test_healthy_then_the_old_revision_scaled_down() -> None:
    sim = checked()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.PAUSED)
    sim.promote()
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.HEALTHY)
    out = get(sim)

    assert field(out, "Traffic") == f"100% to {v2}"
    assert field(out, "Active") == f"{v2} (stable)"
    (deadline,) = sim.status.scale_down
    assert deadline.revision == v1
    assert field(out, "Waiting for") == (
        f"scale-down of the old revision {v1} (5 pods) at {deadline.at:%H:%M:%S} UTC"
    )
    assert field(out, "Promotion") == "manual (rollout promote demo)"
    assert stages(out) == [f"{stage} done" for stage in CHECKED_STAGES]
    assert roles(out) == {v2: "stable,active", v1: "old"}
    assert listed(sim) == ["demo", "Healthy", "-", "-", "5", "10", v2, "-"]
    assert _line(rollout_obj(sim)) == "Healthy - stage done - healthy"

    sim.run(seconds=40, until=lambda s: s.revisions[v1].replicas == 0)
    sim.step()
    out = get(sim)
    assert field(out, "Waiting for") == "nothing (fully rolled out)"
    assert roles(out) == {v2: "stable,active", v1: "old"}


def test_aborted_by_post_promotion_analysis() -> None:
    sim = started(postPromotionAnalysis=ANALYSIS)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {"post-promotion": (success_rate(),)}
    sim.observe = scripted([value(0.999), value(0.2)])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    sim.step()
    out = get(sim)

    assert field(out, "Phase") == "Degraded"
    assert field(out, "Aborted").startswith("post-promotion analysis: analysis post-promotion")
    assert field(out, "Active") == f"{v1} (stable)"  # switched back
    assert field(out, "Preview") == f"{v1} (stable, behind {PREVIEW})"
    assert field(out, "Waiting for") == (
        f"rollout retry demo to try again (aborted: traffic is back on {v1}); "
        f"scale-down of {v2} (5 pods) at 00:00:22 UTC"
    )
    assert field(out, "Promotion") == "auto (as soon as the preview is ready); aborted"
    assert stages(out) == [
        "1. preview (5 pods) done",
        "2. switch (auto) done",
        "> 3. post-promotion analysis success-rate <- aborted here",
        "4. promoted (old revision scales down after 30s)",
    ]
    assert roles(out) == {v2: "new", v1: "stable,active"}
    assert lines_after(out, "Analysis")[0].split()[:2] == ["post-promotion:", "Failed"]
    assert listed(sim) == ["demo", "Degraded", "-", "0%", "5", "10", v1, v2]
    assert _line(rollout_obj(sim)).startswith("Degraded - stage aborted - aborted: ")


def test_auto_promotion_after_seconds_says_when() -> None:
    sim = started(autoPromotionSeconds=20)
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    out = get(sim)

    assert field(out, "Waiting for") == (
        "auto-promotion at 00:00:21 UTC (autoPromotionSeconds 20s; "
        "rollout promote demo switches now)"
    )
    assert field(out, "Promotion") == (
        "auto after 20s with the preview ready (rollout promote demo for sooner); not approved yet"
    )
    assert stages(out)[1] == "> 2. switch (auto after 20s) <- current"


def test_inconclusive_pre_promotion_waits_for_a_person() -> None:
    sim = started(prePromotionAnalysis=ANALYSIS)
    sim.metrics = {"pre-promotion": (success_rate(),)}
    sim.observe = scripted([NO_DATA])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.PAUSED)
    out = get(sim)

    assert field(out, "Waiting for") == (
        "a person: the pre-promotion analysis is inconclusive "
        "(rollout promote demo accepts it, rollout abort demo rolls back)"
    )
    assert field(out, "Promotion") == (
        "auto (as soon as the preview is ready and pre-promotion analysis passes); not approved yet"
    )
    assert stages(out)[1] == "> 2. pre-promotion analysis success-rate <- current"
    assert lines_after(out, "Analysis")[0].split()[:2] == ["pre-promotion:", "Inconclusive"]


def test_paused_by_the_user() -> None:
    sim = started(autoPromotionEnabled=False)
    sim.rollout = sim.rollout.model_copy(
        update={"spec": sim.rollout.spec.model_copy(update={"paused": True})}
    )
    sim.run(seconds=3, until=None)
    out = get(sim)

    assert field(out, "Phase") == "Paused"
    assert field(out, "Waiting for") == "rollout resume demo (spec.paused)"
    assert field(out, "Paused") == "yes (spec.paused) - rollout resume to continue"


def test_rollback_window_skips_the_checks() -> None:
    spec = blue_green(prePromotionAnalysis=ANALYSIS, postPromotionAnalysis=ANALYSIS)
    sim = started(prePromotionAnalysis=ANALYSIS, postPromotionAnalysis=ANALYSIS)
    sim.rollout = make_rollout(strategy=spec, rollbackWindow={"revisions": 2}).model_copy(
        update={"status": sim.status}
    )
    sim.set_image("demo:v2")
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {
        "pre-promotion": (success_rate(count=1),),
        "post-promotion": (success_rate(count=1),),
    }
    sim.observe = scripted([value(0.999)])
    sim.run(seconds=60, until=lambda s: s.status.stable_revision == v2)
    sim.set_image("demo:v1")  # undo, while v1 still has its pods
    sim.step()
    sim.step()
    out = get(sim)

    assert sim.status.fast_rollback
    assert field(out, "Promotion") == "at once (rollback window: no checks)"
    assert field(out, "Active") == f"{v1} (new)"
    assert field(out, "Waiting for") == f"the active Service {ACTIVE} to select {v1}"
    assert stages(out) == [
        "1. preview (5 pods) done",
        "2. pre-promotion analysis success-rate skipped (rollback window)",
        "> 3. switch (at once: rollback window) <- current",
        "4. post-promotion analysis success-rate skipped (rollback window)",
        "5. promoted (old revision scales down after 30s)",
    ]
    assert roles(out) == {v1: "new,active", v2: "stable"}


def test_a_traffic_router_switch() -> None:
    sim = Sim(
        make_rollout(strategy=blue_green(trafficRouting=ROUTING, autoPromotionEnabled=False)),
        services={ACTIVE: None, PREVIEW: None},
        traffic_routing=True,
    )
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")
    v2 = sim.revision_of("demo:v2")
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    sim.promote()
    sim.step()
    out = get(sim)

    assert field(out, "Strategy") == (
        f"blueGreen (active Service {ACTIVE}, preview Service {PREVIEW}; switch by istio)"
    )
    assert field(out, "Waiting for") == f"the istio routing to send 100% to {v2}"
    assert stages(out)[1] == "> 2. switch (on rollout promote) <- current"


# -- canary: exactly as before -----------------------------------------------------------------
CANARY_PAUSED = """\
Name:        demo
Namespace:   default
Phase:       Paused
Message:     step 4/4 pause: waiting for promote (rollout promote demo)
Strategy:    canary (weights follow pod counts)
Replicas:    desired 5, available 5
Traffic:     stable 40% ({v1})  canary 60% ({v2})
Steps:
    1. setWeight 20                 done
    2. pause 2                      done
    3. setWeight 50                 done
  > 4. pause (until promoted)       <- current
Revisions:
  REV  HASH        IMAGES   ROLE    PODS (available/desired)
  2    {v2}  demo:v2  canary  3/3
  1    {v1}  demo:v1  stable  2/2
Conditions:
  Progressing  True   RolloutProgressing         step 4/4 pause: waiting for promote (rollout promote demo)
  Available    True   MinimumReplicasAvailable   5 pods available for 5 replicas (at least 4 needed)
  Paused       True   CanaryPauseStep            step 4/4 pause: waiting for promote (rollout promote demo)
  Healthy      False  Paused
Events:
  00:00:00  Normal   Deployed                 first revision {v1} deployed as stable
  00:00:00  Normal   NewRevision              revision {v2} started
  00:00:01  Normal   StepCompleted            step 1/4 setWeight 20 completed
  00:00:03  Normal   StepCompleted            step 2/4 pause 2s completed
  00:00:04  Normal   StepCompleted            step 3/4 setWeight 50 completed"""  # noqa: E501


def test_canary_rendering_is_unchanged() -> None:
    sim = Sim(make_rollout())
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(
        seconds=60,
        until=lambda s: s.status.phase == Phase.PAUSED and s.status.current_step_index == 3,
    )

    assert get(sim) == CANARY_PAUSED.format(v1=v1, v2=v2)
    assert listed(sim) == ["demo", "Paused", "4/4", "60%", "5", "5", v1, v2]
    assert _line(rollout_obj(sim)) == (
        "Paused - step 4/4 - step 4/4 pause: waiting for promote (rollout promote demo)"
    )


def test_before_the_controller_has_seen_it() -> None:
    doc = make_rollout(strategy=blue_green()).model_dump(by_alias=True, exclude_none=True)
    del doc["status"]
    out = describe(doc, [], [])
    assert field(out, "Active") == "- (none yet)"
    assert field(out, "Waiting for") == "the controller (no revision deployed yet)"
    assert stages(out) == [
        "1. preview (5 pods)",
        "2. switch (auto)",
        "3. promoted (old revision scales down after 30s)",
    ]


def test_a_canary_confirm_step_reads_as_what_opens_it() -> None:
    assert step_text({"confirm": {}}) == "confirm (promote or approval webhooks)"
    assert step_text({"confirm": {"timeout": "1h", "onTimeout": "Wait"}}) == (
        "confirm (promote or approval webhooks; Wait after 1h)"
    )
