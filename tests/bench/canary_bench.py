"""Benchmark: N rollouts through a three-step canary, against the sandbox, at once.

Three processes, as in production: the sandbox API server, `rollout controller`, and this
driver (which plays CI: creates the rollouts, sets the new image, waits). Figures are written
to bench-results/canary.json and appended to BENCHMARKS.md with the command that produced them.

    python -m tests.bench.canary_bench --rollouts 100 1000
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from rollout import labels
from rollout.install import install_crds
from rollout.kube import DEPLOYMENTS, ROLLOUTS, SERVICES, Kind, Kube
from tests.meshes import upstream

NS = "default"
STEPS = [{"setWeight": 25}, {"pause": {"duration": "1s"}}, {"setWeight": 75}]
TRANSITIONS = len(STEPS) + 1  # each step, then the promotion
ROOT = Path(__file__).resolve().parents[2]


ROUTINGS: dict[str, Any] = {
    "none": None,
    "istio": lambda n: {"istio": {"virtualService": {"name": n}}},
    "gatewayAPI": lambda n: {"gatewayAPI": {"httpRoute": n}},
    "nginx": lambda n: {"nginx": {"stableIngress": n}},
    "linkerd": lambda n: {"linkerd": {"trafficSplit": {"name": n, "rootService": n}}},
}
KINDS = {
    "istio": Kind("networking.istio.io", "v1", "virtualservices", "VirtualService"),
    "gatewayAPI": Kind("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute"),
    "nginx": Kind("networking.k8s.io", "v1", "ingresses", "Ingress"),
}


def routing_object(router: str, name: str) -> dict[str, Any] | None:
    """The user's routing object for one rollout (None: the router needs none, or creates it)."""
    stable, canary = f"{name}-stable", f"{name}-canary"
    if router == "istio":
        route = [
            {"destination": {"host": stable}, "weight": 100},
            {"destination": {"host": canary}, "weight": 0},
        ]
        return {
            "apiVersion": "networking.istio.io/v1",
            "kind": "VirtualService",
            "metadata": {"name": name},
            "spec": {"hosts": [name], "http": [{"route": route}]},
        }
    if router == "gatewayAPI":
        refs = [
            {"name": stable, "port": 80, "weight": 100},
            {"name": canary, "port": 80, "weight": 0},
        ]
        return {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"backendRefs": refs}]},
        }
    if router == "nginx":
        path = {
            "path": "/",
            "pathType": "Prefix",
            "backend": {"service": {"name": stable, "port": {"number": 80}}},
        }
        return {
            "apiVersion": "networking.k8s.io/v1",
            "kind": "Ingress",
            "metadata": {"name": name},
            "spec": {"rules": [{"host": f"{name}.example", "http": {"paths": [path]}}]},
        }
    return None


def rollout(
    name: str, image: str, router: str = "none", steps: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    canary: dict[str, Any] = {
        "stableService": f"{name}-stable",
        "canaryService": f"{name}-canary",
        "scaleDownDelaySeconds": 1,
        "abortScaleDownDelaySeconds": 1,
        "steps": STEPS if steps is None else steps,
    }
    if ROUTINGS[router] is not None:
        canary["trafficRouting"] = ROUTINGS[router](name)
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": name, "namespace": NS},
        "spec": {
            "replicas": 4,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": [{"name": "app", "image": image}]},
            },
            "strategy": {"canary": canary},
        },
    }


def service(name: str, *, app: str) -> dict[str, Any]:
    """A Service selecting the rollout's pods (the controller pins it to one revision)."""
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name},
        "spec": {"selector": {"app": app}},
    }


def wait_until(kube: Kube, check: Any, *, timeout: float, what: str) -> float:
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        items, _ = kube.list(ROLLOUTS, namespace=NS)
        if check(items):
            return time.monotonic() - start
        time.sleep(0.5)
    raise TimeoutError(f"{what} not reached in {timeout:.0f}s")


