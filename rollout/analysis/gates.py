"""The SLO gates as analysis runs: one synthetic metric per SLO, measured like any other.

Keeping the gates in the same machinery as template metrics means one way of scheduling,
recording (measurements with values and messages in status), retrying errors and showing them in
`rollout get`. The measuring itself is special (several count queries and the SLO maths), so the
metrics name internal providers the runner knows: RELEASE_GATE_PROVIDER / STEP_GATE_PROVIDER.
"""

from __future__ import annotations

from rollout.analysis.run_names import BACKGROUND_RUN, POST_PROMOTION_RUN, PRE_PROMOTION_RUN
from rollout.models.analysis import Metric, MetricProvider
from rollout.models.analysis_ref import AnalysisStep
from rollout.models.spec import RolloutSpec
from rollout.models.webhooks import WebhookType

RELEASE_GATE_PROVIDER = "slo-release-gate"
STEP_GATE_PROVIDER = "slo-step-gate"
WEBHOOK_PROVIDER = "webhook"
NEVER = 1_000_000  # a limit that is never reached: a closed release gate waits, it never fails
GATE_WEBHOOKS = frozenset(
    {WebhookType.PRE_ROLLOUT, WebhookType.PRE_PROMOTION, WebhookType.POST_PROMOTION}
)
"""Webhooks the update waits on; the others (rollback, approval) are polled."""


def webhook_run(kind: WebhookType) -> str:
    return f"webhook-{kind.value}"


def approval_run(step: int | None) -> str:
    """The run polling approval webhooks for one approval gate: a canary's confirm step, or
    blue-green's requireApproval (None)."""
    return "approval" if step is None else f"approval-{step}"


def webhook_metrics(spec: RolloutSpec, kind: WebhookType) -> tuple[Metric, ...]:
    """One metric per webhook of this type, measured by the `webhook` provider. A gate
    webhook is asked once; `retries` failed tries in a row are tolerated (the next fails the
    check). Polled webhooks are asked every `interval` until their run ends, and never fail."""
    gate = kind in GATE_WEBHOOKS
    return tuple(
        Metric(
            name=hook.name,
            provider=MetricProvider(plugin={WEBHOOK_PROVIDER: hook.to_dict()}),
            interval=hook.interval,
            count=1 if gate else None,
            failure_limit=0 if gate else -1,
            inconclusive_limit=-1,
            consecutive_error_limit=hook.retries if gate else NEVER,
            dry_run=False,
        )
        for hook in spec.webhooks
        if hook.type is kind
    )


def webhook_runs(spec: RolloutSpec) -> dict[str, tuple[Metric, ...]]:
    """Every webhook run the spec defines: by type, and one approval run per approval gate."""
    runs = {
        webhook_run(kind): webhook_metrics(spec, kind)
        for kind in WebhookType
        if kind is not WebhookType.APPROVAL
    }
    approvals = webhook_metrics(spec, WebhookType.APPROVAL)
    gates: list[int | None] = [i for i, s in enumerate(spec.strategy.steps) if s.confirm]
    blue_green = spec.strategy.blue_green
    if blue_green is not None and blue_green.require_approval is not None:
        gates.append(None)
    runs.update({approval_run(gate): approvals for gate in gates})
    return {name: metrics for name, metrics in runs.items() if metrics}


def step_run(index: int) -> str:
    return f"step-{index}"


def template_runs(spec: RolloutSpec) -> list[tuple[str, str, AnalysisStep]]:
    """(run name, where in the spec, the analysis) for every run of analysis templates the
    spec defines, in spec order: canary steps and background, blue-green's pre/post-promotion."""
    runs: list[tuple[str, str, AnalysisStep]] = []
    canary, blue_green = spec.strategy.canary, spec.strategy.blue_green
    if canary is not None:
        for index, step in enumerate(canary.steps):
            if step.analysis is not None:
                runs.append((step_run(index), f"steps[{index}].analysis", step.analysis))
        if canary.analysis is not None:
            runs.append((BACKGROUND_RUN, "background analysis", canary.analysis))
    if blue_green is not None:
        for name, analysis in (
            (PRE_PROMOTION_RUN, blue_green.pre_promotion_analysis),
            (POST_PROMOTION_RUN, blue_green.post_promotion_analysis),
        ):
            if analysis is not None:
                runs.append((name, f"{name} analysis", analysis))
    return runs


def release_gate_metrics(spec: RolloutSpec) -> tuple[Metric, ...]:
    gate = spec.analysis.gates.release
    if not gate.enabled:
        return ()
    return tuple(
        Metric(
            name=slo.name,
            provider=MetricProvider(plugin={RELEASE_GATE_PROVIDER: {"slo": slo.name}}),
            interval=gate.interval,
            failure_limit=-1,
            inconclusive_limit=-1,
            consecutive_error_limit=NEVER,
            dry_run=False,
        )
        for slo in spec.analysis.slos
    )


def step_gate_metrics(spec: RolloutSpec) -> tuple[Metric, ...]:
    gate = spec.analysis.gates.step
    if not gate.enabled:
        return ()
    return tuple(
        Metric(
            name=slo.name,
            provider=MetricProvider(plugin={STEP_GATE_PROVIDER: {"slo": slo.name}}),
            interval=gate.interval,
            failure_limit=0,
            # No data from the canary slice, and a shared incident (Inconclusive), are shown in
            # its measurements but do not pause: the step gate guards against the canary; the
            # analysis steps and pauses decide when to move on.
            inconclusive_limit=-1,
        )
        for slo in spec.analysis.slos
        if slo.canary_sli is not None
    )
