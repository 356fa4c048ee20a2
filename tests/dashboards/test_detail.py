"""The detail screen against the sandbox and the controller: a canary mid-steps (countdown,
weights, revisions, events), a canary's analysis (measurements against the threshold), a
blue-green paused for promotion."""

from __future__ import annotations

import re
from typing import Any

from rollout.kube.kinds import ANALYSIS_TEMPLATES
from rollout.reconciler.controller import Controller
from tests.dashboards.pilot import dashboard, run, screen_text, until
from tests.e2e.harness import NS, Cluster
from tests.e2e.test_canary import rev
from tests.e2e.test_routing import ROUTING, STEPS, VIRTUAL_SERVICES, virtual_service
from tests.http_far import serving
from tests.meshes import upstream


def text_of(app: Any, selector: str) -> str:
    """A panel of the current screen, as shown (its region of the screen)."""
    widget = app.screen.query_one(selector)
    region = widget.region
    lines = screen_text(app).splitlines()[region.y : region.y + region.height]
    return "\n".join(line[region.x : region.x + region.width] for line in lines)


def test_a_canary_mid_steps_shows_its_steps_countdown_traffic_revisions_and_events(
    cluster: Cluster, controller: Controller
) -> None:
    steps = [{"setWeight": 20}, {"pause": {"duration": "30s"}}, {"setWeight": 50}, {"pause": {}}]
    cluster.create("shop", "shop:v1", steps=steps)
    cluster.wait_phase("shop", "Healthy")
    cluster.api.set_image(NS, "shop", "app", "shop:v2")
    cluster.wait_step("shop", 1)

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await pilot.press("enter")
            await until(pilot, lambda: "Revisions" in screen_text(app), what="the detail screen")
            await until(pilot, lambda: "NewRevision" in text_of(app, "#events"), what="events")
            steps_shown = text_of(app, "#steps")
            assert "✓ 1. setWeight 20" in steps_shown
            left = re.search(r"> 2\. pause 30s\s+<- current, (\d+)s left", steps_shown)
            assert left is not None, steps_shown
            assert "  3. setWeight 50" in steps_shown
            assert "Paused" in text_of(app, "#summary")
            assert "step 2/4 pause 30s" in text_of(app, "#summary")
            traffic = text_of(app, "#traffic")
            assert "stable  80%" in traffic and " 20% canary" in traffic
            revisions = text_of(app, "#revisions")
            assert re.search(r"2\s+\w+\s+shop:v2\s+canary\s+1/1", revisions), revisions
            assert re.search(r"1\s+\w+\s+shop:v1\s+stable\s+4/4", revisions), revisions
            assert "StepCompleted" in text_of(app, "#analysis")  # the last decision's history

            # the countdown moves with the clock
            await until(
                pilot,
                lambda: f"{int(left.group(1)) - 1}s left" in text_of(app, "#steps"),
                what="the countdown",
            )
            await pilot.press("escape")
            await until(pilot, lambda: "STABLE IMAGE" in screen_text(app), what="the list")

    run(scenario)


def test_analysis_shows_each_metrics_measurements_against_its_threshold(
    cluster: Cluster, controller: Controller
) -> None:
    with serving() as far:
        url = far.answer("/success-rate", {"value": 0.995})
        cluster.kube.create(
            ANALYSIS_TEMPLATES,
            {
                "apiVersion": "rollout.dev/v1alpha1",
                "kind": "AnalysisTemplate",
                "metadata": {"name": "success-rate"},
                "spec": {
                    "metrics": [
                        {
                            "name": "success-rate",
                            "provider": {"web": {"url": url, "jsonPath": "$.value"}},
                            "interval": "1s",
                            "count": 3,
                            "successCondition": "result >= 0.99",
                            "failureCondition": "result < 0.95",
                        }
                    ]
                },
            },
            namespace=NS,
        )
        analysis = {"analysis": {"templates": [{"templateName": "success-rate"}]}}
        cluster.create("shop", steps=[{"setWeight": 20}, analysis, {"pause": {}}])
        cluster.wait_phase("shop", "Healthy")
        cluster.api.set_image(NS, "shop", "app", "app:v2")
        cluster.wait_step("shop", 2, timeout=20)

        async def scenario() -> None:
            async with dashboard(cluster.api) as (app, pilot):
                await pilot.press("enter")
                await until(
                    pilot, lambda: "≥ 0.99" in text_of(app, "#analysis"), what="the threshold"
                )
                shown = text_of(app, "#analysis")
                assert "step-1 (step 2)  Successful" in shown
                # three measurements, all at the same height (0.995) against the threshold's bar
                line = next(line for line in shown.splitlines() if "≥" in line)
                assert re.search(
                    r"success-rate\s+(.)\1\1 │.\s+≥ 0\.99\s+0\.995\s+Successful", line
                ), line
                assert "✓ 2. analysis success-rate" in text_of(app, "#steps")

        run(scenario)