def sandbox_url(kubeconfig: Path) -> str:
    config = yaml.safe_load(kubeconfig.read_text())
    return str(config["clusters"][0]["cluster"]["server"])


def writes_by_resource(url: str) -> dict[str, int]:
    """Writes the API server saw since the log was cleared, by resource[/subresource]."""
    counts: dict[str, int] = {}
    for record in httpx.get(f"{url}/sandbox/requests", timeout=60).json():
        if record["verb"] in ("create", "update", "patch", "delete"):
            key = record["resource"] + (
                f"/{record['subresource']}" if record["subresource"] else ""
            )
            counts[key] = counts.get(key, 0) + 1
    return counts


def peak_rss_mib(pid: int, field: str = "VmHWM") -> float:
    """The process's peak resident set (or another /proc/PID/status size, e.g. VmRSS), MiB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def start_sandbox(kubeconfig: Path, *, ready_delay: float = 0.5) -> subprocess.Popen[bytes]:
    """The sandbox API server in its own process; returns once it serves and the kubeconfig
    is written."""
    sandbox = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "rollout.sandbox",
            "--kubeconfig",
            str(kubeconfig),
            "--ready-delay",
            str(ready_delay),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert sandbox.stdout is not None
    sandbox.stdout.readline()  # "serving on ..."
    sandbox.stdout.readline()  # "kubeconfig written ..."
    return sandbox


def stop_sandbox(sandbox: subprocess.Popen[bytes]) -> None:
    sandbox.send_signal(signal.SIGTERM)
    sandbox.wait(timeout=30)
    if sandbox.stdout is not None:
        sandbox.stdout.close()


def start_controller(
    kubeconfig: Path,
    stats_file: Path,
    log_file: Path,
    *,
    workers: int = 4,
    metrics_port: int | None = None,
) -> subprocess.Popen[bytes]:
    """A real `rollout controller` process, its output in `log_file`. It writes its counters
    to `stats_file` on SIGTERM; SIGUSR1 resets them. `metrics_port` None: the default port."""
    port = [] if metrics_port is None else ["--metrics-port", str(metrics_port)]
    with log_file.open("wb") as log:
        return subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rollout.cli.main",
                "controller",
                "--kubeconfig",
                str(kubeconfig),
                "--workers",
                str(workers),
                "--log-level",
                "warning",
                "--stats-file",
                str(stats_file),
                "--metrics-address",  # metrics on, as in a cluster, but on loopback only
                "127.0.0.1",
                *port,
                # One controller: its Lease renewals (a write every 2 s) would only blur the
                # writes-per-transition figure the earlier runs are compared with.
                "--no-leader-elect",
            ],
            stdout=log,
            stderr=log,
        )


def run(n: int, workdir: Path, router: str = "none") -> dict[str, Any]:
    kubeconfig = workdir / f"kubeconfig-{router}-{n}"
    stats_file = workdir / f"stats-{router}-{n}.json"
    sandbox = start_sandbox(kubeconfig)
    controller = None
    kube = Kube.from_config(kubeconfig=str(kubeconfig))
    try:
        install_crds(kube)
        if router == "istio":
            upstream.install(kube, "networking.istio.io", "VirtualService")
        if router == "gatewayAPI":
            upstream.install(kube, "gateway.networking.k8s.io", "HTTPRoute")
        if router == "linkerd":
            upstream.install(kube, "split.smi-spec.io", "TrafficSplit", file=upstream.LINKERD_SMI)
        controller = start_controller(
            kubeconfig, stats_file, workdir / f"controller-{router}-{n}.log"
        )
        names = [f"svc-{i:05d}" for i in range(n)]
        for name in names:
            obj = routing_object(router, name)
            if obj is not None:
                kube.create(KINDS[router], obj, namespace=NS)
            for svc in (f"{name}-stable", f"{name}-canary", name):
                kube.create(SERVICES, service(svc, app=name), namespace=NS)
            kube.create(ROLLOUTS, rollout(name, "app:v1", router), namespace=NS)

        def all_healthy(items: list[dict[str, Any]]) -> bool:
            return len(items) == n and all(
                (i.get("status") or {}).get("phase") == "Healthy"
                and (i.get("status") or {}).get("observedGeneration") == i["metadata"]["generation"]
                for i in items
            )

        setup = wait_until(kube, all_healthy, timeout=600, what="initial deploy")
        time.sleep(1.0)
        controller.send_signal(signal.SIGUSR1)  # measure the canary only
        url = sandbox_url(kubeconfig)
        httpx.delete(f"{url}/sandbox/requests", timeout=30)
        time.sleep(0.2)
        started = time.monotonic()
        for name in names:
            kube.patch(
                ROLLOUTS,
                name,
                {
                    "spec": {
                        "template": {"spec": {"containers": [{"name": "app", "image": "app:v2"}]}}
                    }
                },
                namespace=NS,
            )
        wait_until(kube, all_healthy, timeout=900, what="all promoted")

        def old_scaled_down() -> bool:
            deps, _ = kube.list(DEPLOYMENTS, namespace=NS, label_selector=labels.NAME)
            return sum(1 for d in deps if d["spec"].get("replicas")) == n

        while not old_scaled_down():
            time.sleep(0.5)
        wall = time.monotonic() - started
        time.sleep(1.0)  # let trailing reconciles (status refreshes) land in the counters
        rss = peak_rss_mib(controller.pid)
        # The driver's own writes (one image patch per rollout) are not the controller's.
        by_resource = writes_by_resource(url)
        by_resource["rollouts"] = by_resource.get("rollouts", 0) - n
        controller.send_signal(signal.SIGTERM)
        controller.wait(timeout=60)
        stats = json.loads(stats_file.read_text())
    finally:
        if controller is not None and controller.poll() is None:
            controller.kill()
        kube.close()
        stop_sandbox(sandbox)

    requests = stats["api_requests"]
    writes = sum(v for k, v in requests.items() if k in ("create", "update", "patch", "delete"))
    return {
        "router": router,
        "rollouts": n,
        "setup_seconds": round(setup, 1),
        "wall_seconds": round(wall, 1),
        "reconciles": stats["reconciles"],
        "reconciles_per_second": round(stats["reconciles"] / wall, 1),
        "reconcile_p50_ms": round(stats["latency_seconds"]["p50"] * 1000, 1),
        "reconcile_p99_ms": round(stats["latency_seconds"]["p99"] * 1000, 1),
        "reconcile_max_ms": round(stats["latency_seconds"]["max"] * 1000, 1),
        "api_requests_per_rollout_by_verb": {
            k: round(v / n, 2) for k, v in sorted(requests.items())
        },
        "api_writes_per_step_transition": round(writes / n / TRANSITIONS, 2),
        "writes_per_step_transition_by_resource": {
            k: round(v / n / TRANSITIONS, 2) for k, v in sorted(by_resource.items()) if v
        },
        "controller_peak_rss_mib": round(rss, 1),
    }


def write_report(out: str | Path, report: dict[str, Any]) -> int:
    """Write a benchmark's figures (with the command and machine in them) as JSON; 0."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written to {path}")
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rollouts", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--routers", nargs="+", default=["none"], choices=sorted(ROUTINGS))
    parser.add_argument("--out", default=str(ROOT / "bench-results" / "canary.json"))
    args = parser.parse_args()
    command = (
        "python -m tests.bench.canary_bench --rollouts "
        + " ".join(map(str, args.rollouts))
        + " --routers "
        + " ".join(args.routers)
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for router in args.routers:
            for n in args.rollouts:
                result = run(n, Path(tmp), router)
                print(json.dumps(result), flush=True)
                results.append(result)
    report = {
        "command": command,
        "machine": f"{os.cpu_count()} cores",
        "when": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "results": results,
    }
    return write_report(args.out, report)


if __name__ == "__main__":
    sys.exit(main())
