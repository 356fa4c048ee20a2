"""The list screen against the sandbox: what it shows, live updates from the watch (resumed,
never relisted or polled), a refused list shown and retried, the filter, the sort."""

from __future__ import annotations

from textual.coordinate import Coordinate

from dashboards.app import DashboardApp
from rollout.kube import ROLLOUTS
from rollout.reconciler.controller import Controller
from tests.dashboards.pilot import SIZE, dashboard, listed, run, screen_text, until
from tests.e2e.harness import NS, Cluster


def rows(app: DashboardApp) -> list[str]:
    """The keys of the rows shown, in order."""
    table = listed(app)
    return [
        str(table.coordinate_to_cell_key(Coordinate(i, 0)).row_key.value)
        for i in range(table.row_count)
    ]


def test_the_list_shows_every_rollout_and_follows_a_release_live(
    cluster: Cluster, controller: Controller
) -> None:
    cluster.create("shop", "shop:v1")
    cluster.create_blue_green("pay", "pay:v1")
    cluster.wait_phase("shop", "Healthy")
    cluster.wait_phase("pay", "Healthy")

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            table = listed(app)
            await until(pilot, lambda: len(table.rows_shown) == 2, what="two rows")
            assert rows(app) == [f"{NS}/pay", f"{NS}/shop"]  # sorted by name
            shop = {c: table.cell_text(f"{NS}/shop", c) for c in ("phase", "strategy", "step")}
            assert shop == {"phase": "Healthy", "strategy": "canary", "step": "4/4"}
            assert table.cell_text(f"{NS}/shop", "stable") == "shop:v1"
            assert table.cell_text(f"{NS}/pay", "strategy") == "blueGreen"
            assert table.cell_text(f"{NS}/pay", "step") == "done"
            await until(
                pilot,
                lambda: all(t in screen_text(app) for t in ("shop:v1", "pay:v1", "Healthy")),
                what="the rows drawn",
            )

            # a release: the row follows it (phase, step, weight, images, what it waits for)
            cluster.api.set_image(NS, "shop", "app", "shop:v2")
            await until(
                pilot,
                lambda: (
                    table.cell_text(f"{NS}/shop", "step") == "4/4"
                    and table.cell_text(f"{NS}/shop", "phase") == "Paused"
                ),
                what="shop at its manual pause",
            )
            assert table.cell_text(f"{NS}/shop", "canary") == "shop:v2"
            assert table.cell_text(f"{NS}/shop", "stable") == "shop:v1"
            assert table.cell_text(f"{NS}/shop", "weight") == "60%"
            assert "waiting for promote" in table.cell_text(f"{NS}/shop", "waiting")
            await until(pilot, lambda: "██████░░░░  60%" in screen_text(app), what="the bar")

            # a new rollout appears, a deleted one goes
            cluster.create("cart", "cart:v1")
            await until(pilot, lambda: f"{NS}/cart" in table.rows_shown, what="cart appears")
            assert rows(app) == [f"{NS}/cart", f"{NS}/pay", f"{NS}/shop"]
            cluster.kube.delete(ROLLOUTS, "pay", namespace=NS)
            await until(pilot, lambda: f"{NS}/pay" not in table.rows_shown, what="pay goes")
            await until(pilot, lambda: "2 of 2 rollouts" in screen_text(app))

    run(scenario)


