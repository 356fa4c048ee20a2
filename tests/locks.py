"""Locks shared by test processes.

The suite runs in parallel workers (pytest-xdist), and people run it twice at once. Two
workers that both find Prometheus or libfaketime missing would run apt-get together, and one
would fail on dpkg's lock; a worker that saw the binaries half-installed could start a server
that the installing worker then stops as "started by the package". So the check for a missing
tool and its install both happen under one exclusive lock.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

APT = Path("/tmp/rollout-tests-apt.lock")
"""Held around each check-then-install of a Debian package."""


@contextmanager
def locked(path: Path) -> Iterator[None]:
    """Hold an exclusive lock on `path` (created if missing), waiting for any other holder."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
