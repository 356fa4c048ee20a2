"""The analysis part of the detail screen, as facts (no Textual): each metric's recent values and
the threshold they are judged against, the SLO gates' error budget and burn rates, and the
sparkline that draws the values against the threshold.

Everything comes from the Rollout's status (runs, metrics, measurements: the controller keeps
the newest ten of each) and, for thresholds, from the analysis templates the spec names. A
threshold is shown only when a condition is a plain comparison of `result` with a number
(`result >= 0.99`, `0.5 > result`); anything richer (CEL with `&&`, indexes, functions) has no
single line to draw, so none is shown.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from rich.text import Text

from rollout.analysis.gates import step_run
from rollout.analysis.run_names import (
    BACKGROUND_RUN,
    POST_PROMOTION_RUN,
    PRE_PROMOTION_RUN,
    RELEASE_GATE_RUN,
    STEP_GATE_RUN,
)
from rollout.kube.client import Obj

_NUMBER = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?"
_RESULT_FIRST = re.compile(rf"^\s*result\s*(<=|>=|==|<|>)\s*({_NUMBER})\s*$")
_NUMBER_FIRST = re.compile(rf"^\s*({_NUMBER})\s*(<=|>=|==|<|>)\s*result\s*$")
_MIRROR = {"<": ">", ">": "<", "<=": ">=", ">=": "<=", "==": "=="}
_SHOWN = {"<": "<", ">": ">", "<=": "≤", ">=": "≥", "==": "="}
BARS = "▁▂▃▄▅▆▇█"
PHASE_STYLES = {
    "Successful": "green",
    "Failed": "red",
    "Inconclusive": "yellow",
    "Error": "magenta",
    "NoData": "bright_black",
    "Running": "cyan",
    "Pending": "bright_black",
}


@dataclass(frozen=True)
class Threshold:
    """`result <op> value`, from the condition named by `source`."""

    op: str
    value: float
    source: str

    @property
    def text(self) -> str:
        return f"{_SHOWN[self.op]} {self.value:g}"


def parse_threshold(condition: str | None, source: str) -> Threshold | None:
    """The number a simple comparison of `result` checks against; None for anything else."""
    if not condition:
        return None
    if match := _RESULT_FIRST.match(condition):
        return Threshold(match.group(1), float(match.group(2)), source)
    if match := _NUMBER_FIRST.match(condition):
        return Threshold(_MIRROR[match.group(2)], float(match.group(1)), source)
    return None


def threshold_of(conditions: Mapping[str, str | None]) -> Threshold | None:
    """successCondition first (what passing means), else failureCondition."""
    for source in ("successCondition", "failureCondition"):
        found = parse_threshold(conditions.get(source), source)
        if found is not None:
            return found
    return None


@dataclass(frozen=True)
class MetricView:
    run: str
    name: str
    phase: str
    values: tuple[float | None, ...]
    """newest last; None where a measurement had no number (NoData, an error, a Job)"""
    phases: tuple[str, ...]
    threshold: Threshold | None
    last: str
    """the last measurement's value as recorded ("-" with none)"""
    message: str
    """the last measurement's message (why it was judged so)"""


@dataclass(frozen=True)
class RunView:
    name: str
    where: str
    """"(step 3)", "" ..."""
    phase: str
    message: str
    metrics: tuple[MetricView, ...]


def template_refs(rollout: Obj) -> dict[str, list[tuple[str, bool]]]:
    """run name -> the (templateName, clusterScope) its metrics come from, as the spec says
    (the run names are the controller's: rollout.analysis.gates)."""
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    found: dict[str, Obj] = {}
    canary = strategy.get("canary") or {}
    for index, step in enumerate(canary.get("steps") or []):
        if isinstance(step, dict) and step.get("analysis"):
            found[step_run(index)] = step["analysis"]
    if canary.get("analysis"):
        found[BACKGROUND_RUN] = canary["analysis"]
    blue_green = strategy.get("blueGreen") or {}
    for run, field in (
        (PRE_PROMOTION_RUN, "prePromotionAnalysis"),
        (POST_PROMOTION_RUN, "postPromotionAnalysis"),
    ):
        if blue_green.get(field):
            found[run] = blue_green[field]
    return {
        run: [
            (str(t.get("templateName", "")), bool(t.get("clusterScope")))
            for t in analysis.get("templates") or []
        ]
        for run, analysis in found.items()
    }


def metric_conditions(templates: list[Obj]) -> dict[str, dict[str, str | None]]:
    """metric name -> its successCondition / failureCondition, over the given templates."""
    conditions: dict[str, dict[str, str | None]] = {}
    for template in templates:
        for metric in (template.get("spec") or {}).get("metrics") or []:
            conditions[str(metric.get("name", ""))] = {
                "successCondition": metric.get("successCondition"),
                "failureCondition": metric.get("failureCondition"),
            }
    return conditions


def run_views(
    status: Obj, conditions: Mapping[str, Mapping[str, dict[str, str | None]]]
) -> list[RunView]:
    """`conditions`: run name -> metric name -> its conditions (from `metric_conditions`)."""
    views = []
    for run in status.get("analysisRuns") or []:
        name = str(run.get("name", "?"))
        where = f"(step {run['step'] + 1})" if run.get("step") is not None else ""
        metrics = tuple(
            _metric_view(name, metric, (conditions.get(name) or {}).get(metric.get("name", "")))
            for metric in run.get("metrics") or []
        )
        views.append(
            RunView(name, where, str(run.get("phase", "?")), str(run.get("message", "")), metrics)
        )
    return views


