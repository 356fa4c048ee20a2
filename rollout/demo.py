"""The demo: a sandbox cluster, the controller, and two releases of a service called `demo`.

1. v1 is deployed; the image is set to v2 and the canary walks its steps (setWeight 20,
   pause 3s, setWeight 50, pause until promoted). The demo promotes it at the manual pause, as
   a person would with `rollout promote demo`, and the rollout ends Healthy on v2.
2. The image is set to v3, whose pods never become ready: the rollout stops at its progress
   deadline and rolls back to v2.

Progress is printed as it happens, one line per change, read from the cluster (not from the
controller's memory): exactly what `rollout get demo` would show. (`rollout demo` on a
terminal shows the dashboard instead, and drives the same releases from `releases` in the
background: see rollout.cli.demo_cmd.)
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TextIO

from rollout import labels
from rollout.api import RolloutsAPI
from rollout.errors import RolloutError
from rollout.install import install_crds, wait_established
from rollout.kube import CRDS, ROLLOUTS, SERVICES, Kind, Kube
from rollout.kube.client import Obj

NAMESPACE = "default"
NAME = "demo"
NEVER_READY = "sandbox.rollout.dev/never-ready"


VIRTUAL_SERVICES = Kind("networking.istio.io", "v1", "virtualservices", "VirtualService")


def demo_rollout(image: str, *, mesh: bool = False) -> Obj:
    canary: Obj = {
        "stableService": f"{NAME}-stable",
        "canaryService": f"{NAME}-canary",
        "scaleDownDelaySeconds": 5,
        "abortScaleDownDelaySeconds": 3,
        "steps": [
            {"setWeight": 20},
            {"pause": {"duration": "3s"}},
            {"setWeight": 50},
            {"pause": {}},
        ],
    }
    if mesh:
        canary["trafficRouting"] = {"istio": {"virtualService": {"name": NAME}}}
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "replicas": 5,
            "selector": {"matchLabels": {"app": NAME}},
            "progressDeadlineSeconds": 8,
            "template": {
                "metadata": {"labels": {"app": NAME}},
                "spec": {
                    "containers": [
                        {"name": "app", "image": image, "ports": [{"containerPort": 8080}]}
                    ]
                },
            },
            "strategy": {"canary": canary},
        },
    }


def virtual_service_kind() -> Obj:
    """The VirtualService kind, registered in the sandbox for the --mesh demo. (A real cluster
    has Istio's own CRD; the sandbox needs only the kind, not its schema.)"""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": "virtualservices.networking.istio.io"},
        "spec": {
            "group": "networking.istio.io",
            "names": {
                "kind": "VirtualService",
                "plural": "virtualservices",
                "singular": "virtualservice",
                "listKind": "VirtualServiceList",
            },
            "scope": "Namespaced",
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                }
            ],
        },
    }


def virtual_service() -> Obj:
    return {
        "apiVersion": "networking.istio.io/v1",
        "kind": "VirtualService",
        "metadata": {"name": NAME, "namespace": NAMESPACE},
        "spec": {
            "hosts": [NAME],
            "http": [
                {
                    "route": [
                        {"destination": {"host": f"{NAME}-stable"}, "weight": 100},
                        {"destination": {"host": f"{NAME}-canary"}, "weight": 0},
                    ]
                }
            ],
        },
    }


def service(name: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": NAMESPACE},
        "spec": {"selector": {"app": NAME}, "ports": [{"port": 80, "targetPort": 8080}]},
    }


class DemoStoppedError(RolloutError):
    """The demo was stopped (its dashboard closed) before its releases were done."""

    def __init__(self) -> None:
        super().__init__("the demo was stopped before its releases were done")


class Printer:
    """One line per visible change of the rollout. `stop`, once set, ends the demo's waits."""

    def __init__(
        self,
        api: RolloutsAPI,
        out: TextIO,
        *,
        mesh: bool = False,
        stop: threading.Event | None = None,
    ) -> None:
        self.api, self.out, self.mesh = api, out, mesh
        self.stop = stop or threading.Event()
        self.started = time.monotonic()
        self.last: tuple[Any, ...] | None = None

    def line(self, text: str) -> None:
        print(f"{time.monotonic() - self.started:6.1f}s  {text}", file=self.out, flush=True)

    def show(self, rollout: Obj) -> None:
        status = rollout.get("status") or {}
        if not status:
            return  # the controller has not looked at it yet
        steps = rollout["spec"]["strategy"]["canary"]["steps"]
        index = status.get("currentStepIndex")
        step = (
            f"step {index + 1}/{len(steps)} {_step_text(steps[index])}"
            if index is not None and index < len(steps)
            else "all steps done"
        )
        weights = (status.get("canary") or {}).get("weights") or {}
        weight = (
            f"traffic stable {weights.get('stable', {}).get('weight', '-'):>3}% / "
            f"canary {weights.get('canary', {}).get('weight', '-'):>3}%"
        )
        if self.mesh:  # what the VirtualService itself says, not our status
            vs = self.api.kube.get(VIRTUAL_SERVICES, NAME, namespace=NAMESPACE)
            split = {
                d["destination"]["host"]: d.get("weight", 0) for d in vs["spec"]["http"][0]["route"]
            }
            weight = (
                f"VirtualService stable {split.get(f'{NAME}-stable', 0):>3}% / "
                f"canary {split.get(f'{NAME}-canary', 0):>3}%"
            )
        pods = "  ".join(_pods(d) for d in self.api.revisions(NAMESPACE, NAME))
        state = (status.get("phase"), step, weight, pods, status.get("message"))
        if state != self.last:
            self.last = state
            self.line(f"{status.get('phase', '-'):<11} {step:<32} {weight}   {pods}")
            if status.get("message"):
                self.line(f"{'':<11} {status['message']}")


