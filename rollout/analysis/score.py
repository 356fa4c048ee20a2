"""A Keptn-style quality gate: weighted objectives scored 0-100 against pass/warning thresholds.

Keptn's lighthouse service (keptn/keptn lighthouse-service/event_handler/evaluate_sli_handler.go,
`evaluateObjectives` and `calculateScore`) scores a gate as

    total = 100 * sum(score_i) / sum(weight_i),
    score_i = weight_i (pass), weight_i / 2 (warning), 0 (fail or no value),

then: pass if total >= pass threshold (default "90%"), warning if total >= warning threshold
(default "75%"), fail otherwise; and a failing *key* objective (key_sli: true) fails the whole
gate whatever the total.

Two deliberate departures, both from the rule "no data is neither a pass nor a failure"
(DESIGN §5):

- Keptn scores a missing SLI value as a failed objective; here "no-data" also scores 0, but a
  key objective without data does not fail the gate, it only keeps it from passing (the result
  is at most "warning").
- Keptn passes a gate with nothing to score (score 100); here a gate whose objectives all have
  no data (or that has none, or only zero weights) is "warning" and says why: it cannot pass on
  silence.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

__all__ = ["GateResult", "ObjectiveResult", "ObjectiveStatus", "QualityScore", "score"]

ObjectiveStatus = Literal["pass", "warning", "fail", "no-data"]
GateResult = Literal["pass", "warning", "fail"]

# Keptn's weights for each status: a warning is worth half a pass.
_CREDIT: dict[str, float] = {"pass": 1.0, "warning": 0.5, "fail": 0.0, "no-data": 0.0}


@dataclass(frozen=True)
class ObjectiveResult:
    """One evaluated objective: its measured value (as shown to people) and its status."""

    name: str
    value: str | None
    status: ObjectiveStatus
    weight: int = 1
    key: bool = False

    def __post_init__(self) -> None:
        if self.status not in _CREDIT:
            raise ValueError(f"objective {self.name!r}: unknown status {self.status!r}")
        if self.weight < 0:
            raise ValueError(f"objective {self.name!r}: weight must be >= 0, got {self.weight}")


@dataclass(frozen=True)
class QualityScore:
    total: float
    """0-100."""
    result: GateResult
    message: str


def _fmt(value: float) -> str:
    return f"{value:.4g}"


def score(
    objectives: Sequence[ObjectiveResult],
    pass_threshold: float = 90,
    warning_threshold: float = 75,
) -> QualityScore:
    """Score the objectives as Keptn does (module docstring), with the no-data rules above."""
    if not 0 <= warning_threshold <= pass_threshold <= 100:
        raise ValueError(
            "need 0 <= warning_threshold <= pass_threshold <= 100, got "
            f"warning {warning_threshold:g}, pass {pass_threshold:g}"
        )
    counts = {status: 0 for status in _CREDIT}
    for objective in objectives:
        counts[objective.status] += 1
    summary = ", ".join(f"{n} {status}" for status, n in counts.items() if n)

    maximum = sum(o.weight for o in objectives)
    achieved = sum(_CREDIT[o.status] * o.weight for o in objectives)
    total = 100.0 * achieved / maximum if maximum > 0 else 0.0
    figures = (
        f"score {_fmt(total)}/100 (pass >= {_fmt(pass_threshold)}, "
        f"warning >= {_fmt(warning_threshold)}; {summary or 'no objectives'})"
    )

    # A failed key objective decides alone, even when nothing else could be scored.
    failed_keys = [o.name for o in objectives if o.key and o.status == "fail"]
    if failed_keys:
        return QualityScore(
            total=total,
            result="fail",
            message=f"key objective failed: {', '.join(failed_keys)}; {figures}",
        )

    if not objectives or counts["no-data"] == len(objectives) or maximum == 0:
        why = (
            "no objectives to score"
            if not objectives
            else "every objective has no data"
            if counts["no-data"] == len(objectives)
            else "every objective has weight 0"
        )
        return QualityScore(
            total=total,
            result="warning",
            message=f"{why}: the gate cannot pass without measurements; {figures}",
        )

    result: GateResult
    if total >= pass_threshold:
        result = "pass"
    elif total >= warning_threshold:
        result = "warning"
    else:
        result = "fail"

    silent_keys = [o.name for o in objectives if o.key and o.status == "no-data"]
    if silent_keys and result == "pass":
        return QualityScore(
            total=total,
            result="warning",
            message=f"key objective has no data: {', '.join(silent_keys)}, so the gate cannot "
            f"pass; {figures}",
        )
    return QualityScore(total=total, result=result, message=f"{result}: {figures}")