def _metric_view(run: str, metric: Obj, conditions: Mapping[str, str | None] | None) -> MetricView:
    measurements = list(metric.get("measurements") or [])
    last = measurements[-1] if measurements else {}
    threshold = threshold_of(conditions or {})
    if threshold is None and run in (RELEASE_GATE_RUN, STEP_GATE_RUN):
        threshold = _gate_threshold(run, last.get("metadata") or {})
    return MetricView(
        run=run,
        name=str(metric.get("name", "?")),
        phase=str(metric.get("phase", "?")),
        values=tuple(_number(m.get("value")) for m in measurements),
        phases=tuple(str(m.get("phase", "")) for m in measurements),
        threshold=threshold,
        last=str(last.get("value")) if last.get("value") is not None else "-",
        message=str(last.get("message", "")),
    )


def _gate_threshold(run: str, metadata: Mapping[str, str]) -> Threshold | None:
    """The SLO gates have no condition: their values are judged against figures they record.
    The release gate's value is the budget remaining (open at minBudgetRemaining or more); the
    step gate's is the canary's bad ratio (a fast burn above fastBurnThreshold rolls back)."""
    release = run == RELEASE_GATE_RUN
    key, op = ("minBudgetRemaining", ">=") if release else ("fastBurnThreshold", "<")
    value = _number(metadata.get(key))
    return None if value is None else Threshold(op, value, key)


def _number(value: object) -> float | None:
    try:
        number = float(str(value))
    except ValueError:
        return None
    return number if math.isfinite(number) else None


# -- SLO gates ----------------------------------------------------------------------------------
@dataclass(frozen=True)
class SLOView:
    slo: str
    gate: str
    """release | step"""
    budget_remaining: float | None
    """fraction of the error budget left over the SLO window"""
    min_budget_remaining: float | None
    burn_rates: tuple[tuple[str, float | None], ...]
    """(window, burn rate: 1.0 spends the budget exactly over the SLO window)"""
    reason: str
    message: str


def slo_views(status: Obj) -> list[SLOView]:
    """One per SLO gate metric that has a measurement, from the figures it recorded."""
    views = []
    for run in status.get("analysisRuns") or []:
        gate = {RELEASE_GATE_RUN: "release", STEP_GATE_RUN: "step"}.get(run.get("name", ""))
        if gate is None:
            continue
        for metric in run.get("metrics") or []:
            measurements = metric.get("measurements") or []
            if not measurements:
                continue
            last = measurements[-1]
            figures: Mapping[str, str] = last.get("metadata") or {}
            views.append(
                SLOView(
                    slo=str(metric.get("name", "?")),
                    gate=gate,
                    budget_remaining=_number(figures.get("budgetRemaining")),
                    min_budget_remaining=_number(figures.get("minBudgetRemaining")),
                    burn_rates=_burn_rates(figures, gate),
                    reason=str(figures.get("reason", "")),
                    message=str(last.get("message", "")),
                )
            )
    return views


def _burn_rates(figures: Mapping[str, str], gate: str) -> tuple[tuple[str, float | None], ...]:
    if gate == "release":  # burnRate5m, burnRate1h ...: shortest window first
        rates = [
            (key.removeprefix("burnRate"), _number(value))
            for key, value in figures.items()
            if key.startswith("burnRate")
        ]
        return tuple(sorted(rates, key=lambda r: _seconds(r[0])))
    budget = _number(figures.get("errorBudget"))  # step gate: each slice's bad ratio / budget
    shown = []
    for side in ("canary", "stable"):
        ratio = _number(figures.get(f"{side}Ratio"))
        rate = ratio / budget if ratio is not None and budget else None
        shown.append((side, rate))
    return tuple(shown)


def _seconds(window: str) -> int:
    total = 0
    for amount, unit in re.findall(r"(\d+)([smhdw])", window):
        total += int(amount) * {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}[unit]
    return total


# -- the sparkline ------------------------------------------------------------------------------
def sparkline(
    values: tuple[float | None, ...], phases: tuple[str, ...], threshold: Threshold | None
) -> Text:
    """One bar per measurement, coloured by its phase, on a scale that includes the threshold
    (Textual's Sparkline scales between the data's own minimum and maximum, which would hide
    how far the values are from it); then the threshold's own bar, dim, after a separator.
    No number: a blank."""
    numbers = [v for v in values if v is not None]
    if threshold is not None:
        numbers.append(threshold.value)
    text = Text()
    if not numbers:
        return text
    low, high = min(numbers), max(numbers)

    def bar(value: float) -> str:
        if high == low:
            return BARS[len(BARS) // 2]
        return BARS[round((value - low) / (high - low) * (len(BARS) - 1))]

    for value, phase in zip(values, phases, strict=True):
        text.append(" " if value is None else bar(value), style=PHASE_STYLES.get(phase, ""))
    if threshold is not None:
        text.append(" │", style="bright_black")
        text.append(bar(threshold.value), style="dim")
    return text
