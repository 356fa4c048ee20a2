"""Wall-clock jumps for one process: libfaketime (Debian's `libfaketime`), preloaded into the
controller only, steered at run time through a timestamp file.

How the controller reads time (grep of rollout/): every decision takes `datetime.now(UTC)`
(rollout.reconciler.controller.utcnow) and every timer is an APScheduler "date" job at a
wall-clock instant; the leader elector and the workers' heartbeats use `time.monotonic()`. A
real clock step (NTP, a VM resumed) moves the first and not the second, and so does this:

- `FAKETIME_TIMESTAMP_FILE` holds an offset such as `+600` (seconds, relative to the real
  clock); rewriting it moves `time.time()` / `datetime.now()` of the running process within
  `FAKETIME_CACHE_DURATION` (1 s; the default is 10 s). Not `FAKETIME_NO_CACHE=1`: it re-reads
  the file on every intercepted call, and libfaketime intercepts poll/select and timed waits
  too (measured on 100 releases without faults: 15.5 s without libfaketime, 96 s with
  NO_CACHE, 60 s with a 1 s cache, 22.8 s with a 1 s cache and the monotonic fix off).
- `FAKETIME_DONT_FAKE_MONOTONIC=1`: `CLOCK_MONOTONIC` (time.monotonic, the timeouts of
  Event.wait / Lock.acquire) stays real. Faked, the timed waits of a Python
  process hang on this libfaketime (0.9.10: `threading.Event().wait(0.5)` never returns), and a
  real clock step would not move it anyway.
- `NO_FAKE_STAT=1`: file times stay real, so the interpreter's .pyc checks are unaffected.
- `FAKETIME_FORCE_MONOTONIC_FIX=0`: libfaketime turns its "monotonic fix" on by itself for
  this glibc; it then wraps every pthread_cond_timedwait, which CPython's GIL hand-off uses,
  and the controller ran almost 3 times slower (60 s against 22.8 s, above). Timed waits are
  on CLOCK_MONOTONIC, which is not faked, so the fix has nothing to correct here.

One thing does not work under it: `time.sleep()` fails with EINVAL (CPython 3.11 sleeps with
clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME), which this libfaketime mishandles when
monotonic is not faked). The controller never calls it (its waits are Event/Condition waits;
urllib3's retries have no back-off), and the test fails on any traceback in its log.

libfaketime keeps a shared-memory segment and a semaphore per process in /dev/shm, removed at
a clean exit; a SIGKILLed process leaves them, and a later process reusing that pid would then
fail to start (`shm_open failed: File exists`), so `remove_leftovers(pid)` after each kill.

The test set-up installs the package with apt-get when the library is missing, as
tests/analysis/prometheus_server.py does for Prometheus (the tests run as root on Debian).
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from pathlib import Path

from tests.locks import APT, locked

LIBRARY_DIRS = ("/usr/lib/x86_64-linux-gnu/faketime", "/usr/lib/aarch64-linux-gnu/faketime")
LIBRARY = "libfaketime.so.1"
CACHE_SECONDS = 1
"""How often the process re-reads the offset: a jump takes effect within this long."""


class FaketimeUnavailableError(RuntimeError):
    """libfaketime is not installed and could not be installed."""


def find_library() -> Path | None:
    for folder in LIBRARY_DIRS:
        path = Path(folder) / LIBRARY
        if path.exists():
            return path
    return None


def ensure_installed() -> Path:
    """The path of libfaketime.so.1, installing Debian's `libfaketime` when it is missing."""
    with locked(APT):
        return _ensure_installed()


def _ensure_installed() -> Path:
    found = find_library()
    if found is None:
        script = "apt-get update && apt-get install -y --no-install-recommends libfaketime"
        try:
            done = subprocess.run(
                ["sh", "-c", script],
                env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"},
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise FaketimeUnavailableError(f"`{script}` failed: {exc}") from exc
        found = find_library()
        if found is None:
            raise FaketimeUnavailableError(
                f"libfaketime is not installed and `{script}` exited {done.returncode}: "
                f"{done.stderr.strip()[-2000:]} (install the Debian package by hand, as root)"
            )
    return found


class WallClock:
    """The wall clock of the processes started with `env()`: `jump(seconds)` steps it."""

    def __init__(self, library: Path, timestamp_file: Path) -> None:
        self.library = library
        self.file = timestamp_file
        self.offset = 0
        self.jumps: list[int] = []
        self._write()

    def env(self) -> dict[str, str]:
        return {
            "LD_PRELOAD": str(self.library),
            "FAKETIME_TIMESTAMP_FILE": str(self.file),
            "FAKETIME_CACHE_DURATION": str(CACHE_SECONDS),
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
            "NO_FAKE_STAT": "1",
            "FAKETIME_FORCE_MONOTONIC_FIX": "0",
        }

    def jump(self, seconds: int) -> None:
        """Step the clock by `seconds` (negative: backwards), now."""
        self.offset += seconds
        self.jumps.append(seconds)
        self._write()

    def _write(self) -> None:
        # Written to a temporary file and renamed: a reader never sees a half-written offset.
        partial = self.file.with_suffix(".tmp")
        partial.write_text(f"{self.offset:+d}\n")
        partial.replace(self.file)


def remove_leftovers(pid: int) -> None:
    """What libfaketime leaves in /dev/shm for a process killed without clean-up."""
    for path in (f"/dev/shm/faketime_shm_{pid}", f"/dev/shm/sem.faketime_sem_{pid}"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
