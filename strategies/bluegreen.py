"""The blue-green strategy: preview, checks, one switch, checks again, then the old one goes.

Order of an update (each stage waits for the one before; all state is in the status):
1. the new revision runs beside the old one (previewReplicaCount pods, default replicas);
2. once they are available, the preview Service points at them;
3. pre-promotion analysis on the preview (Failed / Error abort: the active never switched),
   then pre-promotion webhooks;
4. approval: at once (autoPromotionEnabled), after autoPromotionSeconds, by `rollout promote`,
   or (requireApproval) by `rollout promote` or the approval webhooks;
5. the new revision grows to replicas and, once fully available, the active Service switches in
   one write (or, with a traffic router, the weight goes 0 -> 100 in one routing write);
6. post-promotion analysis, then post-promotion webhooks, while the old revision still runs at
   full size (Failed / Error abort: the active switches back in one write);
7. promotion: the new revision is stable; the old one scales down after scaleDownDelaySeconds.

Within the rollback window (status.fastRollback) 3, 4 and 6 are skipped. Pure: no I/O, no clock
but `draft.now`; abort, scaling and phases are the engine's.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta

from rollout.analysis.run_names import POST_PROMOTION_RUN, PRE_PROMOTION_RUN
from rollout.engine import gating
from rollout.engine.analysis import end
from rollout.engine.draft import Draft
from rollout.engine.world import Inputs
from rollout.models.analysis_status import RunKind
from rollout.models.bluegreen import BlueGreenStrategy as BlueGreenSpec
from rollout.models.status import PauseReason
from rollout.models.webhooks import WebhookType
from strategies.canary import StepPlan


class BlueGreenStrategy:
    """Registered as the `blueGreen` strategy (entry point group `rollout.strategies`)."""

    name = "blueGreen"

    def walk(
        self, inputs: Inputs, draft: Draft, *, stable: str, canary: str, hold: str | None = None
    ) -> StepPlan:
        spec = inputs.spec.strategy.blue_green
        assert spec is not None
        state = draft.status.blue_green
        if draft.status.promote_full:
            draft.status.promote_full = False
            if state.active_revision != canary and not state.promotion_approved:
                _, stops = end(
                    inputs.analysis, draft, PRE_PROMOTION_RUN, reason="skipped by promote --full"
                )
                draft.terminations.extend(stops)
                self._approve(draft, canary, "promote --full (pre-promotion checks skipped)")
        if state.active_revision == canary:
            return self._after_switch(inputs, draft, spec, stable=stable, canary=canary)
        return self._before_switch(inputs, draft, spec, stable=stable, canary=canary, hold=hold)

    def _before_switch(
        self,
        inputs: Inputs,
        draft: Draft,
        spec: BlueGreenSpec,
        *,
        stable: str,
        canary: str,
        hold: str | None,
    ) -> StepPlan:
        status, world, replicas = draft.status, inputs.world, inputs.spec.replicas
        state = status.blue_green
        decided = state.promotion_approved or status.fast_rollback
        size = (
            replicas
            if decided or spec.preview_replica_count is None
            else spec.preview_replica_count
        )
        preview = canary if state.preview_revision == canary else None

        def plan(message: str, *, pods: bool = False) -> StepPlan:
            return StepPlan(
                weight=0,
                canary_target=size,
                stable_target=replicas,
                promote=False,
                waiting_for_pods=pods,
                message=message,
                preview=preview,
            )

        available = world.available(canary)
        if world.replicas(canary) < size or available < size:
            what = "new revision" if decided else "preview"
            return plan(f"waiting for {what} pods ({available}/{size} available)", pods=True)
        state.preview_revision = preview = canary
        preview_service = inputs.spec.strategy.canary_service
        if preview_service and world.services.get(preview_service, canary) != canary:
            return plan(f"pointing the preview Service {preview_service} at {canary}")

        if not decided:
            approval = self._pre_promotion(inputs, draft, spec, canary=canary, hold=hold)
            if approval is not None:
                message, abort, at = approval
                return replace(plan(message), abort=abort, requeue_at=at)
        if size < replicas:
            size = replicas  # approved just now: the plan below grows it in this very pass
            return plan(
                f"promotion approved: growing to full size ({available}/{replicas} available)",
                pods=True,
            )

        state.active_revision = canary
        how = "routing weight 0 -> 100" if inputs.traffic_routing else "active Service selector"
        draft.record(
            "ActiveSwitched",
            f"{how} switched to {canary} ({available}/{replicas} available); {stable} keeps "
            "its pods until promotion completes",
            revision=canary,
        )
        return self._after_switch(inputs, draft, spec, stable=stable, canary=canary)

    def _pre_promotion(
        self,
        inputs: Inputs,
        draft: Draft,
        spec: BlueGreenSpec,
        *,
        canary: str,
        hold: str | None,
    ) -> tuple[str, str | None, datetime | None] | None:
        """Pre-promotion analysis, then approval. None: approved now; otherwise (why it waits,
        why it aborts, when to look again)."""
        status = draft.status
        promoted = status.promote_step is not None
        if spec.pre_promotion_analysis is not None:
            verdict = gating.blocking(
                inputs,
                draft,
                name=PRE_PROMOTION_RUN,
                kind=RunKind.PRE_PROMOTION,
                label="pre-promotion analysis",
                accepted=promoted,
            )
            if not verdict.done:
                return verdict.message, verdict.abort, verdict.requeue_at
        hooks = gating.webhooks(inputs, draft, WebhookType.PRE_PROMOTION)
        if not hooks.done:
            return hooks.message, hooks.abort, hooks.requeue_at
        if inputs.spec.paused or hold:
            return hold or "preview ready: paused (rollout resume to continue)", None, None
        if spec.require_approval is not None:
            approved = gating.approval(
                inputs,
                draft,
                gate=spec.require_approval,
                step=None,
                label="promotion",
                accepted=promoted,
            )
            if not approved.done:
                return approved.message, approved.abort, approved.requeue_at
            self._approve(draft, canary, approved.message)
            return None
        if promoted:
            self._approve(draft, canary, "rollout promote")
            return None
        if spec.auto_promotion_enabled and spec.auto_promotion_seconds is None:
            self._approve(draft, canary, "auto-promotion")
            return None
        pause = draft.pause(PauseReason.BLUE_GREEN_PAUSE)
        if not spec.auto_promotion_enabled:
            return (
                f"preview ready: waiting for promote (rollout promote {inputs.name})",
                None,
                None,
            )
        assert spec.auto_promotion_seconds is not None
        ends = pause.start_time + timedelta(seconds=spec.auto_promotion_seconds)
        if draft.now >= ends:
            self._approve(draft, canary, f"autoPromotionSeconds ({spec.auto_promotion_seconds}s)")
            return None
        left = (ends - draft.now).total_seconds()
        return (
            f"preview ready: switching in {left:.0f}s (autoPromotionSeconds; rollout promote "
            f"{inputs.name} to switch now)",
            None,
            ends,
        )

    @staticmethod
    def _approve(draft: Draft, canary: str, by: str) -> None:
        status = draft.status
        status.blue_green.promotion_approved = True
        status.promote_step = None
        draft.unpause(PauseReason.BLUE_GREEN_PAUSE)
        draft.record(
            "PromotionApproved", f"promotion of {canary} approved by {by}", revision=canary
        )

    def _after_switch(
        self, inputs: Inputs, draft: Draft, spec: BlueGreenSpec, *, stable: str, canary: str
    ) -> StepPlan:
        status, world, replicas = draft.status, inputs.world, inputs.spec.replicas

        def plan(message: str, *, pods: bool = False, promote: bool = False) -> StepPlan:
            return StepPlan(
                weight=100,
                canary_target=replicas,
                # The old revision keeps its full size: switching back must be one write.
                stable_target=replicas,
                promote=promote,
                waiting_for_pods=pods,
                message=message,
                active=canary,
                preview=canary,
            )

        if inputs.traffic_routing:
            verified = world.weights
            switched = (
                verified is not None
                and verified.canary.revision == canary
                and verified.canary.weight == 100
            )
        else:
            active = inputs.spec.strategy.stable_service
            switched = active is not None and world.services.get(active) == canary
        if not switched:
            # Counts toward the progress deadline: a switch that never lands must not hang.
            return plan(f"switching active traffic to {canary}", pods=True)
        if spec.post_promotion_analysis is not None and not status.fast_rollback:
            verdict = gating.blocking(
                inputs,
                draft,
                name=POST_PROMOTION_RUN,
                kind=RunKind.POST_PROMOTION,
                label="post-promotion analysis",
                accepted=status.promote_step is not None,
            )
            status.promote_step = None
            if not verdict.done:
                return replace(
                    plan(verdict.message), abort=verdict.abort, requeue_at=verdict.requeue_at
                )
        hooks = gating.webhooks(inputs, draft, WebhookType.POST_PROMOTION)
        if not hooks.done:
            return replace(plan(hooks.message), abort=hooks.abort, requeue_at=hooks.requeue_at)
        if inputs.spec.paused:
            return plan(f"switched to {canary}: paused before completing (rollout resume)")
        ready = world.available(canary) >= replicas
        return plan(f"switched to {canary}; completing promotion", pods=not ready, promote=ready)