def test_the_watch_resumes_from_where_it_was_and_never_lists_again(cluster: Cluster) -> None:
    """Streams renewed every second (watch_timeout) and one dropped by the server: every change
    arrives, from one list and resumed watches (each from a resourceVersion), never a poll."""
    cluster.create("shop")
    cluster.sandbox.requests.clear()

    async def scenario() -> None:
        async with dashboard(cluster.api, watch_timeout=1) as (app, pilot):
            table = listed(app)
            for image in ("shop:v2", "shop:v3"):
                await pilot.pause(1.2)  # past a renewal
                cluster.api.set_image(NS, "shop", "app", image)
                await until(
                    pilot,
                    lambda image=image: table.cell_text(f"{NS}/shop", "stable") == image,  # type: ignore[misc]
                    what=image,
                )
            assert cluster.sandbox.drop_watches(abrupt=True) >= 1
            cluster.api.set_image(NS, "shop", "app", "shop:v4")
            await until(pilot, lambda: table.cell_text(f"{NS}/shop", "stable") == "shop:v4")

    run(scenario)
    rollouts = [r for r in cluster.sandbox.requests.entries() if r.resource == "rollouts"]
    lists = [r for r in rollouts if r.verb == "list"]
    watches = [r for r in rollouts if r.verb == "watch"]
    assert len(lists) == 1
    assert len(watches) >= 3
    assert all("resourceVersion=" in w.query for w in watches)


def test_typing_a_filter_keeps_the_rows_that_match_every_word(cluster: Cluster) -> None:
    for name, image in (("alpha", "web:v1"), ("beta", "web:v2"), ("gamma", "api:v2")):
        cluster.create(name, image)

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            table = listed(app)
            await until(pilot, lambda: len(table.rows_shown) == 3)
            await pilot.press("slash", *"bet")
            await until(pilot, lambda: rows(app) == [f"{NS}/beta"], what="only beta")
            await until(pilot, lambda: "1 of 3 rollouts" in screen_text(app))
            await pilot.press("escape")  # clears the filter
            await until(pilot, lambda: len(rows(app)) == 3, what="every row again")
            await pilot.press("slash", *"v2 canary", "enter")  # every word must match
            await until(pilot, lambda: rows(app) == [f"{NS}/beta", f"{NS}/gamma"])
            # a change that stops matching takes the row out, live
            cluster.api.set_image(NS, "gamma", "app", "api:v3")
            await until(pilot, lambda: rows(app) == [f"{NS}/beta"], what="gamma filtered out")

    run(scenario)


def test_sorting_by_column_and_reversing(cluster: Cluster) -> None:
    phases = {"alpha": "Paused", "beta": "Degraded", "gamma": "Healthy"}
    for name, phase in phases.items():
        cluster.create(name)
        cluster.kube.patch(ROLLOUTS, name, {"status": {"phase": phase}}, namespace=NS, sub="status")

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            table = listed(app)
            await until(pilot, lambda: len(table.rows_shown) == 3)
            assert rows(app) == [f"{NS}/alpha", f"{NS}/beta", f"{NS}/gamma"]
            await pilot.press("s")  # name -> phase
            assert rows(app) == [f"{NS}/beta", f"{NS}/gamma", f"{NS}/alpha"]
            await until(pilot, lambda: "sorted by PHASE ↑" in screen_text(app))
            await pilot.press("S")
            assert rows(app) == [f"{NS}/alpha", f"{NS}/gamma", f"{NS}/beta"]
            await until(pilot, lambda: "sorted by PHASE ↓" in screen_text(app))
            # the order follows changes of the sort column
            cluster.kube.patch(
                ROLLOUTS, "beta", {"status": {"phase": "Progressing"}}, namespace=NS, sub="status"
            )
            await until(
                pilot,
                lambda: rows(app) == [f"{NS}/beta", f"{NS}/alpha", f"{NS}/gamma"],
                what="beta re-sorted",
            )

    run(scenario)


def test_a_refused_list_is_shown_and_retried_until_it_works(cluster: Cluster) -> None:
    cluster.create("shop")
    cluster.sandbox.faults.add(verb="list", resource="rollouts", code=403, count=2)

    async def scenario() -> None:
        app = DashboardApp(cluster.api, namespace=NS)
        async with app.run_test(size=SIZE) as pilot:
            await until(pilot, lambda: "403 Forbidden" in screen_text(app), what="the refusal")
            assert "watch rollouts: list" in screen_text(app)
            await until(pilot, lambda: f"{NS}/shop" in listed(app).rows_shown, what="the row")
            await until(pilot, lambda: "403" not in screen_text(app), what="the refusal gone")

    run(scenario)
