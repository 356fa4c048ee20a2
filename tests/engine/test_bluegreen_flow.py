"""Blue-green through the pure engine: preview, checks, one switch, switch back, scale-down.

The simulated world applies the engine's actions as the reconciler and Kubernetes would; the
assertions are on the Services' selectors, the pods and the status, step by step.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from rollout.engine import PinService, ScaleRevision
from rollout.models import Phase
from rollout.models.analysis_status import AnalysisPhase
from rollout.models.status import PauseReason
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_analysis_flow import NO_DATA, scripted, success_rate, value

ACTIVE, PREVIEW = "demo-active", "demo-preview"
ANALYSIS = {"templates": [{"templateName": "success-rate"}]}


def blue_green(**fields: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "activeService": ACTIVE,
        "previewService": PREVIEW,
        "scaleDownDelaySeconds": 30,
        "abortScaleDownDelaySeconds": 10,
    }
    spec.update(fields)
    return {"blueGreen": spec}


def started(**fields: Any) -> Sim:
    """v1 Healthy behind the active Service, then the image changed to v2."""
    sim = Sim(
        make_rollout(strategy=blue_green(**fields)),
        services={ACTIVE: None, PREVIEW: None},
    )
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")
    return sim


def pins(sim: Sim) -> tuple[str | None, str | None]:
    return sim.services[ACTIVE], sim.services[PREVIEW]


def active_pins(sim: Sim) -> list[str]:
    return [
        a.revision
        for d in sim.decisions
        for a in d.actions
        if isinstance(a, PinService) and a.service == ACTIVE
    ]


def test_auto_promotion_previews_then_switches_once_fully_available() -> None:
    sim = started()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    seen: list[tuple[str | None, str | None, int]] = []

    def watch(s: Sim) -> bool:
        seen.append((*pins(s), s.revisions[v2].available if v2 in s.revisions else 0))
        return s.status.phase == Phase.HEALTHY

    sim.run(seconds=60, until=watch)
    assert sim.status.stable_revision == v2
    # Preview first, the active Service only once v2 had every pod available; never back.
    assert (v1, v2, 5) in seen
    first_switch = next(i for i, (active, _, _) in enumerate(seen) if active == v2)
    assert all(available == 5 for _, _, available in seen[first_switch:])
    assert pins(sim) == (v2, v2)
    reasons = [h.reason for h in sim.status.history]
    assert reasons[-3:] == ["PromotionApproved", "ActiveSwitched", "Promoted"]
    # The old revision keeps its pods for scaleDownDelaySeconds, then goes.
    assert sim.revisions[v1].replicas == 5
    sim.run(seconds=29, until=None)
    assert sim.revisions[v1].replicas == 5
    sim.run(seconds=5, until=lambda s: s.revisions[v1].replicas == 0)


def test_manual_promotion_waits_with_the_preview_ready_and_switches_on_promote() -> None:
    sim = started(autoPromotionEnabled=False)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert pins(sim) == (v1, v2)
    assert [c.reason for c in sim.status.pause_conditions] == [PauseReason.BLUE_GREEN_PAUSE]
    assert "waiting for promote" in sim.status.message
    sim.run(seconds=60, until=None)  # it waits for ever
    assert pins(sim) == (v1, v2) and sim.status.phase == Phase.PAUSED
    sim.promote()
    sim.run(seconds=10, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert pins(sim) == (v2, v2)
    approved = next(h for h in sim.status.history if h.reason == "PromotionApproved")
    assert "rollout promote" in approved.message


def test_auto_promotion_seconds_switches_after_the_wait() -> None:
    sim = started(autoPromotionSeconds=20)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    paused_at = sim.now
    assert "switching in 20s" in sim.status.message
    sim.run(seconds=60, until=lambda s: s.services[ACTIVE] == v2)
    assert timedelta(seconds=20) <= sim.now - paused_at <= timedelta(seconds=21)
    assert sim.services[PREVIEW] == v2 and v1 in sim.revisions


def test_preview_replica_count_then_full_size_before_the_switch() -> None:
    sim = started(previewReplicaCount=2, autoPromotionEnabled=False)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert sim.revisions[v2].replicas == 2 and sim.revisions[v1].replicas == 5
    sim.slow.add(v2)  # pods come one per reconcile: the switch must wait for all five
    sim.promote()
    approving = sim.step()
    assert sim.revisions[v2].replicas == 5  # grown in the decision that approved it
    assert "growing to full size (2/5 available)" in approving.status.message
    sizes: list[tuple[int, str | None]] = []
    sim.run(
        seconds=30,
        until=lambda s: (
            sizes.append((s.revisions[v2].available, s.services[ACTIVE]))
            or (s.status.phase == Phase.HEALTHY)
        ),
    )
    assert any(available < 5 for available, _ in sizes)  # it did grow pod by pod
    assert all(active == v1 for available, active in sizes if available < 5)
    assert sizes[-1] == (5, v2)


def test_failed_pre_promotion_analysis_never_switches_and_tears_the_preview_down() -> None:
    sim = started(prePromotionAnalysis=ANALYSIS)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {"pre-promotion": (success_rate(),)}
    sim.observe = scripted([value(0.999), value(0.5)])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    aborted_at = sim.now
    assert v2 not in active_pins(sim)
    assert pins(sim) == (v1, v1)  # the preview goes back to the active revision
    run = next(r for r in sim.status.analysis_runs if r.name == "pre-promotion")
    assert run.phase is AnalysisPhase.FAILED
    assert "pre-promotion analysis" in sim.status.abort_message
    # The preview's pods stay for abortScaleDownDelaySeconds (10 s), then go.
    sim.run(seconds=9, until=None)
    assert sim.revisions[v2].replicas == 5
    sim.run(seconds=5, until=lambda s: s.revisions[v2].replicas == 0)
    assert sim.now - aborted_at >= timedelta(seconds=10)
    assert sim.revisions[v1].available == 5


def test_failed_post_promotion_analysis_switches_back_in_one_write() -> None:
    sim = started(postPromotionAnalysis=ANALYSIS)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {"post-promotion": (success_rate(),)}
    sim.observe = scripted([value(0.999), value(0.2)])
    sim.run(seconds=60, until=lambda s: s.services[ACTIVE] == v2)
    assert sim.status.stable_revision == v1  # not promoted until post-promotion passes
    before = len(sim.decisions)
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    # The decision that aborts switches the active Service back first, in one write, while
    # v1 still has all its pods (it was never scaled down).
    back = [
        d
        for d in sim.decisions[before:]
        if any(isinstance(a, PinService) and a.service == ACTIVE for a in d.actions)
    ]
    assert len(back) == 1
    first = back[0].actions[0]
    assert first == PinService(ACTIVE, v1)
    assert sim.services[ACTIVE] == v1 and sim.revisions[v1].available == 5
    scaled_v1 = [
        a
        for d in sim.decisions
        for a in d.actions
        if isinstance(a, ScaleRevision) and a.revision == v1 and a.replicas < 5
    ]
    assert scaled_v1 == []
    assert sim.status.stable_revision == v1


def test_successful_post_promotion_analysis_completes_the_promotion() -> None:
    sim = started(postPromotionAnalysis=ANALYSIS)
    v2 = sim.revision_of("demo:v2")
    sim.metrics = {"post-promotion": (success_rate(count=2),)}
    sim.observe = scripted([value(0.999)])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.status.stable_revision == v2
    run = next(r for r in sim.status.analysis_runs if r.name == "post-promotion")
    assert run.phase is AnalysisPhase.SUCCESSFUL and run.score is not None


def test_inconclusive_pre_promotion_pauses_and_promote_accepts_it() -> None:
    sim = started(prePromotionAnalysis=ANALYSIS)
    v2 = sim.revision_of("demo:v2")
    sim.metrics = {"pre-promotion": (success_rate(),)}
    sim.observe = scripted([NO_DATA])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.PAUSED)
    assert PauseReason.INCONCLUSIVE_ANALYSIS in [c.reason for c in sim.status.pause_conditions]
    sim.promote()
    sim.run(seconds=20, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.status.stable_revision == v2


@pytest.mark.parametrize(
    "moment",
    ["preview-starting", "preview-ready", "pre-analysis", "switched", "post-analysis"],
)
def test_abort_at_every_phase_leaves_active_on_a_revision_with_pods(moment: str) -> None:
    sim = started(
        autoPromotionEnabled=moment != "preview-ready",
        prePromotionAnalysis=ANALYSIS if moment == "pre-analysis" else None,
        postPromotionAnalysis=ANALYSIS if moment == "post-analysis" else None,
    )
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {"pre-promotion": (success_rate(),), "post-promotion": (success_rate(),)}
    sim.observe = scripted([value(0.999)])
    if moment == "preview-starting":
        sim.never_ready.add(v2)
    reached = {
        "preview-starting": lambda s: v2 in s.revisions,
        "preview-ready": lambda s: s.status.phase == Phase.PAUSED,
        "pre-analysis": lambda s: any(r.name == "pre-promotion" for r in s.status.analysis_runs),
        "switched": lambda s: s.status.blue_green.active_revision == v2,
        "post-analysis": lambda s: any(r.name == "post-promotion" for r in s.status.analysis_runs),
    }[moment]
    sim.run(seconds=60, until=reached)
    sim.request(abort=True)
    for _ in range(80):
        sim.step()
        active = sim.services[ACTIVE]
        assert sim.revisions[active or ""].available > 0, (moment, active)
        sim.now += timedelta(seconds=0.5)
    assert sim.status.phase == Phase.DEGRADED
    assert pins(sim) == (v1, v1)
    assert sim.revisions[v2].replicas == 0 and sim.revisions[v1].available == 5


def test_a_preview_that_never_becomes_ready_hits_the_deadline_and_never_switches() -> None:
    sim = started()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.rollout = make_rollout(strategy=blue_green(), progressDeadlineSeconds=10).model_copy(
        update={"status": sim.status}
    )
    sim.set_image("demo:v2")
    sim.never_ready.add(v2)
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert "progress deadline" in sim.status.abort_message
    assert pins(sim) == (v1, v1)


def test_rollback_window_switches_back_in_one_selector_write_without_analysis() -> None:
    sim = started(prePromotionAnalysis=ANALYSIS, postPromotionAnalysis=ANALYSIS)
    sim.rollout = make_rollout(
        strategy=blue_green(prePromotionAnalysis=ANALYSIS, postPromotionAnalysis=ANALYSIS),
        rollbackWindow={"revisions": 2},
    ).model_copy(update={"status": sim.status})
    sim.set_image("demo:v2")
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {
        "pre-promotion": (success_rate(count=1),),
        "post-promotion": (success_rate(count=1),),
    }
    sim.observe = scripted([value(0.999)])
    sim.run(seconds=60, until=lambda s: s.status.stable_revision == v2)
    sim.metrics = {}  # from here on, any analysis run would have no metrics: an Error
    sim.set_image("demo:v1")  # undo, within v1's scale-down delay
    before = len(sim.decisions)
    sim.run(seconds=10, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.status.stable_revision == v1
    writes = [
        a
        for d in sim.decisions[before:]
        for a in d.actions
        if isinstance(a, PinService) and a.service == ACTIVE
    ]
    assert writes == [PinService(ACTIVE, v1)]
    assert not [
        a
        for d in sim.decisions[before:]
        for a in d.actions
        if isinstance(a, ScaleRevision) and a.revision == v1 and a.replicas > 5
    ]
    assert "RollbackWindow" in [h.reason for h in sim.status.history]
    assert [r.name for r in sim.status.analysis_runs] == []


def test_outside_the_rollback_window_a_revision_goes_through_the_checks() -> None:
    sim = started(autoPromotionEnabled=False)
    sim.rollout = make_rollout(
        strategy=blue_green(autoPromotionEnabled=False), rollbackWindow={"revisions": 1}
    ).model_copy(update={"status": sim.status})
    for image in ("demo:v2", "demo:v3"):
        sim.set_image(image)
        sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
        sim.promote()
        sim.run(seconds=10, until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v1")  # two revisions back: outside a window of 1
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert "waiting for promote" in sim.status.message
    assert not sim.status.fast_rollback


def routed(**fields: Any) -> Sim:
    """Blue-green through a traffic router: the switch is a weight, the Services stay put."""
    routing = {"istio": {"virtualService": {"name": "demo"}}}
    sim = Sim(
        make_rollout(strategy=blue_green(trafficRouting=routing, **fields)),
        services={ACTIVE: None, PREVIEW: None},
        traffic_routing=True,
    )
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    sim.set_image("demo:v2")
    return sim


def test_with_a_router_the_switch_is_one_weight_write_0_to_100() -> None:
    sim = routed()
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.HEALTHY)
    # (canary side, weight, its available pods) per routing write: v1 alone; v2 deployed at
    # 0; all of it to v2 in one write, once v2 has every pod; then, promoted, the router's
    # canary side is reset to the new stable (the active Service was pinned to v2 first).
    assert sim.weight_writes == [(v1, 0, 0), (v2, 0, 0), (v2, 100, 5), (v2, 0, 5)]
    assert active_pins(sim) == [v1, v2]  # the first deploy, then the new stable
    assert sim.weights is not None and sim.weights.stable.revision == v2


def test_with_a_router_post_promotion_failure_puts_the_weight_back_in_one_write() -> None:
    sim = routed(postPromotionAnalysis=ANALYSIS)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {"post-promotion": (success_rate(),)}
    sim.observe = scripted([value(0.999), value(0.2)])
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    after = sim.weight_writes[sim.weight_writes.index((v2, 100, 5)) + 1 :]
    assert after == [(v1, 0, 5)]  # one write: everything back on v1, which has all its pods
    assert sim.services[ACTIVE] == v1 and sim.status.stable_revision == v1


def test_promote_full_skips_the_pre_promotion_checks_and_the_wait() -> None:
    sim = started(autoPromotionEnabled=False, prePromotionAnalysis=ANALYSIS)
    v2 = sim.revision_of("demo:v2")
    sim.metrics = {"pre-promotion": (success_rate(),)}
    sim.observe = scripted([NO_DATA])  # it would pause as inconclusive for ever
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    sim.request(promote_full=True)
    sim.run(seconds=20, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.services[ACTIVE] == v2
    run = next(r for r in sim.status.analysis_runs if r.name == "pre-promotion")
    assert "skipped by promote --full" in run.message
    approved = next(h for h in sim.status.history if h.reason == "PromotionApproved")
    assert "promote --full" in approved.message


def test_a_switched_revision_that_loses_its_pods_gives_traffic_back_until_they_return() -> None:
    """Found by the property tests: switched, promotion held by a pause, then every new pod
    stops being ready. The old revision still runs at full size: traffic goes back to it."""
    sim = started(postPromotionAnalysis=ANALYSIS)
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.metrics = {"post-promotion": (success_rate(count=1),)}
    sim.observe = scripted([value(0.999)])
    sim.step()  # v2 deployed
    sim.step()  # the preview points at it
    sim.step()  # approved and switched (post-promotion analysis not measured yet)
    assert sim.services[ACTIVE] == v2 and sim.status.stable_revision == v1
    sim.rollout = sim.rollout.model_copy(
        update={"spec": sim.rollout.spec.model_copy(update={"paused": True})}
    )
    sim.never_ready.add(v2)
    sim.settle()  # v2's pods stop being ready
    decision = sim.step()
    assert decision.actions[0] == PinService(ACTIVE, v1)
    assert sim.services[ACTIVE] == v1 and sim.status.stable_revision == v1
    sim.never_ready.discard(v2)  # they come back: the switch is made again
    sim.rollout = sim.rollout.model_copy(
        update={"spec": sim.rollout.spec.model_copy(update={"paused": False})}
    )
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.services[ACTIVE] == v2 and sim.status.stable_revision == v2
