"""Actions from the dashboard, each after its confirmation dialog, asserted on the Rollout they
leave behind (and on the notification that says so); a cancelled dialog changes nothing; the
API's refusals (ActionError, an injected 403) are shown as they came."""

from __future__ import annotations

from typing import Any

from rollout.reconciler.controller import Controller
from tests.dashboards.pilot import dashboard, listed, run, screen_text, toasts, until
from tests.e2e.harness import NS, Cluster

TIMED = [{"setWeight": 20}, {"pause": {"duration": "60s"}}, {"setWeight": 50}, {"pause": {}}]


def release(cluster: Cluster, *, to_step: int, steps: list[Any] | None = None) -> None:
    """`shop` healthy on app:v1, then app:v2 released and walked to step `to_step`."""
    cluster.create("shop", steps=TIMED if steps is None else steps)
    cluster.wait_phase("shop", "Healthy")
    cluster.api.set_image(NS, "shop", "app", "app:v2")
    cluster.wait_step("shop", to_step)


async def confirm(app: Any, pilot: Any, key: str, question: str, answer: str = "y") -> None:
    """Press `key`, see the dialog ask `question`, answer."""
    await pilot.press(key)
    await until(pilot, lambda: question in screen_text(app), what=f"the dialog: {question}")
    await pilot.press(answer)


async def told(app: Any, pilot: Any, text: str) -> None:
    await until(pilot, lambda: any(text in t for t in toasts(app)), what=f"a toast: {text}")


def test_pause_then_resume(cluster: Cluster, controller: Controller) -> None:
    release(cluster, to_step=1)

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await confirm(app, pilot, "p", "Pause shop? It holds at its current step")
            await told(app, pilot, 'rollout "shop" paused')
            assert cluster.rollout("shop")["spec"]["paused"] is True
            await until(
                pilot,
                lambda: "paused by user" in listed(app).cell_text(f"{NS}/shop", "waiting"),
                what="the row says so",
            )
            await confirm(app, pilot, "r", "Resume shop?")
            await told(app, pilot, 'rollout "shop" resumed')
            assert cluster.rollout("shop")["spec"]["paused"] is False

    run(scenario)


def test_promote_at_the_manual_pause_from_the_detail_screen(
    cluster: Cluster, controller: Controller
) -> None:
    release(
        cluster,
        to_step=3,
        steps=[{"setWeight": 20}, {"setWeight": 40}, {"setWeight": 60}, {"pause": {}}],
    )
    v2 = cluster.status("shop")["currentRevision"]

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await pilot.press("enter")
            await until(pilot, lambda: "Revisions" in screen_text(app), what="the detail")
            await confirm(app, pilot, "P", "Promote shop? The current step")
            await told(app, pilot, 'rollout "shop" promote requested for the current step')
            done = cluster.wait_phase("shop", "Healthy")
            assert done["status"]["stableRevision"] == v2
            assert "StepPromoted" in [h["reason"] for h in done["status"]["history"]]

    run(scenario)


def test_promote_full_skips_the_remaining_steps(cluster: Cluster, controller: Controller) -> None:
    release(cluster, to_step=1)  # a 60 s pause ahead
    v2 = cluster.status("shop")["currentRevision"]

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await confirm(app, pilot, "F", "Promote shop fully?")
            await told(app, pilot, 'rollout "shop" promoted (full)')
            assert (
                cluster.wait_phase("shop", "Healthy", timeout=15)["status"]["stableRevision"] == v2
            )

    run(scenario)


def test_abort_rolls_back_and_retry_starts_again(cluster: Cluster, controller: Controller) -> None:
    release(cluster, to_step=1)
    v1 = cluster.status("shop")["stableRevision"]

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await confirm(app, pilot, "a", "Abort shop? Traffic goes back to the stable revision")
            await told(app, pilot, 'rollout "shop" abort requested')
            aborted = cluster.wait_phase("shop", "Degraded")
            assert aborted["status"]["abort"] is True
            assert aborted["status"]["stableRevision"] == v1
            await until(
                pilot,
                lambda: listed(app).cell_text(f"{NS}/shop", "phase") == "Degraded",
                what="the row goes Degraded",
            )
            await confirm(app, pilot, "t", "Retry shop?")
            await told(app, pilot, 'rollout "shop" retry requested')
            assert cluster.status("shop").get("abort") is False
            cluster.wait_step("shop", 1)  # from step 1 again, at its pause

    run(scenario)


def test_undo_goes_back_and_a_revision_that_does_not_exist_is_refused(
    cluster: Cluster, controller: Controller
) -> None:
    release(cluster, to_step=1)
    cluster.api.promote(NS, "shop", full=True)
    cluster.wait_phase("shop", "Healthy")
    before = cluster.rollout("shop")

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await confirm(app, pilot, "u", "Undo shop?", answer="9")
            await pilot.press("enter")
            await told(app, pilot, "has no revision 9 (kept revisions: 1, 2)")
            assert any(t.startswith("undo refused") for t in toasts(app))
            after = cluster.rollout("shop")  # the spec is untouched
            assert after["metadata"]["generation"] == before["metadata"]["generation"]
            assert after["spec"]["template"] == before["spec"]["template"]
            await confirm(app, pilot, "u", "Undo shop?", answer="enter")  # empty: the previous
            await told(app, pilot, 'rollout "shop" template set back')
            image = cluster.rollout("shop")["spec"]["template"]["spec"]["containers"][0]["image"]
            assert image == "app:v1"

    run(scenario)


def test_a_cancelled_confirmation_changes_nothing(cluster: Cluster, controller: Controller) -> None:
    release(cluster, to_step=1)
    before = cluster.rollout("shop")
    cluster.sandbox.requests.clear()

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await confirm(app, pilot, "a", "Abort shop?", answer="n")
            await told(app, pilot, 'abort "shop" cancelled: nothing was changed')
            await confirm(app, pilot, "p", "Pause shop?", answer="escape")
            await told(app, pilot, 'pause "shop" cancelled: nothing was changed')
            await confirm(app, pilot, "a", "Abort shop?", answer="enter")  # Enter is "No"
            await until(pilot, lambda: len(toasts(app)) == 3, what="the third toast")
            await pilot.pause(0.5)

    run(scenario)
    after = cluster.rollout("shop")
    assert after["metadata"]["generation"] == before["metadata"]["generation"]
    ours = [
        r
        for r in cluster.sandbox.requests.entries()
        if (r.resource, r.verb) == ("rollouts", "patch")
    ]
    assert ours == []  # the dashboard wrote nothing (the controller writes with PUT)
    assert not after["status"].get("abort")
    assert not after["spec"].get("paused")


def test_a_forbidden_action_shows_the_api_servers_answer(
    cluster: Cluster, controller: Controller
) -> None:
    release(cluster, to_step=1)
    cluster.sandbox.faults.add(verb="patch", resource="rollouts", subresource="status", code=403)

    async def scenario() -> None:
        async with dashboard(cluster.api) as (app, pilot):
            await confirm(app, pilot, "a", "Abort shop?")
            await told(app, pilot, "403")
            refusal = next(t for t in toasts(app) if "403" in t)
            assert refusal.startswith("abort refused")
            assert "rollouts/shop/status" in refusal

    run(scenario)
    assert not cluster.status("shop").get("abort")
    assert cluster.status("shop")["phase"] == "Paused"
