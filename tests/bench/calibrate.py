"""How fast this machine is right now: a fixed, single-threaded piece of the work a controller
does (encoding and decoding JSON of Rollout-sized objects), timed. The machines the benchmarks
run on are shared: the same code has run 2-3x slower from one hour to the next. A figure taken
with its calibration beside it can be compared with one taken at another time."""

from __future__ import annotations

import json
import time

# About 2 MB of nested objects, the shape of a list of Rollouts' statuses.
_WORK = [
    {
        "metadata": {"name": f"r{i}", "labels": {"app": f"a{i}", "tier": "web"}},
        "status": {
            "conditions": [{"type": t, "status": "True", "reason": "x" * 20} for t in "ABC"],
            "history": [
                {"reason": "StepCompleted", "message": "m" * 60, "step": s} for s in range(8)
            ],
        },
    }
    for i in range(1500)
]


def calibration_seconds(rounds: int = 5) -> float:
    """Seconds for `rounds` encode-and-decode passes over the fixed work (the best of three, so
    one preemption does not count)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        for _ in range(rounds):
            json.loads(json.dumps(_WORK))
        best = min(best, time.perf_counter() - started)
    return round(best, 3)
