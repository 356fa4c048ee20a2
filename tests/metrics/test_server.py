"""Serving: each controller has a registry of its own (several in one process do not mix), port
0 picks a free port, and `rollout controller --metrics-port/--metrics-address` serves /metrics
from a real controller process."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rollout.cli.main import build_parser
from rollout.metrics import ControllerMetrics, MetricsServer
from rollout.models import HistoryEntry
from rollout.models.time import parse_time
from tests.e2e.harness import Cluster
from tests.metrics.scrape import scrape, scrape_until


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def entry(reason: str) -> HistoryEntry:
    return HistoryEntry(time=parse_time("2026-11-22T10:00:00Z"), reason=reason, message="m")


def test_two_controllers_in_one_process_serve_their_own_metrics() -> None:
    one, two = ControllerMetrics(), ControllerMetrics()
    one.set_leader(True)
    two.set_leader(False)
    one.decided([entry("Promoted"), entry("Promoted")])
    two.decided([entry("RolloutAborted")])
    servers = [MetricsServer(m.registry, address="127.0.0.1", port=0) for m in (one, two)]
    for server in servers:
        server.start()
    try:
        assert servers[0].port != servers[1].port and 0 not in (servers[0].port, servers[1].port)
        first, second = (scrape(s.port) for s in servers)
        assert first.value("rollout_controller_leader") == 1
        assert second.value("rollout_controller_leader") == 0
        assert first.value("rollout_decisions_total", reason="Promoted") == 2
        assert first.value("rollout_decisions_total", reason="RolloutAborted") == 0
        assert second.value("rollout_decisions_total", reason="RolloutAborted") == 1
        assert servers[0].url == f"http://127.0.0.1:{servers[0].port}/metrics"
    finally:
        for server in servers:
            server.stop()
    with pytest.raises(httpx.TransportError):  # stopped means closed
        httpx.get(servers[0].url, timeout=2)


def test_the_command_line_options_and_their_defaults() -> None:
    parse = build_parser().parse_args
    defaults = parse(["controller"])
    assert (defaults.metrics_port, defaults.metrics_address) == (8090, "0.0.0.0")
    given = parse(["controller", "--metrics-port", "9000", "--metrics-address", "127.0.0.1"])
    assert (given.metrics_port, given.metrics_address) == (9000, "127.0.0.1")


@pytest.fixture
def kubeconfig(cluster: Cluster, tmp_path: Path) -> Path:
    path = tmp_path / "kubeconfig"
    cluster.sandbox.write_kubeconfig(path)
    return path


@contextlib.contextmanager
def controller_process(kubeconfig: Path, *options: str) -> Iterator[subprocess.Popen[bytes]]:
    """`rollout controller` with its log in a file beside the kubeconfig (a pipe nobody reads
    could block it)."""
    command = [sys.executable, "-m", "rollout.cli.main", "controller"]
    command += ["--kubeconfig", str(kubeconfig), "--workers", "2", "--log-level", "info"]
    with kubeconfig.with_suffix(".log").open("wb") as log:
        proc = subprocess.Popen([*command, *options], stdout=log, stderr=log)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=10)


def stop(proc: subprocess.Popen[bytes], kubeconfig: Path) -> str:
    """SIGTERM; it must exit cleanly. Returns its log."""
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    log = kubeconfig.with_suffix(".log").read_text()
    assert proc.returncode == 0, log
    return log


@pytest.mark.e2e
def test_rollout_controller_serves_metrics_on_the_port_and_address_given(
    cluster: Cluster, kubeconfig: Path
) -> None:
    port = free_port()
    options = ("--metrics-port", str(port), "--metrics-address", "127.0.0.1")
    with controller_process(kubeconfig, *options) as proc:
        cluster.create("app")
        cluster.wait_phase("app", "Healthy")
        found = scrape_until(
            port,
            lambda s: bool(s.series("rollout_info", name="app", phase="Healthy")),
            timeout=30,
            what="the rollout Healthy in the process's metrics",
        )
        assert found.value("rollout_decisions_total", reason="Deployed") == 1
        log = stop(proc, kubeconfig)
        assert f"metrics served on http://127.0.0.1:{port}/metrics" in log


@pytest.mark.e2e
def test_rollout_controller_with_metrics_port_0_serves_none(
    cluster: Cluster, kubeconfig: Path
) -> None:
    with controller_process(kubeconfig, "--metrics-port", "0") as proc:
        cluster.create("app")
        cluster.wait_phase("app", "Healthy")
        time.sleep(0.2)
        log = stop(proc, kubeconfig)
        assert "controller started" in log
        assert "metrics" not in log
