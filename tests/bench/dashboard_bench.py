"""Benchmark: the dashboard's list screen with 2,000 rollouts (not a timed test).

The sandbox runs in its own process, as a real API server would; the dashboard runs headless
under Textual's pilot in this one. Measured:
- initial render: from starting the app to all rows in the table and drawn (the list over
  HTTP, building the rows, the table);
- 500 watch updates: 500 rollouts' statuses are changed through the API (eight writers at
  once, in a process of their own), timed from the first write until every changed row
  shows its new value; with how many screen updates (flushes) they took, the UI thread's
  time in them and the longest one;
- the same 500 updates put straight into the change buffer (no network): the UI's own cost;
- the longest stall of the UI's event loop during the updates (how long a key press waits);
- a filter keystroke (applied once typing pauses for 0.15 s), clearing it, and a sort, over the
  2,000 rows.

    python -m tests.bench.dashboard_bench --rollouts 2000 --updates 500

Figures go to bench-results/dashboard.json with the command that produced them.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from dashboards.app import DashboardApp
from dashboards.screens.rollout_list import RolloutListScreen
from rollout.api import RolloutsAPI
from rollout.install import install_crds
from rollout.kube import ROLLOUTS, Kube
from rollout.kube.client import Obj
from tests.e2e.harness import rollout_doc

NS = "default"
ROOT = Path(__file__).resolve().parents[2]
SIZE = (160, 45)


class MeasuredApp(DashboardApp):
    """The dashboard, timing each flush that had something to show."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.flushes: list[float] = []

    def flush(self) -> None:
        started = time.perf_counter()
        had = bool(self.rollout_changes._batch) or bool(self.revision_changes._batch)
        super().flush()
        if had:
            self.flushes.append(time.perf_counter() - started)


def status(i: int, *, message: str | None = None) -> Obj:
    phase = ("Healthy", "Progressing", "Paused", "Degraded")[i % 4]
    updating = phase != "Healthy"
    return {
        "phase": phase,
        "message": message or f"step {i % 4 + 1}/4: waiting ({i})",
        "stableRevision": f"s{i:07d}",
        "currentRevision": f"c{i:07d}" if updating else f"s{i:07d}",
        "currentStepIndex": i % 4,
        "stepStartedAt": "2026-11-22T09:00:00Z",
        "canary": {
            "weights": {
                "stable": {"revision": f"s{i:07d}", "weight": 100 - (i % 5) * 20},
                "canary": {"revision": f"c{i:07d}", "weight": (i % 5) * 20},
            }
        },
    }


def populate(kube: Kube, n: int) -> float:
    started = time.monotonic()

    def one(i: int) -> None:
        name = f"svc-{i:05d}"
        kube.create(ROLLOUTS, rollout_doc(name, f"registry/svc:{i % 7}.0"), namespace=NS)
        kube.patch(ROLLOUTS, name, {"status": status(i)}, namespace=NS, sub="status")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, range(n)))
    return time.monotonic() - started


async def _lag(stalls: list[float]) -> None:
    """How late a 5 ms sleep on the UI's event loop wakes up: how long a key press would
    have waited for the app to look at it."""
    while True:
        started = time.perf_counter()
        await asyncio.sleep(0.005)
        stalls.append(time.perf_counter() - started - 0.005)


async def until(pilot: Any, check: Any, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise TimeoutError("the dashboard did not get there")
        await pilot.pause(0.01)


def write(kubeconfig: str) -> int:
    """The writer process: read {key: mark}, set each rollout's status.message to its mark
    (eight writers at once), print how long it took."""
    kube = Kube.from_config(kubeconfig=kubeconfig)
    print("ready", flush=True)
    marks: dict[str, str] = json.loads(sys.stdin.readline())
    started = time.perf_counter()

    def one(item: tuple[str, str]) -> None:
        key, mark = item
        i = int(key.rsplit("-", 1)[1])
        body = {"status": status(i + 1, message=mark)}
        kube.patch(ROLLOUTS, key.split("/")[1], body, namespace=NS, sub="status")

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(one, marks.items()))
    print(time.perf_counter() - started, flush=True)
    kube.close()
    return 0