def test_a_blue_green_paused_for_promotion_shows_its_stages_and_promote_switches_it(
    cluster: Cluster, controller: Controller
) -> None:
    cluster.create_blue_green("pay", "pay:v1", blue_green={"autoPromotionEnabled": False})
    cluster.wait_phase("pay", "Healthy")
    cluster.api.set_image(NS, "pay", "app", "pay:v2")
    paused = cluster.wait_phase("pay", "Paused")
    v1, v2 = paused["status"]["stableRevision"], paused["status"]["currentRevision"]

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await pilot.press("enter")
            await until(pilot, lambda: "Stages" in screen_text(app), what="the detail screen")
            stages = text_of(app, "#steps")
            assert "✓ 1. preview (3 pods)" in stages
            assert re.search(
                r"> 2\. switch \(on rollout promote\)\s+<- current, waiting for promote", stages
            )
            assert "  3. promoted (old revision scales down after 1s)" in stages
            summary = text_of(app, "#summary")
            assert (
                f"Waiting for: promote (rollout promote pay) to switch traffic to {v2}" in summary
            )
            assert f"Active:      {v1} (stable)" in summary
            assert "blueGreen (active Service pay-active, preview Service pay-preview" in summary
            revisions = text_of(app, "#revisions")
            assert re.search(rf"2\s+{v2}\s+pay:v2\s+new,preview\s+3/3", revisions), revisions
            assert re.search(rf"1\s+{v1}\s+pay:v1\s+stable,active\s+3/3", revisions), revisions

            await pilot.press("P")
            await until(pilot, lambda: "Promote pay?" in screen_text(app), what="the dialog")
            await pilot.press("y")
            await until(
                pilot,
                lambda: cluster.status("pay").get("stableRevision") == v2,
                what="the switch",
            )
            await until(pilot, lambda: "Healthy" in text_of(app, "#summary"), what="Healthy")
            assert "✓ 2. switch (on rollout promote)" in text_of(app, "#steps")

    run(scenario)


def test_a_baseline_behind_a_router_shows_its_share_in_the_traffic_bar(
    cluster: Cluster, controller: Controller
) -> None:
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    cluster.kube.create(VIRTUAL_SERVICES, virtual_service(), namespace=NS)
    cluster.create_service("app-baseline", app="app")
    canary = {"trafficRouting": ROUTING, "baseline": True, "baselineService": "app-baseline"}
    cluster.create("app", steps=STEPS, canary=canary)
    cluster.wait_phase("app", "Healthy")
    cluster.api.set_image(NS, "app", "app", "app:v2")
    cluster.wait_step("app", 1)
    baseline = f"{rev('app:v1')}-baseline"

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await pilot.press("enter")
            await until(pilot, lambda: "Revisions" in screen_text(app), what="the detail screen")
            await until(pilot, lambda: "baseline" in text_of(app, "#traffic"), what="weights")
            traffic = text_of(app, "#traffic")
            assert "stable  60%" in traffic and " 20% canary, 20% baseline" in traffic
            assert baseline in traffic

    run(scenario)
