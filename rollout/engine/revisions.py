"""Which update is under way: the first revision, a new template, a template back to the
stable revision, edited steps, a revision within the rollback window; and the state an update
starts from (reset_update). Pure; part of the decision engine (rollout.engine.decide).
"""

from __future__ import annotations

from rollout.engine import gating
from rollout.engine.draft import Draft
from rollout.engine.hashing import steps_hash as hash_steps
from rollout.engine.world import BASELINE_SUFFIX, Inputs
from rollout.models.status import BlueGreenStatus


def track_revision(inputs: Inputs, draft: Draft, revision: str) -> None:
    status, steps = draft.status, inputs.spec.strategy.steps
    steps_hash = inputs.steps_hash or hash_steps(steps)
    if status.stable_revision is None:
        # The first revision has nothing to be compared with: it is deployed as stable.
        status.stable_revision = status.current_revision = revision
        status.current_step_index = len(steps)
        status.steps_hash = steps_hash
        status.last_progress_at = draft.now
        draft.record("Deployed", f"first revision {revision} deployed as stable", revision=revision)
        return
    if status.current_revision != revision:
        previous = status.current_revision
        if revision == status.stable_revision:
            draft.record(
                "RolledBack",
                f"template is back to stable revision {revision}: no steps run",
                revision=revision,
            )
            status.current_step_index = len(steps)
        else:
            superseded = (
                f"; canary {previous} superseded" if previous != status.stable_revision else ""
            )
            draft.record(
                "NewRevision", f"revision {revision} started{superseded}", revision=revision, step=0
            )
            status.current_step_index = 0
        status.current_revision = revision
        reset_update(inputs, draft)
        if revision != status.stable_revision and _in_rollback_window(inputs, draft, revision):
            status.fast_rollback = True
            window = inputs.spec.rollback_window
            draft.record(
                "RollbackWindow",
                f"revision {revision} is one of the last {window.revisions if window else 0} "
                "revisions (rollbackWindow): no steps, no analysis; it takes traffic as soon "
                "as its pods are available",
                revision=revision,
            )
    elif (
        status.steps_hash != steps_hash and revision != status.stable_revision and not status.abort
    ):
        draft.record(
            "StepsChanged",
            "steps were edited mid-rollout: restarting from step 1",
            revision=revision,
            step=0,
        )
        status.current_step_index = 0
        reset_update(inputs, draft)
    status.steps_hash = steps_hash


def reset_update(inputs: Inputs, draft: Draft) -> None:
    status = draft.status
    gating.end_all(inputs, draft, "superseded")
    status.analysis_runs = []
    status.skip_gates = None
    status.update_started_at = None
    status.preflight = []
    status.abort = False
    status.aborted_at = None
    status.abort_message = ""
    status.deadline_exceeded = False
    status.promote_full = False
    status.promote_step = None
    status.pause_conditions = []
    status.step_started_at = draft.now
    status.last_progress_at = draft.now
    status.fast_rollback = False
    status.withdrawal = None
    status.gate_retries = 0
    status.gate_withdrawals = 0
    status.blue_green = blue_green_at_rest(inputs, draft)


def blue_green_at_rest(inputs: Inputs, draft: Draft) -> BlueGreenStatus:
    """Blue-green's state with no switch under way: both Services on the stable revision."""
    if inputs.spec.strategy.blue_green is None:
        return BlueGreenStatus()
    stable = draft.status.stable_revision
    return BlueGreenStatus(active_revision=stable, preview_revision=stable)


def _in_rollback_window(inputs: Inputs, draft: Draft, revision: str) -> bool:
    """The revision is one of the last N before the stable one (by revision number) and its
    Deployment still exists (it may have scaled to 0; then it comes back as fast as pods do)."""
    window = inputs.spec.rollback_window
    revisions = inputs.world.revisions
    stable = revisions.get(draft.status.stable_revision or "")
    if window is None or not window.revisions or stable is None or revision not in revisions:
        return False
    older = sorted(
        (
            s
            for r, s in revisions.items()
            if s.number < stable.number and not r.endswith(BASELINE_SUFFIX)
        ),
        key=lambda s: s.number,
        reverse=True,
    )
    return revision in {s.revision for s in older[: window.revisions]}