async def measure(api: RolloutsAPI, kubeconfig: str, n: int, updates: int) -> dict[str, Any]:
    app = MeasuredApp(api, namespace=NS)
    started = time.perf_counter()
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RolloutListScreen)
        await until(pilot, lambda: len(screen.table.rows_shown) == n)
        await pilot.pause()  # drawn
        initial = time.perf_counter() - started
        initial_flushes = list(app.flushes)

        # 500 updates through the API server and the watch
        app.flushes.clear()
        stalls: list[float] = []
        lag = asyncio.create_task(_lag(stalls))
        marks = {f"{NS}/svc-{i:05d}": f"update {i}" for i in range(0, n, max(1, n // updates))}
        marks = dict(list(marks.items())[:updates])

        # the writers run in their own process: in this one they would compete with the UI
        # for the interpreter and make it look slower than it is
        writer = subprocess.Popen(
            [sys.executable, "-m", "tests.bench.dashboard_bench", "--write", kubeconfig],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdin is not None and writer.stdout is not None
        assert writer.stdout.readline().strip() == "ready"
        write_started = time.perf_counter()
        writer.stdin.write(json.dumps(marks) + "\n")
        writer.stdin.flush()
        await until(
            pilot,
            lambda: all(screen.table.cell_text(k, "waiting") == m for k, m in marks.items()),
        )
        applied = time.perf_counter() - write_started
        writes_s = float(writer.stdout.readline())
        writer.wait(timeout=30)
        live_flushes = list(app.flushes)
        live_stall = max(stalls, default=0.0)

        # the same number of updates, straight into the buffer: the UI's own cost
        app.flushes.clear()
        changed = []
        for key in list(marks):
            obj = copy.deepcopy(app.store.rollouts[key])
            obj["status"]["message"] = "direct " + key
            changed.append(obj)
        direct_started = time.perf_counter()
        for obj in changed:
            app.rollout_changes.put(obj)
        await until(
            pilot,
            lambda: all(screen.table.cell_text(k, "waiting") == "direct " + k for k in marks),
        )
        direct = time.perf_counter() - direct_started
        direct_flushes = list(app.flushes)

        # a filter keystroke (applied once typing pauses), clearing it, a sort: every row
        keystroke_started = time.perf_counter()
        await pilot.press("slash", "9")
        await until(pilot, lambda: len(screen.table.rows_shown) < n)
        await pilot.pause()
        keystroke = time.perf_counter() - keystroke_started
        shown_after_filter = len(screen.table.rows_shown)
        clear_started = time.perf_counter()
        await pilot.press("escape")
        await until(pilot, lambda: len(screen.table.rows_shown) == n)
        await pilot.pause()
        clear = time.perf_counter() - clear_started
        sort_started = time.perf_counter()
        await pilot.press("s")
        await pilot.pause()
        sort = time.perf_counter() - sort_started
        lag.cancel()

    return {
        "rollouts": n,
        "initial_render_s": round(initial, 3),
        "initial_flushes": len(initial_flushes),
        "updates": len(marks),
        "updates_via_api_s": round(applied, 3),
        "updates_via_api_writes_s": round(writes_s, 3),
        "updates_via_api_flushes": len(live_flushes),
        "updates_via_api_ui_s": round(sum(live_flushes), 3),
        "updates_via_api_longest_flush_ms": round(max(live_flushes, default=0) * 1000, 1),
        "updates_via_api_longest_ui_stall_ms": round(live_stall * 1000, 1),
        "updates_direct_s": round(direct, 3),
        "updates_direct_flushes": len(direct_flushes),
        "updates_direct_ui_ms": round(sum(direct_flushes) * 1000, 1),
        "filter_keystroke_s": round(keystroke, 3),
        "filter_rows_left": shown_after_filter,
        "filter_clear_s": round(clear, 3),
        "sort_keystroke_s": round(sort, 3),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", type=int, default=2000)
    parser.add_argument("--updates", type=int, default=500)
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "dashboard.json"))
    parser.add_argument("--write", metavar="KUBECONFIG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.write:
        return write(args.write)
    command = (
        f"python -m tests.bench.dashboard_bench --rollouts {args.rollouts} --updates {args.updates}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        kubeconfig = Path(tmp) / "kubeconfig"
        sandbox = subprocess.Popen(
            [sys.executable, "-m", "rollout.sandbox", "--kubeconfig", str(kubeconfig)],
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
        assert sandbox.stdout is not None
        sandbox.stdout.readline()  # "serving on ..."
        sandbox.stdout.readline()  # "kubeconfig written ..."
        kube = Kube.from_config(kubeconfig=str(kubeconfig))
        try:
            install_crds(kube)
            populate_s = populate(kube, args.rollouts)
            api = RolloutsAPI(kube)
            result = asyncio.run(measure(api, str(kubeconfig), args.rollouts, args.updates))
        finally:
            kube.close()
            sandbox.terminate()
            sandbox.wait(timeout=30)
    result["populate_s"] = round(populate_s, 1)
    report = {
        "command": command,
        "machine": f"{os.cpu_count()} cores, {platform.machine()}, Python "
        f"{platform.python_version()}",
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "result": result,
    }
    print(json.dumps(report, indent=2))
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
