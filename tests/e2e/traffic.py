"""A traffic simulator for end-to-end analysis tests: it plays a service's request counters,
split between the stable and the canary revision by the weights the controller reports, and
serves them on /metrics (127.0.0.1) for a real Prometheus to scrape.

Deterministic: every tick adds rate x tick x weight requests to each revision, and that times
the revision's error ratio to its 500s (counters may be fractional; Prometheus does not mind).
"""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
from prometheus_client import CollectorRegistry, Counter, generate_latest

from rollout.errors import KubeError
from rollout.kube import ROLLOUTS, Kube

TICK = 0.2


class TrafficSimulator:
    def __init__(
        self,
        kube: Kube,
        rollout: str,
        *,
        namespace: str = "default",
        rps: float = 200.0,
        stable_errors: float = 0.001,
        canary_errors: float = 0.001,
    ) -> None:
        self._kube, self._rollout, self._namespace = kube, rollout, namespace
        self.rps, self.stable_errors, self.canary_errors = rps, stable_errors, canary_errors
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "http_requests", "Requests served", ["revision", "code"], registry=self.registry
        )
        self.served: dict[str, float] = {}
        self._stop = threading.Event()
        registry = self.registry

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                body = generate_latest(registry)
                self.send_response(200)
                self.send_header("Content-Type", "text/plain; version=0.0.4")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.target = f"127.0.0.1:{self._server.server_address[1]}"
        self._threads = [
            threading.Thread(target=self._server.serve_forever, daemon=True),
            threading.Thread(target=self._play, daemon=True),
        ]

    def start(self) -> TrafficSimulator:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._server.shutdown()
        self._server.server_close()

    def _weights(self) -> dict[str, tuple[float, bool]]:
        """revision -> (share of traffic, is the canary)."""
        try:
            status = (
                self._kube.get(ROLLOUTS, self._rollout, namespace=self._namespace).get("status")
                or {}
            )
        except KubeError:
            return {}
        weights = (status.get("canary") or {}).get("weights")
        stable = status.get("stableRevision")
        if not weights:
            return {stable: (1.0, False)} if stable else {}
        shares: dict[str, tuple[float, bool]] = {}
        for side in ("stable", "canary"):
            revision, weight = weights[side]["revision"], weights[side]["weight"] / 100
            is_canary = revision != stable
            old = shares.get(revision, (0.0, is_canary))[0]
            shares[revision] = (old + weight, is_canary)
        return shares

    def _play(self) -> None:
        while not self._stop.wait(TICK):
            for revision, (share, canary) in self._weights().items():
                served = self.rps * TICK * share
                if served <= 0:
                    continue
                errors = served * (self.canary_errors if canary else self.stable_errors)
                self.requests.labels(revision, "200").inc(served - errors)
                self.requests.labels(revision, "500").inc(errors)
                self.served[revision] = self.served.get(revision, 0.0) + served


def wait_for_scrape(prometheus_url: str, timeout: float = 30.0) -> None:
    """Until Prometheus has scraped the simulator at least twice (rates need two samples)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        answer = httpx.get(
            f"{prometheus_url}/api/v1/query",
            params={"query": "count_over_time(up[1m])"},
            timeout=5,
        ).json()
        result = answer.get("data", {}).get("result", [])
        if result and float(result[0]["value"][1]) >= 2:
            return
        time.sleep(0.5)
    raise AssertionError("Prometheus did not scrape the traffic simulator")
