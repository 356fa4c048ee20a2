"""Builders for the preflight tests: Rollouts, the cluster objects they refer to, and a tiny
Prometheus-shaped HTTP server on 127.0.0.1 (the real Prometheus is for the provider tests;
preflight only needs something that answers the API's shape, or nothing at all)."""

from __future__ import annotations

import base64
import json
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from rollout.analysis.preflight import Check, run_preflight
from rollout.kube import SERVICES, Kind, Kube
from rollout.models.preflight import Preflight
from rollout.models.resource import Rollout
from rollout.parsing import parse_rollout
from tests.e2e.harness import Cluster

NS = "default"
Obj = dict[str, Any]
IMAGE = "ghcr.io/acme/app:1.0"


def rollout(
    pod: Obj | None = None,
    *,
    canary: Obj | None = None,
    analysis: Obj | None = None,
    preflight: Preflight | None = None,
) -> Rollout:
    """Rollout `app` in `default` with the pod spec `pod` (one plain container by default)."""
    doc: Obj = {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "app", "namespace": NS, "uid": "uid-app"},
        "spec": {
            "selector": {"matchLabels": {"app": "app"}},
            "template": {
                "metadata": {"labels": {"app": "app"}},
                "spec": pod or {"containers": [{"name": "app", "image": IMAGE}]},
            },
            "strategy": {
                "canary": {"stableService": "app-stable", "canaryService": "app-canary"}
                | (canary or {})
            },
        },
    }
    if analysis is not None:
        doc["spec"]["analysis"] = analysis
    parsed = parse_rollout(doc)
    if preflight is None:
        return parsed
    # spec.preflight is wired into RolloutSpec separately; setting it on a copy works before
    # and after that, and run_preflight reads it the same way in both cases.
    spec = parsed.spec.model_copy(update={"preflight": preflight})
    return parsed.model_copy(update={"spec": spec})


def run(cluster: Cluster, target: Rollout, **options: Any) -> list[Check]:
    assert target.spec.template is not None
    return run_preflight(cluster.kube, target, target.spec.template.to_dict(), **options)


def create(kube: Kube, kind: Kind, name: str, **fields: Any) -> Obj:
    body = {"apiVersion": kind.api_version, "kind": kind.kind, "metadata": {"name": name}}
    return kube.create(kind, body | fields, namespace=NS if kind.namespaced else None)


def secret_data(**values: str) -> dict[str, str]:
    return {k: base64.b64encode(v.encode()).decode() for k, v in values.items()}


def basics(kube: Kube) -> None:
    """What every Rollout here needs: its two Services. (The namespace's default
    ServiceAccount is made by the sandbox, as by a real cluster.)"""
    for name in ("app-stable", "app-canary"):
        create(kube, SERVICES, name, spec={"selector": {"app": "app"}, "ports": [{"port": 80}]})


def by_name(checks: list[Check]) -> dict[str, Check]:
    named = {c.name: c for c in checks}
    assert len(named) == len(checks), f"check names repeat: {[c.name for c in checks]}"
    return named


def failed(checks: list[Check]) -> dict[str, str]:
    return {c.name: c.message for c in checks if not c.ok}


# -- a Prometheus-shaped server --------------------------------------------------------------
class _PrometheusAPI(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path.startswith("/api/v1/query?"):
            code = 200
            body = {"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}
        else:
            code, body = 404, {"status": "error", "error": "not found"}
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        return None  # quiet test output


@contextmanager
def prometheus_api() -> Iterator[str]:
    """The base URL of a server answering `/api/v1/query` as Prometheus does."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _PrometheusAPI)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


def closed_port_address() -> str:
    """An address nothing listens on: a port the kernel just gave us, closed again."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"
