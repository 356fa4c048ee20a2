"""rollout.analysis.score: Keptn's total-score formula, key objectives and the no-data rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rollout.analysis.score import ObjectiveResult, ObjectiveStatus, score


def obj(
    status: ObjectiveStatus, weight: int = 1, key: bool = False, name: str = "m"
) -> ObjectiveResult:
    return ObjectiveResult(name=name, value="1", status=status, weight=weight, key=key)


def test_all_pass_scores_100() -> None:
    result = score([obj("pass"), obj("pass", weight=3)])
    assert result.total == 100.0
    assert result.result == "pass"
    assert "2 pass" in result.message


def test_warning_counts_half_and_fail_zero() -> None:
    # Keptn: (1 + 0.5 + 0) / 3 * 100 = 50.
    result = score([obj("pass"), obj("warning"), obj("fail")])
    assert result.total == pytest.approx(50.0)
    assert result.result == "fail"


def test_weights() -> None:
    # (3 * 1 + 1 * 0.5) / 4 * 100 = 87.5: a warning between 75 and 90.
    result = score([obj("pass", weight=3), obj("warning", weight=1)])
    assert result.total == pytest.approx(87.5)
    assert result.result == "warning"
    assert "87.5/100" in result.message
    assert "pass >= 90" in result.message
    assert "warning >= 75" in result.message


def test_thresholds_are_inclusive() -> None:
    # 9 of 10 pass: exactly 90.
    assert score([obj("pass")] * 9 + [obj("fail")]).result == "pass"
    # 3 of 4 pass: exactly 75.
    assert score([obj("pass")] * 3 + [obj("fail")]).result == "warning"
    assert score([obj("pass")] * 3 + [obj("fail")], warning_threshold=76).result == "fail"


def test_no_data_scores_zero() -> None:
    result = score([obj("pass"), obj("no-data")])
    assert result.total == pytest.approx(50.0)
    assert result.result == "fail"
    assert "1 no-data" in result.message


def test_failing_key_objective_fails_whatever_the_total() -> None:
    objectives = [obj("pass", weight=100), obj("fail", key=True, name="error-rate")]
    result = score(objectives)
    assert result.total > 99
    assert result.result == "fail"
    assert "key objective failed: error-rate" in result.message


def test_key_objective_with_a_warning_does_not_fail() -> None:
    result = score([obj("pass", weight=9), obj("warning", key=True)])
    assert result.total == pytest.approx(95.0)
    assert result.result == "pass"


def test_key_objective_without_data_cannot_pass_but_does_not_fail() -> None:
    result = score([obj("pass", weight=99), obj("no-data", key=True, name="latency")])
    assert result.total == pytest.approx(99.0)
    assert result.result == "warning"
    assert "key objective has no data: latency" in result.message


def test_all_no_data_is_a_warning_never_a_pass() -> None:
    result = score([obj("no-data"), obj("no-data", weight=5)])
    assert result.result == "warning"
    assert result.total == 0.0
    assert "every objective has no data" in result.message


def test_nothing_to_score_is_a_warning() -> None:
    assert score([]).result == "warning"
    assert "no objectives" in score([]).message
    zero = score([obj("pass", weight=0)])
    assert zero.result == "warning"
    assert "weight 0" in zero.message


def test_invalid_inputs() -> None:
    with pytest.raises(ValueError, match="weight"):
        obj("pass", weight=-1)
    with pytest.raises(ValueError, match="threshold"):
        score([obj("pass")], pass_threshold=70, warning_threshold=80)


statuses = st.sampled_from(["pass", "warning", "fail", "no-data"])
objectives = st.lists(
    st.builds(obj, statuses, st.integers(0, 10), st.booleans()), min_size=1, max_size=20
)


@given(objectives)
def test_score_properties(objs: list[ObjectiveResult]) -> None:
    result = score(objs)
    assert 0.0 <= result.total <= 100.0
    weights = sum(o.weight for o in objs)
    if weights and any(o.status != "no-data" for o in objs):
        credit = {"pass": 1.0, "warning": 0.5, "fail": 0.0, "no-data": 0.0}
        expected = 100 * sum(credit[o.status] * o.weight for o in objs) / weights
        assert result.total == pytest.approx(expected)
    if any(o.key and o.status == "fail" for o in objs):
        assert result.result == "fail"
    if result.result == "pass":
        assert all(o.status != "no-data" for o in objs if o.key)
        assert any(o.status == "pass" for o in objs)


def test_failing_key_objective_fails_even_with_nothing_else_to_score() -> None:
    result = score([obj("fail", weight=0, key=True, name="crashes"), obj("no-data")])
    assert result.result == "fail"
    assert "crashes" in result.message
