"""A probe of the cyclic garbage collector in a `rollout controller` process: put this
directory first on PYTHONPATH of a benchmark run and every controller it starts counts its
collections and their pauses (gc.callbacks), snapshots them at each SIGUSR1 (the scale
benchmark sends one as its concurrent phase starts) and writes them at exit to
$GC_PROBE_OUT/gc-probe-PID.json (default: the working directory).

    PYTHONPATH=tests/bench/gc_probe GC_PROBE_OUT=/tmp/gc \\
        python -m tests.bench.scale_bench --rollouts 10000 --concurrent 1000 --list-runs 1

The concurrent phase's figures are `end` minus the last `usr1` snapshot. Other processes
(the sandbox, the driver) are left alone. Not imported by anything of ours."""

from __future__ import annotations

import sys

if "controller" in sys.argv:
    import atexit
    import copy
    import gc
    import json
    import os
    import signal
    import time
    from typing import Any

    _stats: dict[str, Any] = {
        "collections": [0, 0, 0],
        "seconds": [0.0, 0.0, 0.0],
        "max_pause": 0.0,
    }
    _snapshots: list[dict[str, Any]] = []
    _started = [0.0]

    def _on_gc(phase: str, info: dict[str, Any]) -> None:
        if phase == "start":
            _started[0] = time.perf_counter()
            return
        pause = time.perf_counter() - _started[0]
        generation = int(info["generation"])
        _stats["collections"][generation] += 1
        _stats["seconds"][generation] += pause
        _stats["max_pause"] = max(_stats["max_pause"], pause)

    def _now() -> dict[str, Any]:
        return {
            **copy.deepcopy(_stats),
            "cpu": time.process_time(),
            "frozen": gc.get_freeze_count(),
        }

    gc.callbacks.append(_on_gc)
    _install = signal.signal

    def _signal(sig: Any, handler: Any) -> Any:
        """The controller's own SIGUSR1 handler (reset its counters), with a snapshot first."""
        if sig != signal.SIGUSR1 or not callable(handler):
            return _install(sig, handler)

        def snapshot_then(*args: Any) -> None:
            _snapshots.append(_now())
            _stats["max_pause"] = 0.0
            handler(*args)

        return _install(sig, snapshot_then)

    signal.signal = _signal

    def _write() -> None:
        out = os.environ.get("GC_PROBE_OUT", ".")
        with open(os.path.join(out, f"gc-probe-{os.getpid()}.json"), "w") as f:
            json.dump({"end": _now(), "usr1": _snapshots}, f, indent=2)

    atexit.register(_write)
