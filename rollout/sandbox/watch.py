"""Watch fan-out: bounded per-resource event history and per-watcher queues.

The store publishes every committed change here while holding its lock; each
open watch stream owns a :class:`Watcher` whose queue the HTTP thread drains.
Publishing never blocks: a watcher that falls more than ``max_pending``
events behind is closed (like the API server's watch cache terminates slow
watchers), so one stuck client cannot stall writers.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from rollout import jsonwire

from .errors import expired

JSON = dict[str, Any]


@dataclass
class WatchEvent:
    rv: int
    type: str  # ADDED | MODIFIED | DELETED
    obj: JSON
    # Previous state for MODIFIED, so selector-filtered watchers can turn an
    # object leaving/entering the selection into DELETED/ADDED like the cacher.
    prev: JSON | None = None
    _lines: dict[str, bytes] = field(default_factory=dict, repr=False)

    def line(self, type_: str | None = None) -> bytes:
        # Serialized once per (event, type) no matter how many watchers get it;
        # stored objects are never mutated in place, so sharing is safe.
        t = type_ or self.type
        cached = self._lines.get(t)
        if cached is None:
            cached = jsonwire.dumps({"type": t, "object": self.obj}) + b"\n"
            self._lines[t] = cached
        return cached


def event_line(type_: str, obj: JSON) -> bytes:
    return jsonwire.dumps({"type": type_, "object": obj}) + b"\n"


class WatchClosedError(Exception):
    """Raised by :meth:`Watcher.next` once the watcher has been closed."""

    def __init__(self, reason: str, abrupt: bool) -> None:
        super().__init__(reason)
        self.reason = reason
        self.abrupt = abrupt


class Watcher:
    """One open watch stream: filter + bounded queue of serialized events."""

    def __init__(
        self,
        key: str,
        namespace: str | None,
        name: str | None,
        matcher: Callable[[JSON], bool],
        max_pending: int,
    ) -> None:
        self.key = key
        self.namespace = namespace
        self.name = name
        self._matcher = matcher
        self._max_pending = max_pending
        self._cond = threading.Condition(threading.Lock())
        self._queue: deque[bytes] = deque()
        self._closed: WatchClosedError | None = None

    def selects(self, obj: JSON) -> bool:
        meta = obj.get("metadata") or {}
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name is not None and meta.get("name") != self.name:
            return False
        return self._matcher(obj)

    def translate(self, ev: WatchEvent) -> bytes | None:
        """The line this watcher should see for ``ev`` (None: not selected)."""
        now = self.selects(ev.obj)
        if ev.type != "MODIFIED" or ev.prev is None:
            return ev.line() if now else None
        before = self.selects(ev.prev)
        if now and before:
            return ev.line()
        if now:
            return ev.line("ADDED")
        if before:
            return ev.line("DELETED")
        return None

    def push(self, lines: Iterable[bytes], *, bounded: bool = True) -> None:
        with self._cond:
            if self._closed is not None:
                return
            self._queue.extend(lines)
            if bounded and len(self._queue) > self._max_pending:
                self._queue.clear()
                self._closed = WatchClosedError("watcher fell too far behind", abrupt=False)
            self._cond.notify_all()

    def idle(self) -> bool:
        with self._cond:
            return not self._queue

    def next(self, timeout: float) -> bytes | None:
        """Next line, None on timeout; raises :class:`WatchClosedError` when closed."""
        with self._cond:
            if not self._queue and self._closed is None:
                self._cond.wait(timeout)
            if self._closed is not None:
                raise self._closed
            return self._queue.popleft() if self._queue else None

    def drain(self, limit: int) -> list[bytes]:
        """Whatever else is already queued (never blocks, never raises)."""
        with self._cond:
            out: list[bytes] = []
            while self._queue and len(out) < limit:
                out.append(self._queue.popleft())
            return out

    def close(self, reason: str, *, abrupt: bool = False) -> None:
        with self._cond:
            if self._closed is None:
                self._closed = WatchClosedError(reason, abrupt)
                self._queue.clear()
            self._cond.notify_all()


class WatchHub:
    """Event history + watcher registry, keyed by storage key (``deployments.apps``).

    All methods are called with the store lock held, which is what makes
    "replay history, then register" atomic with respect to new writes.
    """

    def __init__(self, history_size: int = 5000, max_pending: int = 10000) -> None:
        self.history_size = history_size
        self.max_pending = max_pending
        self._history: dict[str, deque[WatchEvent]] = {}
        # Highest resourceVersion evicted (or invalidated) per key: a watch
        # from below it cannot be served and gets 410 Expired.
        self._floor: dict[str, int] = {}
        self._watchers: dict[str, set[Watcher]] = {}
        self._lock = threading.Lock()

    def publish(self, key: str, ev: WatchEvent) -> None:
        with self._lock:
            hist = self._history.setdefault(key, deque())
            hist.append(ev)
            while len(hist) > self.history_size:
                self._floor[key] = hist.popleft().rv
            watchers = list(self._watchers.get(key, ()))
        for w in watchers:
            line = w.translate(ev)
            if line is not None:
                w.push((line,))

    def subscribe(
        self,
        watcher: Watcher,
        since: int | None,
        current: Iterable[JSON],
    ) -> None:
        """Register ``watcher``; replay history after ``since`` or ADDED for ``current``.

        Raises 410 Expired if ``since`` is older than the retained history.
        """
        with self._lock:
            if since is None:
                lines = [event_line("ADDED", o) for o in current if watcher.selects(o)]
            else:
                floor = self._floor.get(watcher.key, 0)
                if since < floor:
                    raise expired(since, floor + 1)
                lines = []
                for ev in self._history.get(watcher.key, ()):
                    if ev.rv > since:
                        line = watcher.translate(ev)
                        if line is not None:
                            lines.append(line)
            # Replayed/initial events are not subject to the slow-watcher bound.
            watcher.push(lines, bounded=False)
            self._watchers.setdefault(watcher.key, set()).add(watcher)

    def unsubscribe(self, watcher: Watcher) -> None:
        with self._lock:
            self._watchers.get(watcher.key, set()).discard(watcher)

    def forget(self, key: str, rv: int) -> None:
        """A resource type went away (CRD deleted): old versions can no longer be resumed."""
        with self._lock:
            self._history.pop(key, None)
            self._floor[key] = rv

    def drop_all(self, *, abrupt: bool = False) -> int:
        with self._lock:
            watchers = [w for ws in self._watchers.values() for w in ws]
        for w in watchers:
            w.close("dropped by sandbox", abrupt=abrupt)
        return len(watchers)

    def count(self) -> int:
        with self._lock:
            return sum(len(ws) for ws in self._watchers.values())
