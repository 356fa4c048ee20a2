"""Webhook gates and approval gates through the pure engine.

The webhook receiver's answers are scripted (the far side; the provider itself is tested
against a real HTTP receiver in tests/analysis/test_webhook_provider.py). From there on it is
the product: the runs in status, retries as limits, timeouts and their policies.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from rollout.analysis.gates import webhook_runs
from rollout.analysis.provider import Observation, Outcome
from rollout.engine import CreateRevision, ScaleRevision
from rollout.models import Phase, Rollout
from rollout.models.status import PauseReason
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_bluegreen_flow import ACTIVE, PREVIEW, blue_green

OK = Observation(Outcome.SUCCEEDED, display="200", message="http://hooks/x answered HTTP 200: ok")
DOWN = Observation(Outcome.ERROR, message="cannot connect to http://hooks/x")
NOT_YET = Observation(Outcome.ERROR, message="http://hooks/x answered HTTP 503: not yet")


def hook(name: str, kind: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "type": kind, "url": f"http://hooks/{name}", "interval": 2, **fields}


def answers(script: dict[str, list[Observation]]) -> Callable[[str, str, datetime], Observation]:
    """Per webhook (metric) name: its answers in order; the last one repeats."""
    asked: dict[str, int] = {}

    def observe(run: str, metric: str, now: datetime) -> Observation:
        n = asked.get(metric, 0)
        asked[metric] = n + 1
        values = script[metric]
        return values[min(n, len(values) - 1)]

    return observe


def releasing(rollout: Rollout, script: dict[str, list[Observation]], **sim: Any) -> Sim:
    """Healthy at v1 with `rollout`'s spec, then v2; webhooks answer from `script`."""
    s = Sim(rollout, **sim)
    s.run(until=lambda x: x.status.phase == Phase.HEALTHY)
    s.metrics = webhook_runs(rollout.spec)
    s.observe = answers(script)
    s.set_image("demo:v2")
    return s


def canary(steps: list[dict[str, Any]], hooks: list[dict[str, Any]]) -> Rollout:
    return make_rollout(strategy__canary__steps=steps, webhooks=hooks)


def test_a_failing_pre_rollout_webhook_rolls_back_before_any_pod_after_its_retries() -> None:
    sim = releasing(
        canary([{"setWeight": 20}], [hook("smoke-ready", "pre-rollout", retries=2)]),
        {"smoke-ready": [DOWN, NOT_YET, NOT_YET]},
    )
    v2 = sim.revision_of("demo:v2")
    sim.run(seconds=120, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert "pre-rollout webhooks" in sim.status.abort_message
    assert "HTTP 503: not yet" in sim.status.abort_message  # the answer that failed it
    run = next(r for r in sim.status.analysis_runs if r.name == "webhook-pre-rollout")
    assert [m.phase for m in run.metrics[0].measurements] == ["Error"] * 3  # 1 try + 2 retries
    assert all(n == 0 for n in (s.replicas for r, s in sim.revisions.items() if r == v2))


def test_a_pre_rollout_webhook_that_recovers_within_its_retries_lets_the_update_start() -> None:
    sim = releasing(
        canary([{"setWeight": 20}], [hook("smoke-ready", "pre-rollout", retries=2)]),
        {"smoke-ready": [DOWN, OK]},
    )
    sim.run(seconds=120, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.status.stable_revision == sim.revision_of("demo:v2")
    assert "WebhooksPassed" in [h.reason for h in sim.status.history]


def test_a_confirm_step_waits_until_every_approval_webhook_says_yes() -> None:
    sim = releasing(
        canary(
            [{"setWeight": 20}, {"confirm": {}}, {"setWeight": 50}],
            [hook("change-board", "approval"), hook("oncall", "approval")],
        ),
        {"change-board": [NOT_YET, NOT_YET, OK], "oncall": [DOWN, OK]},
    )
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert [c.reason for c in sim.status.pause_conditions] == [PauseReason.AWAITING_APPROVAL]
    assert sim.status.current_step_index == 1
    assert "waiting for approval" in sim.status.message
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.HEALTHY)
    approved = next(h for h in sim.status.history if h.reason == "Approved")
    assert approved.step == 1 and "change-board, oncall" in approved.message
    # It opened at change-board's first yes (its 3rd answer), not at oncall's earlier one.
    run = next(r for r in sim.status.analysis_runs if r.name == "approval-1")
    board = next(m for m in run.metrics if m.name == "change-board")
    assert [m.phase for m in board.measurements] == ["Error", "Error", "Successful"]


def test_promote_opens_a_confirm_step_without_the_webhooks() -> None:
    sim = releasing(
        canary([{"confirm": {}}], [hook("change-board", "approval")]),
        {"change-board": [NOT_YET]},
    )
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    sim.promote()
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert "StepPromoted" in [h.reason for h in sim.status.history]


def test_an_approval_timeout_with_abort_rolls_back() -> None:
    sim = releasing(canary([{"confirm": {"timeout": "30s"}}], []), {})
    sim.run(seconds=20, until=lambda s: s.status.phase == Phase.PAUSED)
    paused = sim.now
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert 30 <= (sim.now - paused).total_seconds() <= 31
    assert "not approved within 30s (onTimeout: Abort)" in sim.status.abort_message


def test_an_approval_timeout_with_wait_keeps_waiting_and_says_it_is_overdue() -> None:
    sim = releasing(canary([{"confirm": {"timeout": "30s", "onTimeout": "Wait"}}], []), {})
    sim.run(seconds=90, until=None)
    assert sim.status.phase == Phase.PAUSED
    assert "overdue since" in sim.status.message
    sim.promote()
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.HEALTHY)


