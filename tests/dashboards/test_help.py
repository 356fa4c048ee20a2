"""`?` lists every key binding of the screen and of the app, from their BINDINGS."""

from __future__ import annotations

import re

from dashboards.actions import ACTIONS
from dashboards.app import DashboardApp
from dashboards.screens.rollout_detail import RolloutDetailScreen
from dashboards.screens.rollout_list import RolloutListScreen
from tests.dashboards.pilot import dashboard, run, screen_text, until
from tests.e2e.harness import Cluster


def test_help_lists_every_binding_and_closes(cluster: Cluster) -> None:
    cluster.create("shop")

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await pilot.press("question_mark")
            await until(pilot, lambda: "Actions on the selected rollout" in screen_text(app))
            shown = screen_text(app)
            for action in ACTIONS.values():
                assert re.search(rf"\b{action.key}\s+{re.escape(action.description)}", shown)
            for binding in (*RolloutListScreen.BINDINGS, *DashboardApp.BINDINGS):
                assert binding.tooltip in shown  # type: ignore[union-attr]
            for title in ("List", "Everywhere"):
                assert title in shown
            await pilot.press("escape")
            await until(pilot, lambda: "Actions on the selected" not in screen_text(app))

            await pilot.press("enter")  # the detail screen's own keys
            await until(pilot, lambda: "Revisions" in screen_text(app), what="the detail")
            await pilot.press("question_mark")
            await until(pilot, lambda: "Detail" in screen_text(app), what="the detail's help")
            shown = screen_text(app)
            assert RolloutDetailScreen.BINDINGS[0].tooltip in shown  # type: ignore[union-attr]
            assert "filter" not in shown  # the list's keys do not apply here

    run(scenario)
