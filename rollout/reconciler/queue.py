"""A work queue with per-key serialisation: a key is never reconciled by two workers at once,
and a key added while it is being worked on is queued again once, after it is done.
`adds` counts the adds that queued a key (or marked an active one to come back), for metrics."""

from __future__ import annotations

import threading
from collections import deque


class WorkQueue:
    def __init__(self) -> None:
        self._queue: deque[str] = deque()
        self._queued: set[str] = set()
        self._active: set[str] = set()
        self._dirty: set[str] = set()
        self._cond = threading.Condition()
        self._closed = False
        self._adds = 0

    @property
    def adds(self) -> int:
        return self._adds

    def add(self, key: str) -> None:
        with self._cond:
            if key in self._active:
                if key not in self._dirty:
                    self._adds += 1
                self._dirty.add(key)
            elif key not in self._queued:
                self._adds += 1
                self._queued.add(key)
                self._queue.append(key)
                self._cond.notify()

    def get(self, timeout: float | None = None) -> str | None:
        with self._cond:
            if not self._queue and not self._closed:
                self._cond.wait(timeout)
            if not self._queue:
                return None
            key = self._queue.popleft()
            self._queued.discard(key)
            self._active.add(key)
            return key

    def done(self, key: str) -> None:
        with self._cond:
            self._active.discard(key)
            if key in self._dirty:
                self._dirty.discard(key)
                if key not in self._queued:
                    self._queued.add(key)
                    self._queue.append(key)
                    self._cond.notify()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    def __len__(self) -> int:
        with self._cond:
            return len(self._queue)