def _step_text(step: Obj) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "pause" in step:
        duration = step["pause"].get("duration")
        return f"pause {duration}" if duration else "pause (until promoted)"
    return next(iter(step))


def _pods(deployment: Obj) -> str:
    image = deployment["spec"]["template"]["spec"]["containers"][0]["image"]
    available = (deployment.get("status") or {}).get("availableReplicas") or 0
    return f"{image.rsplit(':', 1)[-1]} {available}/{deployment['spec'].get('replicas', 0)}"


def wait_for(
    printer: Printer,
    until: Callable[[Obj], bool],
    *,
    timeout: float,
    on_change: Callable[[Obj], None] | None = None,
) -> Obj:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rollout = printer.api.get(NAMESPACE, NAME)
        printer.show(rollout)
        if on_change is not None:
            on_change(rollout)
        if until(rollout):
            return rollout
        if printer.stop.wait(0.2):
            raise DemoStoppedError
    raise TimeoutError(f"the demo rollout did not get there in {timeout:.0f}s")


def phase(name: str) -> Callable[[Obj], bool]:
    def check(rollout: Obj) -> bool:
        status = rollout.get("status") or {}
        fresh = status.get("observedGeneration") == rollout["metadata"].get("generation")
        return fresh and status.get("phase") == name

    return check


def run_demo(*, out: TextIO = sys.stdout, ready_delay: float = 1.0, mesh: bool = False) -> int:
    with demo_cluster(ready_delay=ready_delay) as (kube, url):
        printer = Printer(RolloutsAPI(kube), out, mesh=mesh)
        printer.line(f"sandbox cluster at {url}; controller started")
        return releases(printer, mesh=mesh)


@contextmanager
def demo_cluster(*, ready_delay: float = 1.0) -> Iterator[tuple[Kube, str]]:
    """A sandbox with our CRDs and the controller running on it: (a client, its URL)."""
    from rollout.reconciler.controller import Controller  # noqa: PLC0415
    from rollout.sandbox import start_sandbox  # noqa: PLC0415

    sandbox = start_sandbox(ready_delay=ready_delay)
    kube = Kube(sandbox.api_client())
    controller = Controller(kube, workers=2)
    try:
        install_crds(kube)
        controller.start()
        yield kube, sandbox.url
    finally:
        controller.stop()
        kube.close()
        sandbox.stop()


def releases(printer: Printer, *, mesh: bool = False) -> int:
    """The demo's story on a cluster: v1, then a good v2 (promoted at the manual pause), then a
    v3 that never becomes ready and rolls back. 0 when it ended as it should."""
    api = printer.api
    kube = api.kube
    for name in (NAME, f"{NAME}-stable", f"{NAME}-canary"):
        kube.create(SERVICES, service(name), namespace=NAMESPACE)
    if mesh:
        kube.create(CRDS, virtual_service_kind())
        wait_established(kube, "virtualservices.networking.istio.io")
        kube.create(VIRTUAL_SERVICES, virtual_service(), namespace=NAMESPACE)
        printer.line("traffic goes through the Istio VirtualService demo (exact weights)")
    kube.create(ROLLOUTS, demo_rollout("demo:v1", mesh=mesh), namespace=NAMESPACE)
    printer.line("created Rollout demo with image demo:v1")
    wait_for(printer, phase("Healthy"), timeout=60)

    printer.line("== release 1: demo:v2, a good version ==")
    api.set_image(NAMESPACE, NAME, "app", "demo:v2")
    promoted: list[int] = []

    def promote_at_manual_pause(rollout: Obj) -> None:
        status = rollout.get("status") or {}
        waiting = any(
            c.get("reason") == "CanaryPauseStep" for c in status.get("pauseConditions") or []
        )
        if waiting and status.get("currentStepIndex") == 3 and not promoted:
            printer.line("-> rollout promote demo   (the demo acts as the person on call)")
            api.promote(NAMESPACE, NAME)
            promoted.append(1)

    done = wait_for(
        printer,
        lambda r: phase("Healthy")(r) and bool(promoted),
        timeout=120,
        on_change=promote_at_manual_pause,
    )
    stable_v2 = done["status"]["stableRevision"]
    wait_for(
        printer,
        lambda r: (
            len([d for d in api.revisions(NAMESPACE, NAME) if d["spec"].get("replicas")]) == 1
        ),
        timeout=60,
    )
    printer.line(f"v2 is stable (revision {stable_v2}); v1 scaled to 0 after the delay")

    printer.line("== release 2: demo:v3, whose pods never become ready ==")
    rollout = api.get(NAMESPACE, NAME)
    template = rollout["spec"]["template"]
    template["metadata"].setdefault("annotations", {})[NEVER_READY] = "true"
    template["spec"]["containers"][0]["image"] = "demo:v3"
    kube.patch(ROLLOUTS, NAME, {"spec": {"template": template}}, namespace=NAMESPACE)
    failed = wait_for(printer, phase("Degraded"), timeout=60)

    def rolled_back(rollout: Obj) -> bool:
        for dep in api.revisions(NAMESPACE, NAME):
            revision = (dep["metadata"].get("labels") or {}).get(labels.REVISION)
            available = (dep.get("status") or {}).get("availableReplicas") or 0
            if revision == stable_v2 and available < 5:
                return False
            if revision != stable_v2 and dep["spec"].get("replicas"):
                return False
        return True

    wait_for(printer, rolled_back, timeout=60)
    ok = failed["status"]["stableRevision"] == stable_v2
    printer.line(
        f"rolled back: stable is still {stable_v2}; reason: "
        f"{failed['status'].get('abortMessage', '')}"
    )
    printer.line("demo finished" if ok else "demo FAILED: stable revision changed")
    return 0 if ok else 1
