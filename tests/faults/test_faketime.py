"""libfaketime does to a Python process what the fault suite needs (tests/faults/faketime.py):
rewriting the offset file steps time.time() forward and back in a running process, while
time.monotonic() and timed waits (Event.wait, what APScheduler and the workers wait on) stay
real."""

from __future__ import annotations

import itertools
import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.faults.faketime import CACHE_SECONDS, WallClock, ensure_installed

pytestmark = pytest.mark.slow

# Prints (wall offset from its start, monotonic since its start, length of a 0.2 s Event.wait)
# every 0.2 s, for 4 s.
PROBE = """
import json, threading, time
wall, mono = time.time(), time.monotonic()
for _ in range(20):
    start = time.monotonic()
    threading.Event().wait(0.2)
    print(json.dumps([time.time() - wall, time.monotonic() - mono, time.monotonic() - start]),
          flush=True)
"""


def test_the_wall_clock_jumps_and_the_monotonic_clock_does_not(tmp_path: Path) -> None:
    clock = WallClock(ensure_installed(), tmp_path / "faketime.rc")
    probe = subprocess.Popen(
        [sys.executable, "-c", PROBE],
        env={**clock.env(), "PATH": "/usr/bin:/bin"},
        stdout=subprocess.PIPE,
        text=True,
    )
    time.sleep(1.0)
    clock.jump(600)
    time.sleep(CACHE_SECONDS + 0.8)
    clock.jump(-900)  # to 300 s behind the real clock
    out, _ = probe.communicate(timeout=30)
    assert probe.returncode == 0
    samples = [json.loads(line) for line in out.splitlines()]
    walls = [w - m for w, m, _ in samples]  # wall minus monotonic: the offset seen
    assert abs(walls[0]) < 0.1, walls
    assert any(abs(w - 600) < 0.5 for w in walls), walls
    assert abs(walls[-1] + 300) < 0.5, walls
    monotonic = [m for _, m, _ in samples]
    assert all(0.15 < b - a < 0.5 for a, b in itertools.pairwise(monotonic))
    assert all(0.15 < waited < 0.5 for _, _, waited in samples)
