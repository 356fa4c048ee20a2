"""The canary strategy: walking the steps (setWeight, pause, setCanaryScale, analysis, routes).

Given where the rollout stands, it says how big the canary and the stable should be, what weight
the canary should get, whether the current step is done, and what it waits for. It moves
`currentStepIndex` forward on the draft status; everything else (abort, revisions, scaling,
phases) is the engine's. Pure: no I/O, no clock but `draft.now`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from rollout.analysis.gates import step_run
from rollout.engine import gating
from rollout.engine.draft import Draft
from rollout.engine.replicas import canary_replicas_for_weight
from rollout.engine.world import Inputs, baseline_of
from rollout.models import CanaryStep, TrafficWeights
from rollout.models.analysis_status import RunKind
from rollout.models.status import PauseReason
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from rollout.models.webhooks import WebhookType


@dataclass(frozen=True)
class StepPlan:
    weight: int
    """Desired canary traffic weight (0-100)."""
    canary_target: int
    stable_target: int
    promote: bool
    """Every step is done and the canary is fully available: it may become stable."""
    waiting_for_pods: bool
    """The plan waits on pods becoming available (counts toward the progress deadline)."""
    message: str
    requeue_at: datetime | None = None
    route: SetHeaderRoute | SetMirrorRoute | None = None
    """A managed route the current step wants set (or removed) in the traffic layer."""
    abort: str | None = None
    """The step's analysis says roll back: why."""
    baseline_target: int = 0
    """Pods of the baseline (fresh stable pods beside the canary), when spec asks for one."""
    active: str | None = None
    """The revision the stable (active) Service serves, when it is not the stable revision
    (blue-green between the switch and the end of post-promotion analysis)."""
    preview: str | None = None
    """The revision the canary (preview) Service serves; None: the stable revision."""
    baseline_weight: int = 0
    """The baseline's traffic weight (behind a router; without one, traffic follows pods)."""


def _describe(step: CanaryStep) -> str:
    if step.set_weight is not None:
        return f"setWeight {step.set_weight}"
    if step.pause is not None:
        return "pause" if step.pause.duration is None else f"pause {step.pause.duration}s"
    if step.set_canary_scale is not None:
        return "setCanaryScale"
    if step.set_header_route is not None:
        return f"setHeaderRoute {step.set_header_route.name}"
    if step.set_mirror_route is not None:
        return f"setMirrorRoute {step.set_mirror_route.name}"
    if step.confirm is not None:
        return "confirm"
    return "analysis"


def _twin_weight(inputs: Inputs, weight: int, baseline_target: int) -> int:
    """The baseline's weight at a step: the canary's, behind a router (without one, traffic
    follows pods and no weight is set)."""
    return weight if baseline_target and inputs.traffic_routing else 0


def baseline_verified(weights: TrafficWeights, stable: str, want: int) -> bool:
    """The router reports `want`% on the stable's baseline (0: no weight on any baseline)."""
    got = weights.baseline
    if want == 0:
        return got is None or got.weight == 0
    return got is not None and got.revision == baseline_of(stable) and got.weight == want


