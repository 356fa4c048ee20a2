"""The scale bench's view of its processes, from outside: CPU seconds and resident memory
from /proc, the machine's busy and stolen cores, "quiet" (a process under a share of a core),
the controller's /metrics and /readyz, a free port, a timed CLI run. Linux only."""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import threading
import time
from collections import defaultdict
from pathlib import Path

import httpx

from tests.bench.canary_bench import peak_rss_mib

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime + stime


def machine_busy_seconds() -> tuple[float, float]:
    """CPU seconds the machine's cores were not idle (all cores, since boot), and of them the
    seconds stolen: a virtual machine's cores taken by its host for other guests (the 8th
    field of /proc/stat), which no process here can see in its own CPU time."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle, iowait
    return (sum(fields[:8]) - idle) / CLOCK_TICKS, fields[7] / CLOCK_TICKS


def reset_peak_rss(pid: int) -> bool:
    """Reset the kernel's peak-RSS mark (VmHWM) of `pid` (Linux: 5 > clear_refs)."""
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


class RssSampler:
    """VmRSS of some processes every `interval` seconds, on a thread, until stopped."""

    def __init__(self, pids: dict[str, int], interval: float = 0.25) -> None:
        self._pids = pids
        self._interval = interval
        self._stop = threading.Event()
        self.samples: dict[str, list[float]] = {k: [] for k in pids}
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while True:
            for key, pid in self._pids.items():
                self.samples[key].append(peak_rss_mib(pid, "VmRSS"))
            if self._stop.wait(self._interval):
                return


def wait_quiet(pid: int, *, timeout: float, window: float = 1.0, share: float = 0.05) -> float:
    """Block until the process uses less than `share` of a core over `window` seconds (its
    work queue has drained); returns when that window began."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        began, used = time.monotonic(), cpu_seconds(pid)
        time.sleep(window)
        if cpu_seconds(pid) - used < share * window:
            return began
    raise TimeoutError(f"process {pid} still busy after {timeout:.0f}s")


def scrape(port: int) -> tuple[float, int, dict[str, float]]:
    """GET /metrics: seconds, bytes, and the sums of the controller's own series we use."""
    started = time.perf_counter()
    body = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=120).text
    seconds = time.perf_counter() - started
    sums: dict[str, float] = defaultdict(float)
    for line in body.splitlines():
        if line.startswith("rollout_reconcile_duration_seconds_count"):
            sums["reconciles"] += float(line.rsplit(" ", 1)[1])
        elif line.startswith("rollout_api_requests_total{"):
            verb = line.split('verb="', 1)[1].split('"', 1)[0]
            sums[verb] += float(line.rsplit(" ", 1)[1])
    return seconds, len(body), dict(sums)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, *, timeout: float) -> float:
    """Poll the controller's /readyz until it answers 200 (caches synced, workers started)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(timeout=2) as http:
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if http.get(f"http://127.0.0.1:{port}/readyz").status_code == 200:
                    return time.monotonic()
            time.sleep(0.05)
    raise TimeoutError(f"controller not ready in {timeout:.0f}s")


def timed_cli(args: list[str]) -> tuple[float, bytes]:
    started = time.perf_counter()
    done = subprocess.run(args, capture_output=True, check=True)
    return time.perf_counter() - started, done.stdout
