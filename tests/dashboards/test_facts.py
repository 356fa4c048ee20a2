"""The dashboard's facts without a screen: thresholds read from conditions, the sparkline's
scale, and the change buffer that coalesces watch events."""

from __future__ import annotations

import pytest

from dashboards.analysis import Threshold, parse_threshold, slo_views, sparkline
from dashboards.watch import Changes


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("result >= 0.99", Threshold(">=", 0.99, "successCondition")),
        ("result<300", Threshold("<", 300.0, "successCondition")),
        ("0.95 > result", Threshold("<", 0.95, "successCondition")),  # read as result < 0.95
        ("result == 1e-3", Threshold("==", 0.001, "successCondition")),
        ("result > 0.9 && result < 1.0", None),  # no single line to draw
        ("result[0] >= 0.99", None),
        ("size(result) > 2", None),
        ("", None),
    ],
)
def test_a_threshold_is_read_only_from_a_simple_comparison(
    condition: str, expected: Threshold | None
) -> None:
    assert parse_threshold(condition, "successCondition") == expected


def test_the_sparkline_scale_includes_the_threshold_and_bars_take_their_phases_colour() -> None:
    shown = sparkline(
        (0.999, None, 0.95), ("Successful", "NoData", "Failed"), Threshold(">=", 0.99, "s")
    )
    assert shown.plain == "█ ▁ │▇"  # 0.95 is the bottom, 0.999 the top, 0.99 just under it
    colours = [str(span.style) for span in shown.spans]
    assert colours[0] == "green" and "red" in colours


def test_slo_figures_are_read_from_the_gates_measurements() -> None:
    metadata = {"reason": "BudgetOK", "budgetRemaining": "0.5", "minBudgetRemaining": "0.25"}
    metadata |= {"burnRate1h": "2", "burnRate5m": "3.5", "burnRate6h": "none"}
    measurement = {"phase": "Successful", "value": "0.5", "metadata": metadata}
    run = {"name": "release-gate", "metrics": [{"name": "api", "measurements": [measurement]}]}
    (view,) = slo_views({"analysisRuns": [run]})
    assert (view.slo, view.gate, view.budget_remaining) == ("api", "release", 0.5)
    assert view.burn_rates == (("5m", 3.5), ("1h", 2.0), ("6h", None))  # shortest first


def test_a_burst_of_events_for_one_rollout_becomes_one_change() -> None:
    changes = Changes()
    for version in range(100):
        changes.put({"metadata": {"namespace": "ns", "name": "a", "resourceVersion": str(version)}})
    changes.put({"metadata": {"namespace": "ns", "name": "b"}}, deleted=True)
    batch = changes.take()
    assert list(batch.changed) == ["ns/a", "ns/b"]
    assert batch.changed["ns/a"]["metadata"]["resourceVersion"] == "99"  # type: ignore[index]
    assert batch.changed["ns/b"] is None
    assert not changes.take()  # drained
