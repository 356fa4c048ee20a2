"""Classifying one observation into a measurement phase, with CEL conditions.

CEL (the Common Expression Language Kubernetes uses for validation rules) is evaluated by
`cel-python`: a sandboxed, side-effect-free interpreter, never Python's `eval`. The expression
sees one variable, `result`: the number (Prometheus) or JSON value (web) the provider observed.

The rules, in order (documented in the README, and different from Argo where Argo surprises):
1. No data (empty vector, NaN, no JSONPath match) is never compared: the measurement is NoData,
   which counts as the metric's `noData` policy says (Inconclusive by default). Argo compares
   NaN and fails; Flagger fails; we do neither.
2. A provider error is Error (counted against consecutiveErrorLimit), never a failure.
3. A provider's own verdict (a Job, `compare`, the SLO gates) is Successful / Failed /
   Inconclusive; conditions, if any, are ignored.
4. failureCondition true -> Failed (checked first: "both hold" is a failure, as in Argo).
5. successCondition true -> Successful; false -> Failed when there is no failureCondition,
   Inconclusive when there is one (neither held: the value is in the grey zone between them).
6. Only failureCondition, and it is false -> Successful.
7. No condition at all (allowed only with dryRun for value providers) -> Successful, recorded.
An expression that cannot be evaluated (a type mismatch such as `result > "a"`, a missing field)
is Error with CEL's message: the spec is wrong, and that must be seen, not guessed around.
"""

from __future__ import annotations

import math

from rollout.analysis.cel import ConditionError, evaluate
from rollout.analysis.provider import Observation, Outcome
from rollout.models.analysis import Metric
from rollout.models.analysis_status import MeasurementPhase


def classify(metric: Metric, observation: Observation) -> tuple[MeasurementPhase, str]:
    """(phase, why) for one observation of `metric`."""
    outcome = observation.outcome
    if outcome is Outcome.NO_DATA:
        return MeasurementPhase.NO_DATA, observation.message or "no data"
    if outcome is Outcome.ERROR:
        return MeasurementPhase.ERROR, observation.message or "provider error"
    if outcome is Outcome.RUNNING:
        return MeasurementPhase.RUNNING, observation.message or "running"
    if outcome is Outcome.SUCCEEDED:
        return MeasurementPhase.SUCCESSFUL, observation.message or "succeeded"
    if outcome is Outcome.FAILED:
        return MeasurementPhase.FAILED, observation.message or "failed"
    if outcome is Outcome.INCONCLUSIVE:
        return MeasurementPhase.INCONCLUSIVE, observation.message or "inconclusive"

    value = observation.value
    if isinstance(value, float) and math.isnan(value):
        # Providers report NaN as no data; this guards a third-party provider that does not.
        return MeasurementPhase.NO_DATA, "NaN (no data: usually 0/0)"
    shown = observation.display if observation.display is not None else repr(value)
    failure, success = metric.failure_condition, metric.success_condition
    try:
        if failure and evaluate(failure, value):
            return MeasurementPhase.FAILED, f"{shown}: failureCondition `{failure}` holds"
        if success:
            if evaluate(success, value):
                return MeasurementPhase.SUCCESSFUL, f"{shown}: successCondition `{success}` holds"
            if failure:
                return (
                    MeasurementPhase.INCONCLUSIVE,
                    f"{shown}: neither `{success}` nor `{failure}` holds",
                )
            return MeasurementPhase.FAILED, f"{shown}: successCondition `{success}` does not hold"
        if failure:
            return MeasurementPhase.SUCCESSFUL, f"{shown}: failureCondition `{failure}` not met"
    except ConditionError as error:
        return MeasurementPhase.ERROR, str(error)
    return MeasurementPhase.SUCCESSFUL, f"{shown}: recorded (no conditions)"
