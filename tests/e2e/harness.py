"""Shared pieces of the end-to-end tests: a sandbox cluster with our CRDs, the controller
(in this process, or as a real `rollout controller` process that can be killed), and waits
that assert on cluster state."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from rollout import labels
from rollout.api import RolloutsAPI
from rollout.install import install_crds
from rollout.kube import DEPLOYMENTS, ROLLOUTS, SERVICES, Kube
from rollout.kube.client import Obj
from rollout.reconciler.controller import Controller
from rollout.sandbox import Sandbox, start_sandbox

NS = "default"
# What an uninterrupted v1 -> v2 release records, in order.
REFERENCE_HISTORY = [
    "Deployed",
    "NewRevision",
    "StepCompleted",
    "StepCompleted",
    "StepCompleted",
    "StepPromoted",
    "Promoted",
]
FAST_STEPS: list[Obj] = [
    {"setWeight": 20},
    {"pause": {"duration": "1s"}},
    {"setWeight": 50},
    {"pause": {}},
]


def rollout_doc(
    name: str, image: str, *, steps: list[Obj] | None = None, replicas: int = 5, **spec: Any
) -> Obj:
    canary: dict[str, Any] = {
        "stableService": f"{name}-stable",
        "canaryService": f"{name}-canary",
        "scaleDownDelaySeconds": 1,
        "steps": FAST_STEPS if steps is None else steps,
    }
    canary.update(spec.pop("canary", {}))
    body: dict[str, Any] = {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"canary": canary},
        },
    }
    body["spec"].update(spec)
    return body


def blue_green_doc(
    name: str,
    image: str,
    *,
    replicas: int = 3,
    blue_green: Obj | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> Obj:
    """A blue-green Rollout behind `<name>-active` / `<name>-preview`, with short delays.
    `annotations` go on the pod template (the sandbox's readiness knobs)."""
    strategy: dict[str, Any] = {
        "activeService": f"{name}-active",
        "previewService": f"{name}-preview",
        "scaleDownDelaySeconds": 1,
        "abortScaleDownDelaySeconds": 1,
    }
    strategy.update(blue_green or {})
    metadata: dict[str, Any] = {"labels": {"app": name}}
    if annotations:
        metadata["annotations"] = dict(annotations)
    body: dict[str, Any] = {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": metadata,
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"blueGreen": strategy},
        },
    }
    body["spec"].update(spec)
    return body


class Cluster:
    """A sandbox with our CRDs installed and the helpers tests need."""

    def __init__(self, *, ready_delay: float = 0.0) -> None:
        self.sandbox: Sandbox = start_sandbox(ready_delay=ready_delay)
        self.kube = Kube(self.sandbox.api_client())
        self.api = RolloutsAPI(self.kube)
        install_crds(self.kube)

    def close(self) -> None:
        self.kube.close()
        self.sandbox.stop()

    def create(self, name: str, image: str = "app:v1", **kwargs: Any) -> Obj:
        for svc in (f"{name}-stable", f"{name}-canary"):
            self.create_service(svc, app=name)
        return self.kube.create(ROLLOUTS, rollout_doc(name, image, **kwargs), namespace=NS)

    def create_blue_green(self, name: str, image: str = "app:v1", **kwargs: Any) -> Obj:
        """`<name>-active` and `<name>-preview` Services selecting `app: <name>`, and a
        blue-green Rollout (`blue_green_doc`) using them."""
        for svc in (f"{name}-active", f"{name}-preview"):
            self.create_service(svc, app=name)
        return self.kube.create(ROLLOUTS, blue_green_doc(name, image, **kwargs), namespace=NS)

    def create_service(self, svc: str, *, app: str) -> None:
        self.kube.create(
            SERVICES,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": svc},
                "spec": {"selector": {"app": app}, "ports": [{"port": 80}]},
            },
            namespace=NS,
        )

    def pinned(self, service: str) -> str | None:
        """The revision a Service's selector is pinned to (None: not pinned)."""
        selector = self.kube.get(SERVICES, service, namespace=NS)["spec"]["selector"]
        revision = selector.get(labels.REVISION)
        return str(revision) if revision is not None else None

    def blue_green_pins(self, name: str) -> tuple[str | None, str | None]:
        """(active, preview) revisions."""
        return self.pinned(f"{name}-active"), self.pinned(f"{name}-preview")

    def rollout(self, name: str) -> Obj:
        return self.kube.get(ROLLOUTS, name, namespace=NS)

    def status(self, name: str) -> Obj:
        return self.rollout(name).get("status") or {}

    def revisions(self, name: str) -> dict[str, Obj]:
        items, _ = self.kube.list(DEPLOYMENTS, namespace=NS, label_selector=f"{labels.NAME}={name}")
        return {d["metadata"]["labels"][labels.REVISION]: d for d in items}

    def replicas(self, name: str) -> dict[str, tuple[int, int]]:
        """revision -> (desired, available)"""
        return {
            rev: (d["spec"]["replicas"], (d.get("status") or {}).get("availableReplicas") or 0)
            for rev, d in self.revisions(name).items()
        }

    def pins(self, name: str) -> tuple[str | None, str | None]:
        pinned = []
        for svc in (f"{name}-stable", f"{name}-canary"):
            selector = self.kube.get(SERVICES, svc, namespace=NS)["spec"]["selector"]
            pinned.append(selector.get(labels.REVISION))
        return pinned[0], pinned[1]

    def wait(
        self, name: str, check: Callable[[Obj], bool], *, timeout: float = 30, what: str = ""
    ) -> Obj:
        deadline = time.monotonic() + timeout
        while True:
            rollout = self.rollout(name)
            if check(rollout):
                return rollout
            if time.monotonic() > deadline:
                status = rollout.get("status") or {}
                raise AssertionError(
                    f"timed out waiting for {what or check}: phase "
                    f"{status.get('phase')}, {status.get('message')}"
                )
            time.sleep(0.05)

    def wait_phase(self, name: str, phase: str, *, timeout: float = 30) -> Obj:
        def ok(r: Obj) -> bool:
            s = r.get("status") or {}
            return (
                s.get("observedGeneration") == r["metadata"]["generation"]
                and s.get("phase") == phase
            )

        return self.wait(name, ok, timeout=timeout, what=f"phase {phase}")

    def wait_step(self, name: str, index: int, *, timeout: float = 30) -> Obj:
        return self.wait(
            name,
            lambda r: (
                (r.get("status") or {}).get("currentStepIndex") == index
                and (r.get("status") or {}).get("currentRevision")
                != (r.get("status") or {}).get("stableRevision")
            ),
            timeout=timeout,
            what=f"step {index}",
        )


