"""The Rollout status: everything the controller knows, so a restarted controller knows it too.

Most fields are written only by the controller. Three are *requests* written by people (through
the CLI or kubectl, on the status subresource) and consumed by the controller: `abort`,
`promoteFull` and `promoteStep`. Timers (pause ends, scale-down deadlines, the progress deadline)
are timestamps here, never in memory.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import Field

from rollout.models.analysis_status import AnalysisRun
from rollout.models.base import StatusModel

HISTORY_LIMIT = 30


class Phase(StrEnum):
    PROGRESSING = "Progressing"
    PAUSED = "Paused"
    HEALTHY = "Healthy"
    DEGRADED = "Degraded"


class ConditionType(StrEnum):
    PROGRESSING = "Progressing"  # reason says why: NewRevision, StepCompleted, RolloutAborted ...
    AVAILABLE = "Available"  # all revisions together serve at least replicas - maxUnavailable
    PAUSED = "Paused"
    INVALID_SPEC = "InvalidSpec"
    HEALTHY = "Healthy"


class PauseReason(StrEnum):
    CANARY_PAUSE_STEP = "CanaryPauseStep"  # a pause step
    INCONCLUSIVE_ANALYSIS = "InconclusiveAnalysis"  # an analysis was inconclusive: a person decides
    PREFLIGHT = "PreflightChecks"  # preflight checks fail: the update has not started
    ERROR_BUDGET = "ErrorBudgetExhausted"  # the release gate is closed: the update has not started
    USER_PAUSE = "UserPause"  # spec.paused
    BLUE_GREEN_PAUSE = "BlueGreenPause"  # the preview is ready: waiting to switch (promote/timer)
    AWAITING_APPROVAL = "AwaitingApproval"  # an approval gate: promote, or approval webhooks


class PauseCondition(StatusModel):
    reason: PauseReason
    start_time: datetime


class Condition(StatusModel):
    type: ConditionType
    status: str  # "True" | "False" | "Unknown", as in every Kubernetes condition
    reason: str
    message: str = ""
    last_transition_time: datetime


class RevisionWeight(StatusModel):
    revision: str
    weight: Annotated[int, Field(ge=0, le=100)]


class TrafficWeights(StatusModel):
    """Weights as verified by reading the traffic layer back (or, without one, from pod counts)."""

    stable: RevisionWeight
    canary: RevisionWeight
    baseline: RevisionWeight | None = None
    """A baseline behind a router: its share (the stable has what canary and baseline leave)."""


class CanaryStatus(StatusModel):
    weights: TrafficWeights | None = None


class BlueGreenStatus(StatusModel):
    active_revision: str | None = None
    """The revision the active Service (or the router's 100%) is meant to serve. It is the new
    revision from the switch on; the stable revision before it, and again after an abort."""
    preview_revision: str | None = None
    """The revision the preview Service is meant to serve."""
    promotion_approved: bool = False
    """The switch is decided (auto-promotion, its timer, or `rollout promote`): the new revision
    grows to full size and the active Service switches once it is available."""


class ScaleDownDeadline(StatusModel):
    """An old revision keeps its pods until `at`, then is scaled to 0 (the fast-rollback window)."""

    revision: str
    at: datetime


class Withdrawal(StatusModel):
    """The step gate failed with a retry left: the canary has no traffic (its pods kept) until
    `until`; then step `step` starts again, its analysis runs and the step gate afresh."""

    until: datetime
    step: int
    reason: str
    """The failed verdict, with its figures."""
    runs: list[str] = []
    """Analysis runs the withdrawal ended; they start again (new runs) when it is over."""


class HistoryEntry(StatusModel):
    """What happened and why. Bounded to the last HISTORY_LIMIT entries."""

    time: datetime
    reason: str
    message: str
    revision: str | None = None
    step: int | None = None


class RolloutStatus(StatusModel):
    observed_generation: int | None = None
    phase: Phase | None = None
    message: str = ""

    current_revision: str | None = None
    """Hash of the pod template being rolled out (equals stableRevision when fully promoted)."""
    stable_revision: str | None = None
    """Hash of the revision taking production traffic."""
    current_step_index: int | None = None
    steps_hash: str | None = None
    """Hash of the steps; editing the steps mid-rollout restarts them from step 0."""
    pause_conditions: list[PauseCondition] = []
    step_started_at: datetime | None = None
    """When the current step started; pause durations count from here."""

    abort: bool = False
    """Request (people) or decision (controller): roll back to stable. `retry` sets it false."""
    aborted_at: datetime | None = None
    abort_message: str = ""
    promote_full: bool = False
    """Request: skip the remaining steps and go to 100%."""
    promote_step: int | None = None
    """Request: complete step N now (a pause, or a held analysis). Ignored if no longer at N."""
    skip_gates: str | None = None
    """Request (audited): start this update although the release gate is closed; the reason."""

    progress_marker: str | None = None
    last_progress_at: datetime | None = None
    """The progress deadline counts from here; it moves whenever pods or steps move."""
    deadline_exceeded: bool = False

    canary: CanaryStatus = CanaryStatus()
    blue_green: BlueGreenStatus = BlueGreenStatus()
    withdrawal: Withdrawal | None = None
    gate_retries: int = 0
    """How many of the step gate's retries the current step has used (they come back once,
    after a retried step runs retryAfter without a failed verdict)."""
    gate_withdrawals: int = 0
    """How many times the current step has been withdrawn (at most 2 x retries)."""
    fast_rollback: bool = False
    """The current update goes back to a revision within spec.rollbackWindow: no steps, no
    analysis, no pauses; it switches as soon as that revision's pods are available."""
    scale_down: list[ScaleDownDeadline] = []
    restarted_at: datetime | None = None

    # For the /scale subresource (an HPA can target a Rollout) and `kubectl get`.
    replicas: int = 0
    updated_replicas: int = 0
    ready_replicas: int = 0
    available_replicas: int = 0
    selector: str = ""

    update_started_at: datetime | None = None
    """When the current update passed its start gates (preflight checks, the release gate)."""
    preflight: list[str] = []
    """Failing preflight checks of the update that has not started yet."""
    analysis_runs: list[AnalysisRun] = []
    """The analysis runs of the current update (release gate, steps, background, step gate)."""

    conditions: list[Condition] = []
    history: list[HistoryEntry] = []
