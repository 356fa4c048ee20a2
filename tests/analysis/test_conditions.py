"""Classifying observations with CEL conditions: the rules in rollout.analysis.conditions."""

from __future__ import annotations

import math
import subprocess
import sys
from typing import Any

import pytest
from pydantic import ValidationError

from rollout.analysis.cel import ConditionError, evaluate
from rollout.analysis.conditions import classify
from rollout.analysis.provider import Observation, Outcome
from rollout.models.analysis import Metric
from rollout.models.analysis_status import MeasurementPhase as P


def metric(**conditions: Any) -> Metric:
    return Metric.model_validate(
        {
            "name": "m",
            "provider": {"prometheus": {"address": "http://p:9090", "query": "q"}},
            **conditions,
        }
    )


def value(v: Any) -> Observation:
    return Observation(Outcome.VALUE, value=v, display=str(v))


BOTH = {"successCondition": "result >= 0.99", "failureCondition": "result < 0.95"}


@pytest.mark.parametrize(
    ("conditions", "observed", "phase"),
    [
        ({"successCondition": "result >= 0.99"}, 0.995, P.SUCCESSFUL),
        ({"successCondition": "result >= 0.99"}, 0.98, P.FAILED),
        ({"failureCondition": "result > 0.01"}, 0.02, P.FAILED),
        ({"failureCondition": "result > 0.01"}, 0.001, P.SUCCESSFUL),
        (BOTH, 0.999, P.SUCCESSFUL),
        (BOTH, 0.90, P.FAILED),
        (BOTH, 0.97, P.INCONCLUSIVE),  # the grey zone between the two
        # Both hold: the failure wins (checked first).
        ({"successCondition": "result > 0", "failureCondition": "result > 0.5"}, 0.7, P.FAILED),
        # +Inf is a value: the conditions decide (here it is far from healthy).
        ({"successCondition": "result <= 0.01"}, math.inf, P.FAILED),
        ({"successCondition": "result.ok == true"}, {"ok": True}, P.SUCCESSFUL),
        ({"dryRun": True}, 0.5, P.SUCCESSFUL),
    ],
)
def test_conditions_classify_values(conditions: dict[str, Any], observed: Any, phase: P) -> None:
    got, why = classify(metric(**conditions), value(observed))
    assert got is phase, why


def test_no_data_is_never_compared() -> None:
    # `result < 1` would hold for a 0 that stands in for "no traffic"; no data is not a number.
    m = metric(successCondition="result < 1")
    assert classify(m, Observation(Outcome.NO_DATA, message="empty vector"))[0] is P.NO_DATA
    assert classify(m, value(math.nan))[0] is P.NO_DATA


def test_provider_verdicts_and_errors_pass_through() -> None:
    job = Metric.model_validate({"name": "smoke", "provider": {"job": {"spec": {}}}})
    assert classify(job, Observation(Outcome.SUCCEEDED))[0] is P.SUCCESSFUL
    assert classify(job, Observation(Outcome.FAILED, message="BackoffLimitExceeded")) == (
        P.FAILED,
        "BackoffLimitExceeded",
    )
    assert classify(job, Observation(Outcome.RUNNING))[0] is P.RUNNING
    assert classify(job, Observation(Outcome.ERROR, message="503"))[0] is P.ERROR


def test_an_expression_that_cannot_be_evaluated_is_an_error_not_a_failure() -> None:
    phase, why = classify(metric(successCondition='result > "a"'), value(1.0))
    assert phase is P.ERROR and "cannot be evaluated" in why
    phase, why = classify(metric(successCondition="result.missing > 1"), value({"x": 1}))
    assert phase is P.ERROR


def test_a_non_boolean_condition_is_an_error() -> None:
    with pytest.raises(ConditionError, match="not true or false"):
        evaluate("result + 1", 1)


def test_syntax_errors_are_found_when_the_spec_is_read() -> None:
    with pytest.raises(ValidationError, match="not a valid CEL expression"):
        metric(successCondition="result >=")


def test_a_value_metric_without_conditions_is_rejected_unless_dry_run() -> None:
    with pytest.raises(ValidationError, match="needs successCondition or failureCondition"):
        metric()
    assert metric(dryRun=True).dry_run


def test_cel_has_no_access_to_python() -> None:
    with pytest.raises(ConditionError):
        evaluate("__import__('os').system('true') == 0", 1)


def test_the_first_cel_evaluation_leaves_the_recursion_limit_as_it_was() -> None:
    """cel-python sets the interpreter's recursion limit when its environment is built (on
    first use); our import sets it first, so that first use changes nothing process-wide (a
    fresh interpreter: this process built its environment long ago)."""
    program = (
        "import sys\n"
        "import rollout.analysis.cel as cel\n"
        "before = sys.getrecursionlimit()\n"
        "assert cel.evaluate('result > 1', 2)\n"
        "print(before, sys.getrecursionlimit())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", program], capture_output=True, text=True, check=True
    )
    before, after = done.stdout.split()
    assert before == after == "2500"
