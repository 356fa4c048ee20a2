"""Snapshots of the list, detail and help screens, on fixed rollouts (tests.dashboards.fixed)
and a fixed clock, so ages and countdowns are the same on every run. After a deliberate change
of the screens: `pytest tests/dashboards/test_snapshots.py --snapshot-update`, look at the SVGs
in __snapshots__/, commit them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from textual.pilot import Pilot

from dashboards.analysis import template_refs
from dashboards.app import DashboardApp
from dashboards.screens.rollout_detail import RolloutDetailScreen
from tests.dashboards.fixed import populate
from tests.dashboards.pilot import FIXED_NOW, SIZE, until
from tests.dashboards.pilot import listed as table_of
from tests.e2e.harness import Cluster

Compare = Callable[..., bool]


@pytest.fixture
def fixed(cluster: Cluster, monkeypatch: pytest.MonkeyPatch) -> Iterator[Cluster]:
    # A terminal that asks for no colour (NO_COLOR) makes Textual draw in monochrome; the
    # snapshots are of the coloured screens, wherever the tests run.
    monkeypatch.delenv("NO_COLOR", raising=False)
    populate(cluster)
    yield cluster


def app_on(cluster: Cluster) -> DashboardApp:
    return DashboardApp(cluster.api, namespace=None, clock=lambda: FIXED_NOW)


async def listed(pilot: Pilot[Any]) -> None:
    app = pilot.app
    assert isinstance(app, DashboardApp)
    await until(pilot, lambda: app.store.loaded and len(table_of(app).rows_shown) == 5)


def opened(row_keys: int) -> Callable[[Pilot[Any]], Any]:
    """Down `row_keys` rows, Enter; until the events and the templates' thresholds are read."""

    async def run_before(pilot: Pilot[Any]) -> None:
        await listed(pilot)
        await pilot.press(*["down"] * row_keys, "enter")
        app = pilot.app

        def read() -> bool:
            screen = app.screen
            return (
                isinstance(screen, RolloutDetailScreen)
                and screen.events is not None
                and screen.conditions.keys() == template_refs(screen.rollout or {}).keys()
            )

        await until(pilot, read, what="the detail's events and templates")

    return run_before


def test_list_screen(fixed: Cluster, snap_compare: Compare) -> None:
    """Every rollout of both namespaces: phases, steps and stages, weights, images, ages."""
    assert snap_compare(app_on(fixed), terminal_size=SIZE, run_before=listed)


def test_detail_screen_of_a_canary_mid_steps(fixed: Cluster, snap_compare: Compare) -> None:
    """checkout at its 5m pause (2m left), after an analysis step; SLO gates; events."""
    assert snap_compare(app_on(fixed), terminal_size=SIZE, run_before=opened(0))


def test_detail_screen_of_a_blue_green_paused_for_promotion(
    fixed: Cluster, snap_compare: Compare
) -> None:
    """pay: the preview is ready, the switch waits for `rollout promote`."""
    assert snap_compare(app_on(fixed), terminal_size=SIZE, run_before=opened(3))


def test_help_screen(fixed: Cluster, snap_compare: Compare) -> None:
    async def run_before(pilot: Pilot[Any]) -> None:
        await listed(pilot)
        await pilot.press("question_mark")
        await until(pilot, lambda: pilot.app.screen.query("#help-keys"))

    assert snap_compare(app_on(fixed), terminal_size=SIZE, run_before=run_before)
