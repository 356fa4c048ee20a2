"""What may hold or stop an update besides its steps: preflight checks, the SLO release gate,
the SLO step gate and background analysis. Pure.

- Before anything is deployed: preflight checks and the release gate. While either is closed the
  canary gets no pods (its Deployment exists at 0 replicas), the rollout is Paused with the
  reason and figures, and it starts by itself when they open. `rollout promote --skip-gates
  --reason ...` opens the release gate (audited in history and Events); it does not skip
  preflight checks, which protect against half-deploying.
- During the update: the step gate and background analysis roll back on Failed / Error;
  background Inconclusive pauses (rolling back after spec.analysis.inconclusiveTimeout).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rollout.analysis.assess import run_phase
from rollout.analysis.gates import approval_run, webhook_run
from rollout.analysis.run_names import BACKGROUND_RUN, RELEASE_GATE_RUN, STEP_GATE_RUN
from rollout.engine.analysis import advance, end, find, summary
from rollout.engine.draft import Draft
from rollout.engine.world import Inputs
from rollout.models.analysis_status import AnalysisPhase, MeasurementPhase, RunKind
from rollout.models.status import PauseReason, Withdrawal
from rollout.models.webhooks import Approval, OnTimeout, WebhookType


@dataclass(frozen=True)
class Gate:
    before_start: str | None = None
    """Why the update may not start yet (no canary pods meanwhile)."""
    hold: str | None = None
    """Why the steps may not advance (the rollout is Paused)."""
    abort: str | None = None
    """Why the update must roll back."""
    withdraw: str | None = None
    """Why the canary gets no traffic for now (the step gate's cool-off before a retry)."""
    requeue_at: datetime | None = None


@dataclass(frozen=True)
class Verdict:
    """Where a blocking analysis run (a canary step's, blue-green's pre/post-promotion) stands."""

    done: bool
    """Passed (or skipped by promote): move on."""
    message: str = ""
    abort: str | None = None
    requeue_at: datetime | None = None


def blocking(
    inputs: Inputs,
    draft: Draft,
    *,
    name: str,
    kind: RunKind,
    label: str,
    step: int | None = None,
    accepted: bool = False,
    passed: str = "AnalysisSuccessful",
) -> Verdict:
    """A run that blocks the update: Successful moves on, Failed / Error roll back, Inconclusive
    pauses (a person promotes or aborts; inconclusiveTimeout rolls back). `accepted`: a person
    promoted, which skips the run (and accepts an inconclusive one)."""
    status = draft.status
    revision = status.current_revision
    if accepted:
        _, stops = end(inputs.analysis, draft, name, reason="skipped by promote")
        draft.terminations.extend(stops)
        draft.unpause(PauseReason.INCONCLUSIVE_ANALYSIS)
        return Verdict(done=True)
    before = find(draft, name)
    earlier = before is not None and before.phase is AnalysisPhase.SUCCESSFUL
    if earlier and before is not None and before.revision == revision:
        return Verdict(done=True)  # passed earlier: recorded then, not again
    run = advance(inputs.analysis, draft, name, kind, step=step)
    if run.phase is AnalysisPhase.SUCCESSFUL:
        draft.record(passed, f"{label}: {summary(run)}", revision=revision, step=step)
        return Verdict(done=True)
    if run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
        _, stops = end(inputs.analysis, draft, name)
        draft.terminations.extend(stops)
        why = f"{label}: {summary(run)}"
        return Verdict(done=False, message=why, abort=why)
    if run.phase is AnalysisPhase.INCONCLUSIVE:
        gate = inconclusive(inputs, draft, f"{label}: {summary(run)}")
        if gate.abort is not None:
            return Verdict(done=False, message=gate.abort, abort=gate.abort)
        return Verdict(done=False, message=gate.hold or "", requeue_at=gate.requeue_at)
    return Verdict(done=False, message=f"{label}: {summary(run)}")


def check(inputs: Inputs, draft: Draft) -> Gate:
    """Preflight, release gate, step gate and background analysis for the update in progress."""
    status = draft.status
    if status.fast_rollback:
        # Going back to a revision in the rollback window: it served before, and the gates
        # (a burning error budget above all) are what a rollback must not wait for.
        status.update_started_at = status.update_started_at or draft.now
        return Gate()
    started = _started(draft)
    if not started:
        closed = _before_start(inputs, draft)
        if closed is not None:
            return closed
        status.update_started_at = draft.now
        status.preflight = []
    analysis = inputs.analysis
    said = _rollback_webhooks(inputs, draft)
    if said is not None:
        return Gate(abort=said)
    if status.withdrawal is not None:
        cooling = _cool_off(inputs, draft)
        if cooling is not None:
            return cooling
    if STEP_GATE_RUN in analysis.metrics:
        run = advance(analysis, draft, STEP_GATE_RUN, RunKind.STEP_GATE)
        if run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
            why = f"step gate: {summary(run)}"
            gate = inputs.spec.analysis.gates.step
            # Only a verdict is retried (a canary's transient burst looks like a regression
            # while it lasts); an Error means the gate cannot see, and a blind gate rolls back.
            if run.phase is AnalysisPhase.FAILED and inputs.spec.strategy.canary is not None:
                if status.gate_retries < gate.retries:
                    return _withdraw(inputs, draft, why)
                if _new_incident(inputs, draft):
                    status.gate_retries = 0
                    return _withdraw(inputs, draft, why + _NEW_INCIDENT.format(gate.retry_after))
            if status.gate_withdrawals or status.gate_retries:
                n = max(status.gate_withdrawals, status.gate_retries)  # an older status: no count
                times = "1 withdrawal and retry" if n == 1 else f"{n} withdrawals and retries"
                why += f" (again, after {times} at this step)"
            return Gate(abort=why)
    canary = inputs.spec.strategy.canary
    background = canary.analysis if canary is not None else None
    if background is not None and (status.current_step_index or 0) >= (
        background.starting_step or 0
    ):
        run = advance(analysis, draft, BACKGROUND_RUN, RunKind.BACKGROUND)
        if run.phase in (AnalysisPhase.FAILED, AnalysisPhase.ERROR):
            return Gate(abort=summary(run))
        if run.phase is AnalysisPhase.INCONCLUSIVE:
            if status.promote_full or status.promote_step == status.current_step_index:
                # A person looked at it and accepts: the background run counts as passed.
                run.phase, run.message = (
                    AnalysisPhase.SUCCESSFUL,
                    f"accepted by promote ({run.message})",
                )
                draft.unpause(PauseReason.INCONCLUSIVE_ANALYSIS)
                draft.record(
                    "AnalysisAccepted",
                    f"inconclusive background analysis accepted by promote: {run.message}",
                    revision=status.current_revision,
                    step=status.current_step_index,
                )
                return Gate()
            return inconclusive(inputs, draft, summary(run))
    return Gate()


WITHDRAWN_RUNS = frozenset({RunKind.STEP_GATE, RunKind.STEP, RunKind.BACKGROUND})
"""The runs that measure the canary's traffic: a withdrawal ends them, the retry starts them
again (a run that counted the cool-off's zero traffic would see no data, or old bursts)."""


_NEW_INCIDENT = (
    " (a new incident: {}s or more after the retry began; the step's retries come back once)"
)


def _new_incident(inputs: Inputs, draft: Draft) -> bool:
    """A failed verdict with the step's retries used up that still withdraws: it comes
    retryAfter or more after the retried step began (a regression shows again as soon as its
    traffic is back; a transient elsewhere on the canary comes at any time), and the step has
    been withdrawn fewer than 2 x retries times (so a version that fails now and then still
    rolls back)."""
    status = draft.status
    gate = inputs.spec.analysis.gates.step
    began = status.step_started_at
    if not status.gate_withdrawals or status.gate_withdrawals >= 2 * gate.retries:
        return False
    return began is not None and draft.now - began >= timedelta(seconds=gate.retry_after)


def _withdraw(inputs: Inputs, draft: Draft, why: str) -> Gate:
    """The step gate failed with a retry left: weight 0 for retryAfter, the canary's pods kept."""
    status = draft.status
    gate = inputs.spec.analysis.gates.step
    status.gate_retries += 1
    status.gate_withdrawals += 1
    ended: list[str] = []
    for run in list(status.analysis_runs):
        measuring = run.name == STEP_GATE_RUN or (run.kind in WITHDRAWN_RUNS and not run.phase.done)
        if measuring and run.revision == status.current_revision:
            _, stops = end(inputs.analysis, draft, run.name, reason="canary withdrawn")
            draft.terminations.extend(stops)
            ended.append(run.name)
    # The step starts over afterwards: a pause's clock too, and an inconclusive pause's.
    draft.unpause(PauseReason.CANARY_PAUSE_STEP)
    draft.unpause(PauseReason.INCONCLUSIVE_ANALYSIS)
    index = status.current_step_index or 0
    status.withdrawal = Withdrawal(
        until=draft.now + timedelta(seconds=gate.retry_after), step=index, reason=why, runs=ended
    )
    draft.record(
        "CanaryWithdrawn",
        f"{why}; the canary gets no traffic for {gate.retry_after}s, then step {index + 1} "
        f"starts again with a fresh test (retry {status.gate_retries} of {gate.retries} at "
        "this step; once they are used, a failed verdict at this step rolls back, unless it "
        f"comes {gate.retry_after}s or more into the retry: then, once, they come back)",
        revision=status.current_revision,
        step=index,
    )
    return _cooling(inputs, draft)


def _cool_off(inputs: Inputs, draft: Draft) -> Gate | None:
    """While withdrawn: the Gate that holds the canary at weight 0. Once retryAfter is over
    (or a person promotes: the steps take it from there), the step starts again; None."""
    status = draft.status
    withdrawal = status.withdrawal
    assert withdrawal is not None
    asked = status.promote_full or status.promote_step is not None
    if draft.now < withdrawal.until and not asked:
        return _cooling(inputs, draft)
    status.analysis_runs = [r for r in status.analysis_runs if r.name not in withdrawal.runs]
    status.withdrawal = None
    status.step_started_at = draft.now
    draft.record(
        "StepRetried",
        f"step {withdrawal.step + 1} starts again after the canary's withdrawal"
        + (" (ended early by promote)" if asked else ""),
        revision=status.current_revision,
        step=withdrawal.step,
    )
    return None


def _cooling(inputs: Inputs, draft: Draft) -> Gate:
    withdrawal = draft.status.withdrawal
    assert withdrawal is not None
    return Gate(
        withdraw=f"{withdrawal.reason}; canary withdrawn (weight 0) until "
        f"{withdrawal.until.isoformat()}, then step {withdrawal.step + 1} again "
        f"(rollout abort {inputs.name} to roll back now)",
        requeue_at=withdrawal.until,
    )


PREFLIGHT_RECHECK_SECONDS = 10


def _started(draft: Draft) -> bool:
    """The update has passed its start gates (or is past step 0: started by an older version)."""
    status = draft.status
    return status.update_started_at is not None or (status.current_step_index or 0) > 0


def _before_start(inputs: Inputs, draft: Draft) -> Gate | None:
    status = draft.status
    if inputs.preflight:
        condition = draft.pause(PauseReason.PREFLIGHT)
        status.preflight = list(inputs.preflight)
        failing = "; ".join(inputs.preflight)
        timeout = inputs.spec.preflight.timeout
        ends = condition.start_time + timedelta(seconds=timeout)
        if draft.now >= ends:
            draft.unpause(PauseReason.PREFLIGHT)
            return Gate(abort=f"preflight checks failed for {timeout}s: {failing}")
        return Gate(
            before_start=f"preflight checks failing (nothing deployed; gives up at "
            f"{ends.isoformat()}): {failing}",
            # What the checks read (ConfigMaps, Secrets, templates ...) is not watched: look
            # again soon rather than only at the deadline, so a fix lets the rollout start.
            requeue_at=min(ends, draft.now + timedelta(seconds=PREFLIGHT_RECHECK_SECONDS)),
        )
    draft.unpause(PauseReason.PREFLIGHT)
    analysis = inputs.analysis
    hooks = webhook_run(WebhookType.PRE_ROLLOUT)
    if hooks in analysis.metrics:
        verdict = webhooks(inputs, draft, WebhookType.PRE_ROLLOUT)
        if verdict.abort is not None:
            return Gate(abort=verdict.abort)
        if not verdict.done:
            return Gate(before_start=verdict.message, requeue_at=verdict.requeue_at)
    if RELEASE_GATE_RUN not in analysis.metrics:
        return None
    run = advance(analysis, draft, RELEASE_GATE_RUN, RunKind.RELEASE_GATE)
    shown = (
        "; ".join(f"{m.name}: {m.last.message}" for m in run.metrics if m.last is not None)
        or "waiting for the first SLO measurement"
    )
    if status.skip_gates:
        reason = status.skip_gates
        status.skip_gates = None
        end(analysis, draft, RELEASE_GATE_RUN, reason=f"skipped by promote --skip-gates: {reason}")
        _force_open(draft)
        draft.record(
            "GatesSkipped",
            f"release gate skipped by request: {reason} (was: {shown})",
            revision=status.current_revision,
            step=0,
        )
        draft.unpause(PauseReason.ERROR_BUDGET)
        return None
    lasts = [m.last for m in run.metrics]
    if lasts and all(
        last is not None and last.phase is MeasurementPhase.SUCCESSFUL for last in lasts
    ):
        end(analysis, draft, RELEASE_GATE_RUN, reason="open")
        draft.record(
            "ReleaseGateOpen",
            "; ".join(f"{m.name}: {m.last.message}" for m in run.metrics if m.last),
            revision=status.current_revision,
            step=0,
        )
        draft.unpause(PauseReason.ERROR_BUDGET)
        return None
    draft.pause(PauseReason.ERROR_BUDGET)
    shown = (
        "; ".join(f"{m.name}: {m.last.message}" for m in run.metrics if m.last is not None)
        or "waiting for the first SLO measurement"
    )
    return Gate(
        before_start=f"release gate closed ({shown}); it is checked again every "
        f"{inputs.spec.analysis.gates.release.interval}s "
        f"(rollout promote {inputs.name} --skip-gates --reason ... to override)"
    )


def webhooks(inputs: Inputs, draft: Draft, kind: WebhookType) -> Verdict:
    """The gate webhooks of one type (done at once when the spec has none)."""
    name = webhook_run(kind)
    if name not in inputs.analysis.metrics or draft.status.fast_rollback:
        return Verdict(done=True)
    verdict = blocking(
        inputs,
        draft,
        name=name,
        kind=RunKind.WEBHOOK,
        label=f"{kind.value} webhooks",
        passed="WebhooksPassed",
    )
    if not verdict.done and verdict.abort is None:
        return Verdict(done=False, message=f"waiting for {kind.value} webhooks: {verdict.message}")
    return verdict


def _rollback_webhooks(inputs: Inputs, draft: Draft) -> str | None:
    """Why a rollback webhook rolls the update back (it answered 2xx), or None."""
    name = webhook_run(WebhookType.ROLLBACK)
    if name not in inputs.analysis.metrics:
        return None
    run = advance(inputs.analysis, draft, name, RunKind.WEBHOOK)
    for result in run.metrics:
        last = result.last
        if last is not None and last.phase is MeasurementPhase.SUCCESSFUL:
            return f"rollback webhook {result.name} asked for it ({last.message})"
    return None


def approval(
    inputs: Inputs, draft: Draft, *, gate: Approval, step: int | None, label: str, accepted: bool
) -> Verdict:
    """An approval gate: open on `rollout promote` (`accepted`) or once every approval webhook
    answers 2xx; after `gate.timeout`, Abort rolls back and Wait keeps waiting (and says so).
    An open gate's Verdict.message says who opened it."""
    condition = draft.pause(PauseReason.AWAITING_APPROVAL)
    name = approval_run(step)
    asked: list[str] = []
    if accepted:
        end(inputs.analysis, draft, name, reason="approved by rollout promote")
        draft.unpause(PauseReason.AWAITING_APPROVAL)
        return Verdict(done=True, message="rollout promote")
    if name in inputs.analysis.metrics:
        run = advance(inputs.analysis, draft, name, RunKind.APPROVAL, step=step)
        lasts = [m.last for m in run.metrics]
        if lasts and all(
            last is not None and last.phase is MeasurementPhase.SUCCESSFUL for last in lasts
        ):
            who = ", ".join(m.name for m in run.metrics)
            end(inputs.analysis, draft, name, reason=f"approved by {who}")
            draft.unpause(PauseReason.AWAITING_APPROVAL)
            return Verdict(done=True, message=f"approval webhooks {who}")
        asked = [f"{m.name}: {m.last.message if m.last else 'not asked yet'}" for m in run.metrics]
    waiting = f"{label}: waiting for approval (rollout promote {inputs.name}"
    waiting += f"; approval webhooks: {'; '.join(asked)})" if asked else ")"
    if gate.timeout is None:
        return Verdict(done=False, message=waiting)
    ends = condition.start_time + timedelta(seconds=gate.timeout)
    if draft.now < ends:
        return Verdict(
            done=False, message=f"{waiting}; times out at {ends.isoformat()}", requeue_at=ends
        )
    if gate.on_timeout is OnTimeout.ABORT:
        draft.unpause(PauseReason.AWAITING_APPROVAL)
        _, stops = end(inputs.analysis, draft, name, reason="approval timed out")
        draft.terminations.extend(stops)
        why = f"{label}: not approved within {gate.timeout}s (onTimeout: Abort)"
        return Verdict(done=False, message=why, abort=why)
    return Verdict(done=False, message=f"{waiting}; overdue since {ends.isoformat()}")


def _force_open(draft: Draft) -> None:
    for run in draft.status.analysis_runs:
        if run.name == RELEASE_GATE_RUN:
            run.phase = AnalysisPhase.SUCCESSFUL


def inconclusive(inputs: Inputs, draft: Draft, why: str) -> Gate:
    """Pause on an inconclusive analysis; roll back once it has paused for the timeout."""
    condition = draft.pause(PauseReason.INCONCLUSIVE_ANALYSIS)
    timeout = inputs.spec.analysis.inconclusive_timeout
    if timeout is None:
        return Gate(hold=f"{why}; paused (rollout promote or abort {inputs.name})")
    ends = condition.start_time + timedelta(seconds=timeout)
    if draft.now >= ends:
        return Gate(abort=f"inconclusive for {timeout}s, the inconclusiveTimeout: {why}")
    return Gate(
        hold=f"{why}; paused (rollout promote or abort {inputs.name}; rolls back at "
        f"{ends.isoformat()} by inconclusiveTimeout)",
        requeue_at=ends,
    )


def background_verdict(inputs: Inputs, draft: Draft) -> str | None:
    """Before promotion: None when background analysis (if any) allows it, else why not yet.
    Every counting metric needs a Successful measurement: no data is never a pass."""
    canary = inputs.spec.strategy.canary
    if canary is None or canary.analysis is None:
        return None
    run = next((r for r in draft.status.analysis_runs if r.name == BACKGROUND_RUN), None)
    metrics = inputs.analysis.metrics.get(BACKGROUND_RUN, ())
    if run is None:
        return "waiting for background analysis to start"
    if run.phase is AnalysisPhase.SUCCESSFUL:
        return None  # its metrics all completed their count, or a person accepted it
    phase, why = run_phase(metrics, run, ended=True)
    if phase is AnalysisPhase.SUCCESSFUL:
        return None
    return f"waiting for background analysis before promotion ({why})"


def end_all(inputs: Inputs, draft: Draft, reason: str) -> None:
    """End every run of the update (promotion, abort, a new revision); stop Running Jobs."""
    for run in list(draft.status.analysis_runs):
        if run.phase.done and run.finished_at is not None:
            _, stops = end(inputs.analysis, draft, run.name)
        else:
            _, stops = end(inputs.analysis, draft, run.name, reason=reason)
        draft.terminations.extend(stops)