def in_process_controller(cluster: Cluster) -> Controller:
    controller = Controller(Kube(cluster.sandbox.api_client()), workers=2, max_backoff=1.0)
    controller.start()
    return controller


class ControllerProcess:
    """`rollout controller` as a real process, so it can be killed (SIGKILL: no clean-up).
    Its log goes to a file beside the kubeconfig (a pipe nobody reads could block it).

    Leader election stays on, with a stable `identity`: a process restarted after a SIGKILL
    holds the same identity as its dead predecessor, so it renews that Lease at once instead
    of waiting out its duration (as a StatefulSet pod restarted under its name would).
    `options` are added to the command line, `env` to the environment (e.g. libfaketime's)."""

    def __init__(
        self,
        kubeconfig: Path,
        *,
        identity: str = "e2e-controller",
        options: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self.kubeconfig = kubeconfig
        self.identity = identity
        self.options = options
        self.env = dict(env or {})
        suffix = "" if identity == "e2e-controller" else f".{identity}"
        self.log = kubeconfig.with_suffix(f"{suffix}.controller.log")
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "rollout.cli.main",
                    "controller",
                    "--kubeconfig",
                    str(self.kubeconfig),
                    "--workers",
                    "2",
                    "--log-level",
                    "warning",
                    # No metrics port: processes restarted at once, or two test runs on one
                    # machine, would otherwise compete for the default one.
                    "--metrics-port",
                    "0",
                    "--identity",
                    self.identity,
                    *self.options,
                ],
                stdout=subprocess.DEVNULL,
                stderr=log,
                env={**os.environ, "PYTHONUNBUFFERED": "1", **self.env},
            )

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None


class DeploymentRecorder:
    """Every Deployment state the API server published, in order (via a watch)."""

    def __init__(self, cluster: Cluster) -> None:
        self.events: list[tuple[str, int, int]] = []  # (revision, desired, available)
        self._kube = Kube(cluster.sandbox.api_client())
        _, self._rv = self._kube.list(DEPLOYMENTS, namespace=NS)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            for event in self._kube.watch(
                DEPLOYMENTS, namespace=NS, resource_version=self._rv, timeout_seconds=2
            ):
                obj = event.object
                self._rv = obj["metadata"]["resourceVersion"]
                if event.type == "BOOKMARK":
                    continue
                rev = (obj["metadata"].get("labels") or {}).get(labels.REVISION, "?")
                self.events.append(
                    (
                        rev,
                        obj["spec"].get("replicas", 0),
                        (obj.get("status") or {}).get("availableReplicas") or 0,
                    )
                )

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._kube.close()
