"""`rollout demo`: the whole product on a built-in sandbox cluster, no real cluster needed.

On a terminal it opens the dashboard on the demo's rollout while the demo's releases run in
the background (their story as notifications; q quits, and stops the demo). With `--plain`,
or when stdout is not a terminal (CI, a pipe), it prints one line per change instead.
"""

from __future__ import annotations

import argparse
import io
import sys
import threading
from typing import IO, TYPE_CHECKING, Any

from rollout.api import RolloutsAPI
from rollout.demo import NAMESPACE, DemoStoppedError, Printer, demo_cluster, releases, run_demo
from rollout.errors import RolloutError
from rollout.kube.client import Obj

if TYPE_CHECKING:
    from dashboards.app import DashboardApp


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "demo",
        help="run a canary release and a rollback on a built-in sandbox cluster",
    )
    parser.add_argument(
        "--ready-delay",
        type=float,
        default=1.0,
        help="seconds before new pods become ready in the sandbox (default 1)",
    )
    parser.add_argument(
        "--mesh",
        choices=["istio"],
        help="route traffic through an Istio VirtualService in the sandbox (exact weights)",
    )
    parser.add_argument(
        "--plain",
        action="store_true",
        help="print one line per change instead of opening the dashboard "
        "(the default when stdout is not a terminal)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    if use_dashboard(plain=args.plain, stdout=sys.stdout, stdin=sys.stdin):
        return _with_dashboard(args)
    return run_demo(ready_delay=args.ready_delay, mesh=args.mesh == "istio")


def use_dashboard(*, plain: bool, stdout: IO[str], stdin: IO[str]) -> bool:
    """The dashboard needs a terminal to draw on and to read keys from; anything else (CI, a
    pipe, a file) gets the plain lines."""
    return not plain and stdout.isatty() and stdin.isatty()


def _with_dashboard(args: argparse.Namespace) -> int:
    from dashboards.app import DashboardApp  # noqa: PLC0415  # Textual only on a terminal

    mesh = args.mesh == "istio"
    stop = threading.Event()
    outcome: list[int] = []
    threads: list[threading.Thread] = []

    with demo_cluster(ready_delay=args.ready_delay) as (kube, _):
        api = RolloutsAPI(kube)

        def start(app: DashboardApp) -> None:
            printer = _Narrator(api, app, mesh=mesh, stop=stop)

            def drive() -> None:
                try:
                    outcome.append(releases(printer, mesh=mesh))
                except DemoStoppedError:
                    return
                except (RolloutError, TimeoutError) as err:
                    if not stop.is_set():
                        app.notify(str(err), title="demo failed", severity="error", markup=False)
                    outcome.append(1)
                    return
                app.notify("the demo is over: q quits", title="demo", timeout=60)

            thread = threading.Thread(target=drive, name="demo releases", daemon=True)
            threads.append(thread)
            thread.start()

        DashboardApp(api, namespace=NAMESPACE, on_ready=start).run()
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    return outcome[0] if outcome else 0


class _Narrator(Printer):
    """The demo's Printer for the dashboard: its story lines become notifications; the
    per-change lines are left to the dashboard, which shows the same facts live."""

    def __init__(
        self, api: RolloutsAPI, app: DashboardApp, *, mesh: bool, stop: threading.Event
    ) -> None:
        super().__init__(api, io.StringIO(), mesh=mesh, stop=stop)
        self.app = app

    def line(self, text: str) -> None:
        self.app.notify(text, title="demo", timeout=8, markup=False)

    def show(self, rollout: Obj) -> None:
        pass
