"""Analysis runs, as kept in the Rollout's status.

Why in the status and not in a separate AnalysisRun resource: the measurement that decides a
rollback and the rollback itself are then one write of one object (the status PUT guarded by
resourceVersion), a restarted controller finds both together, `rollout get` reads one object,
and nothing needs garbage collection. Retention is bounded: the runs of the current update only,
and the last MEASUREMENT_LIMIT measurements of each metric (the counters keep the totals).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from rollout.models.base import StatusModel

MEASUREMENT_LIMIT = 10


class MeasurementPhase(StrEnum):
    RUNNING = "Running"  # a Job still running
    SUCCESSFUL = "Successful"
    FAILED = "Failed"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    NO_DATA = "NoData"


class AnalysisPhase(StrEnum):
    """A metric's or a run's phase. Order matters: a run takes its worst metric's phase."""

    PENDING = "Pending"
    RUNNING = "Running"
    SUCCESSFUL = "Successful"
    INCONCLUSIVE = "Inconclusive"
    ERROR = "Error"
    FAILED = "Failed"

    @property
    def done(self) -> bool:
        return self not in (AnalysisPhase.PENDING, AnalysisPhase.RUNNING)


class Measurement(StatusModel):
    phase: MeasurementPhase
    value: str | None = None
    """The value as measured ("0.997", "NaN", "+Inf", a JSON text); None when there was none."""
    message: str = ""
    """Why: the condition that decided, the provider's error, the Job's outcome."""
    started_at: datetime
    finished_at: datetime | None = None
    metadata: dict[str, str] = {}
    """Provider details kept with it, e.g. the Job's name and the tail of its log."""


class MetricResult(StatusModel):
    name: str
    phase: AnalysisPhase = AnalysisPhase.PENDING
    message: str = ""
    dry_run: bool = False
    count: int = 0
    successful: int = 0
    failed: int = 0
    inconclusive: int = 0
    no_data: int = 0
    error: int = 0
    consecutive_failed: int = 0
    consecutive_error: int = 0
    measurements: list[Measurement] = []
    """The newest MEASUREMENT_LIMIT, oldest first."""

    @property
    def last(self) -> Measurement | None:
        return self.measurements[-1] if self.measurements else None


class Score(StatusModel):
    """The run's Keptn-style quality score: each metric is an objective (Successful = pass,
    Inconclusive = warning, Failed/Error = fail, no measurement = no data), weighted."""

    total: float
    result: str
    """pass (>= 90), warning (>= 75) or fail."""
    message: str = ""


class RunKind(StrEnum):
    STEP = "Step"  # a canary `analysis` step: blocks that step
    BACKGROUND = "Background"  # strategy.canary.analysis: the whole update, from a step on
    RELEASE_GATE = "ReleaseGate"  # before step 0: SLO budget and burn (does not roll back)
    STEP_GATE = "StepGate"  # SLO burn of the canary slice, through the whole update
    PRE_PROMOTION = "PrePromotion"  # blue-green: the preview, before the switch
    POST_PROMOTION = "PostPromotion"  # blue-green: after the switch, while the old one still runs
    WEBHOOK = "Webhook"  # spec.webhooks of one type (pre-rollout, ..., rollback)
    APPROVAL = "Approval"  # approval webhooks polled by one approval gate


class AnalysisRun(StatusModel):
    name: str
    """`step-N` (N counted from 0), `background`, `release-gate`, `step-gate`, `pre-promotion`,
    `post-promotion`."""
    kind: RunKind
    revision: str
    step: int | None = None
    phase: AnalysisPhase = AnalysisPhase.RUNNING
    message: str = ""
    started_at: datetime
    finished_at: datetime | None = None
    metrics: list[MetricResult] = []
    score: Score | None = None

    def metric(self, name: str) -> MetricResult | None:
        return next((m for m in self.metrics if m.name == name), None)
