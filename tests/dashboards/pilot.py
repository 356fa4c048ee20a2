"""Driving the dashboard in tests: run it against a cluster with Textual's pilot, wait for what
the screen shows, and read the screen as text."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from rich.console import Console
from textual.pilot import Pilot

from dashboards.app import DashboardApp
from dashboards.screens.rollout_list import RolloutListScreen
from dashboards.widgets.rollout_list.rollout_table import RolloutTable
from rollout.api import RolloutsAPI
from tests.e2e.harness import NS

SIZE = (160, 45)
FIXED_NOW = datetime(2026, 11, 22, 10, 0, 0, tzinfo=UTC)


def run(scenario: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run an async test scenario to the end (bounded by the test timeout)."""
    asyncio.run(scenario())


@asynccontextmanager
async def dashboard(
    api: RolloutsAPI, *, namespace: str | None = NS, **kwargs: Any
) -> AsyncIterator[tuple[DashboardApp, Pilot[None]]]:
    """The app on `api`, once its first lists are in."""
    app = DashboardApp(api, namespace=namespace, **kwargs)
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: app.store.loaded, what="the first list")
        yield app, pilot


async def until(
    pilot: Pilot[Any],
    check: Callable[[], object],
    *,
    timeout: float = 15.0,
    what: str = "",
) -> None:
    """Let the app run until `check()` holds (the watches and workers are asynchronous)."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or check}")
        await pilot.pause(0.05)


async def settle(pilot: Pilot[Any], condition: Callable[[], Awaitable[bool] | bool]) -> None:
    """`until`, for a condition that may be async."""
    deadline = time.monotonic() + 15
    while True:
        result = condition()
        if not isinstance(result, bool):
            result = await result
        if result:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {condition}")
        await pilot.pause(0.05)


def screen_text(app: DashboardApp) -> str:
    """What the terminal shows now, as plain text, modal dialogs over their background included
    (rendered as App.export_screenshot renders, to text instead of SVG)."""
    width, height = app.size
    console = Console(
        width=width, height=height, file=io.StringIO(), record=True, legacy_windows=False
    )
    update = app.screen._compositor.render_update(full=True, screen_stack=app._background_screens)
    console.print(update)
    return console.export_text()


def listed(app: DashboardApp) -> RolloutTable:
    """The list screen's table (the list must be the screen shown)."""
    screen = app.screen
    assert isinstance(screen, RolloutListScreen), screen
    return screen.table


def toasts(app: DashboardApp) -> list[str]:
    """The notifications on the screen now, as text (title, then message)."""
    return [" ".join(str(toast.render()).split()) for toast in app.screen.query("Toast")]