def test_a_rollback_webhook_that_answers_2xx_rolls_the_update_back() -> None:
    sim = releasing(
        canary([{"setWeight": 20}, {"pause": {}}], [hook("kill-switch", "rollback")]),
        {"kill-switch": [NOT_YET, DOWN, NOT_YET, OK]},
    )
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert "rollback webhook kill-switch asked for it" in sim.status.abort_message


def test_a_failing_canary_pre_promotion_webhook_stops_short_of_full_traffic() -> None:
    sim = releasing(
        canary([{"setWeight": 20}], [hook("sign-off", "pre-promotion", retries=0)]),
        {"sign-off": [NOT_YET]},
    )
    v2 = sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert "pre-promotion webhooks" in sim.status.abort_message
    # It never grew past the last step's size (20% of 5 replicas: 1 pod).
    sizes = [
        a.replicas
        for d in sim.decisions
        for a in d.actions
        if isinstance(a, CreateRevision | ScaleRevision) and a.revision == v2
    ]
    assert sizes and max(sizes) == 1


def test_a_failing_post_promotion_webhook_keeps_the_old_stable() -> None:
    sim = releasing(
        canary([{"setWeight": 20}], [hook("synthetics", "post-promotion", retries=1)]),
        {"synthetics": [NOT_YET]},
    )
    v1 = sim.status.stable_revision
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert sim.status.stable_revision == v1
    assert sim.services["demo-stable"] == v1


def test_blue_green_require_approval_switches_when_the_webhook_approves() -> None:
    sim = releasing(
        make_rollout(
            strategy=blue_green(requireApproval={"timeout": "10m"}),
            webhooks=[hook("change-board", "approval")],
        ),
        {"change-board": [NOT_YET, NOT_YET, OK]},
        services={ACTIVE: None, PREVIEW: None},
    )
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.PAUSED)
    assert sim.services[ACTIVE] == v1 and sim.services[PREVIEW] == v2
    sim.run(seconds=30, until=lambda s: s.status.phase == Phase.HEALTHY)
    assert sim.services[ACTIVE] == v2
    approved = next(h for h in sim.status.history if h.reason == "PromotionApproved")
    assert "approval webhooks change-board" in approved.message


def test_a_failing_blue_green_post_promotion_webhook_switches_back() -> None:
    sim = releasing(
        make_rollout(
            strategy=blue_green(), webhooks=[hook("synthetics", "post-promotion", retries=0)]
        ),
        {"synthetics": [NOT_YET]},
        services={ACTIVE: None, PREVIEW: None},
    )
    v1, v2 = sim.status.stable_revision, sim.revision_of("demo:v2")
    sim.run(seconds=60, until=lambda s: s.status.phase == Phase.DEGRADED)
    assert "ActiveSwitched" in [h.reason for h in sim.status.history]  # it did switch first
    assert sim.services[ACTIVE] == v1 and sim.revisions[v1].available == 5
    assert "post-promotion webhooks" in sim.status.abort_message
    assert sim.revisions[v2].replicas == 5  # kept for abortScaleDownDelaySeconds