class CanaryStrategy:
    """Registered as the `canary` strategy (entry point group `rollout.strategies`)."""

    name = "canary"

    def walk(
        self, inputs: Inputs, draft: Draft, *, stable: str, canary: str, hold: str | None = None
    ) -> StepPlan:
        """`hold`: why the steps may not advance now (an inconclusive background analysis)."""
        spec = inputs.spec
        assert spec.strategy.canary is not None
        steps = spec.strategy.canary.steps
        status = draft.status
        index = status.current_step_index or 0

        if status.fast_rollback:
            index = len(steps)  # within the rollback window: straight to full size
        if status.promote_full:
            status.promote_full = False
            if index < len(steps):
                draft.record(
                    "PromotedFull",
                    "remaining steps skipped by promote --full",
                    revision=canary,
                    step=index,
                )
            index = len(steps)
            draft.status.pause_conditions = []
        if status.promote_step is not None and status.promote_step != index:
            draft.record(
                "PromoteIgnored",
                f"promote for step {status.promote_step} ignored: the rollout is at step {index}",
                revision=canary,
                step=index,
            )
            status.promote_step = None

        while index < len(steps):
            step = steps[index]
            weight = self._weight_at(steps, index)
            canary_target, stable_target, baseline_target = self._targets(
                inputs, steps, index, weight
            )
            label = f"step {index + 1}/{len(steps)} {_describe(step)}"
            baseline_weight = _twin_weight(inputs, weight, baseline_target)
            held = status.pause_conditions
            done, plan = self._step(
                inputs,
                draft,
                step,
                index=index,
                weight=weight,
                canary_target=canary_target,
                stable_target=stable_target,
                canary=canary,
                label=label,
                baseline_target=baseline_target,
                baseline_weight=baseline_weight,
            )
            if not done:
                status.current_step_index = index
                return plan
            if spec.paused or hold:
                # Keep the pause condition `_step` just cleared: its start time is a timed
                # pause's clock, and restarting it on every pass would make `resume` wait a
                # whole duration again.
                status.pause_conditions = held
                status.current_step_index = index
                return StepPlan(
                    weight,
                    canary_target,
                    stable_target,
                    False,
                    False,
                    f"{label}: done; {hold}"
                    if hold
                    else f"{label}: done; paused (rollout resume to continue)",
                    baseline_target=baseline_target,
                    baseline_weight=baseline_weight,
                )
            if status.promote_step == index:
                draft.record("StepPromoted", f"{label} promoted", revision=canary, step=index)
            else:
                draft.record("StepCompleted", f"{label} completed", revision=canary, step=index)
            index += 1
            status.current_step_index = index
            status.step_started_at = draft.now
            status.promote_step = None
            status.gate_retries = 0  # the step gate's retries are per step
            status.gate_withdrawals = 0

        status.current_step_index = index
        return self._finish(inputs, draft, stable=stable, canary=canary, hold=hold)

    def _finish(
        self, inputs: Inputs, draft: Draft, *, stable: str, canary: str, hold: str | None
    ) -> StepPlan:
        """After the last step: pre-promotion webhooks (at the last step's weight), then full
        size (with a router, 100% confirmed), post-promotion webhooks, then promotion."""
        spec, world = inputs.spec, inputs.world
        steps = spec.strategy.steps
        pre = gating.webhooks(inputs, draft, WebhookType.PRE_PROMOTION)
        if not pre.done:
            last = max(len(steps) - 1, 0)
            weight = self._weight_at(steps, last) if steps else 0
            canary_target, stable_target, baseline_target = self._targets(
                inputs, steps, last, weight
            )
            return StepPlan(
                weight,
                canary_target,
                stable_target,
                False,
                False,
                pre.message,
                pre.requeue_at,
                abort=pre.abort,
                baseline_target=baseline_target,
                baseline_weight=_twin_weight(inputs, weight, baseline_target),
            )
        replicas = spec.replicas
        ready = world.replicas(canary) == replicas and world.available(canary) >= replicas
        if inputs.traffic_routing:
            # The router must confirm 100% on the canary before it becomes the stable.
            verified = world.weights
            ready = (
                ready
                and verified is not None
                and (verified.canary.revision == canary and verified.canary.weight == 100)
            )
        post = gating.webhooks(inputs, draft, WebhookType.POST_PROMOTION) if ready else None
        waiting = gating.background_verdict(inputs, draft) if ready else None
        return StepPlan(
            weight=100,
            canary_target=replicas,
            # The old stable keeps its pods; it is scaled down after scaleDownDelaySeconds.
            stable_target=world.replicas(stable),
            promote=ready
            and not spec.paused
            and not hold
            and waiting is None
            and (post is None or post.done),
            waiting_for_pods=not ready,
            message=hold
            or (post.message if post is not None and not post.done else "")
            or waiting
            or f"all steps done: waiting for canary pods ({world.available(canary)}/{replicas} "
            "available)",
            requeue_at=post.requeue_at if post is not None else None,
            abort=post.abort if post is not None else None,
        )

    def _step(
        self,
        inputs: Inputs,
        draft: Draft,
        step: CanaryStep,
        *,
        index: int,
        weight: int,
        canary_target: int,
        stable_target: int,
        canary: str,
        label: str,
        baseline_target: int = 0,
        baseline_weight: int = 0,
    ) -> tuple[bool, StepPlan]:
        world, status = inputs.world, draft.status

        def waiting(message: str, *, pods: bool, at: datetime | None = None) -> StepPlan:
            return StepPlan(
                weight,
                canary_target,
                stable_target,
                False,
                pods,
                message,
                at,
                baseline_target=baseline_target,
                baseline_weight=baseline_weight,
            )

        if step.set_weight is not None or step.set_canary_scale is not None:
            reached = (
                world.replicas(canary) == canary_target
                and world.available(canary) >= canary_target
                # Without a router the stable must also have shrunk to its share.
                and (
                    inputs.traffic_routing
                    or world.replicas(draft.status.stable_revision) <= stable_target
                )
                # A baseline must be there too, or the comparison has nothing to compare with.
                and world.available(baseline_of(draft.status.stable_revision or ""))
                >= baseline_target
            )
            if inputs.traffic_routing:
                verified = world.weights
                reached = (
                    reached
                    and verified is not None
                    and (verified.canary.revision == canary and verified.canary.weight == weight)
                    and baseline_verified(
                        verified, draft.status.stable_revision or "", baseline_weight
                    )
                )
            if reached:
                return True, waiting("", pods=False)
            return False, waiting(
                f"{label}: waiting for canary pods "
                f"({world.available(canary)}/{canary_target} available)",
                pods=True,
            )

        route = step.set_header_route or step.set_mirror_route
        if route is not None:
            present = world.header_routes if step.set_header_route else world.mirror_routes
            wanted = bool(route.match) or (
                isinstance(route, SetMirrorRoute) and route.percentage is not None
            )
            if (route.name in present) == wanted:
                return True, waiting("", pods=False)
            plan = waiting(f"{label}: waiting for the route in the traffic layer", pods=True)
            return False, replace(plan, route=route)

        if step.pause is not None:
            condition = draft.pause(PauseReason.CANARY_PAUSE_STEP)
            if status.promote_step == index:
                draft.unpause(PauseReason.CANARY_PAUSE_STEP)
                return True, waiting("", pods=False)
            if step.pause.duration is None:
                return False, waiting(
                    f"{label}: waiting for promote (rollout promote {inputs.name})", pods=False
                )
            ends = condition.start_time + timedelta(seconds=step.pause.duration)
            if draft.now >= ends:
                draft.unpause(PauseReason.CANARY_PAUSE_STEP)
                return True, waiting("", pods=False)
            left = (ends - draft.now).total_seconds()
            return False, waiting(f"{label}: {left:.0f}s left", pods=False, at=ends)

        if step.confirm is not None:
            verdict = gating.approval(
                inputs,
                draft,
                gate=step.confirm,
                step=index,
                label=label,
                accepted=status.promote_step == index,
            )
            if verdict.done and status.promote_step != index:
                draft.record(
                    "Approved",
                    f"{label}: approved by {verdict.message}",
                    revision=canary,
                    step=index,
                )
            plan = waiting(
                "" if verdict.done else verdict.message, pods=False, at=verdict.requeue_at
            )
            return verdict.done, replace(plan, abort=verdict.abort)

        return self._analysis(inputs, draft, index=index, label=label, waiting=waiting)

    @staticmethod
    def _analysis(
        inputs: Inputs,
        draft: Draft,
        *,
        index: int,
        label: str,
        waiting: Callable[..., StepPlan],
    ) -> tuple[bool, StepPlan]:
        """An analysis step blocks the step (see gating.blocking). Promote skips it."""
        verdict = gating.blocking(
            inputs,
            draft,
            name=step_run(index),
            kind=RunKind.STEP,
            label=label,
            step=index,
            accepted=draft.status.promote_step == index,
        )
        plan: StepPlan = waiting(verdict.message, pods=False, at=verdict.requeue_at)
        return verdict.done, replace(plan, abort=verdict.abort)

    @staticmethod
    def _weight_at(steps: list[CanaryStep], index: int) -> int:
        for step in reversed(steps[: index + 1]):
            if step.set_weight is not None:
                return step.set_weight
        return 0

    @staticmethod
    def _targets(
        inputs: Inputs, steps: list[CanaryStep], index: int, weight: int
    ) -> tuple[int, int, int]:
        """(canary, stable, baseline) replica targets at this step."""
        replicas = inputs.spec.replicas
        assert inputs.spec.strategy.canary is not None
        if not inputs.traffic_routing:
            canary = canary_replicas_for_weight(replicas, weight)
            if inputs.spec.strategy.canary.baseline:
                # The baseline takes as many pods, so as much traffic, as the canary.
                return canary, max(0, replicas - 2 * canary), canary
            return canary, replicas - canary, 0
        # With a router the stable stays at full size, so an abort is one weight write. A
        # baseline is the canary's twin: as many pods (and the same weight).
        twin = 1 if inputs.spec.strategy.canary.baseline else 0
        for step in reversed(steps[: index + 1]):
            scale = step.set_canary_scale
            if scale is None:
                continue
            if scale.replicas is not None:
                return scale.replicas, replicas, twin * scale.replicas
            if scale.weight is not None:
                scaled = canary_replicas_for_weight(replicas, scale.weight)
                return scaled, replicas, twin * scaled
            break  # matchTrafficWeight
        # Deployed before released: with a router, a canary at 0% still runs one pod, so header
        # routes and smoke tests can reach it before any weight moves.
        canary = max(1, canary_replicas_for_weight(replicas, weight))
        return canary, replicas, twin * canary
