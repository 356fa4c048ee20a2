"""List-then-watch streams, and the buffer that coalesces their events until the screen shows
them. No Textual here: the app runs `follow` in a thread worker and drains `Changes` on its
own clock.

`follow` lists once, then watches from the list's resourceVersion, moving it on with every
event and BOOKMARK, so a stream the server ends (timeout) or that breaks resumes where it was
without listing again; only a 410 Gone (the version is too old) lists again. Errors are
reported and retried with backoff; nothing is ever polled.

A watch blocks in a socket read that no other thread can interrupt, so the stream is read by a
daemon thread (`_interruptible`) and the worker only waits on a queue: stopping the dashboard
never waits for the server to end a stream.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import TypeVar

from rollout.errors import GoneError, KubeError
from rollout.kube import WatchEvent
from rollout.kube.client import Obj

T = TypeVar("T")
Lister = Callable[[], tuple[list[Obj], str]]
Watcher = Callable[[str, int], Iterator[WatchEvent]]
"""(resourceVersion, timeout_seconds) -> events"""

POLL = 0.1
"""How often (s) a waiting worker looks at its stop flag."""


def object_key(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    return f"{meta.get('namespace') or ''}/{meta.get('name', '')}"


@dataclass
class Batch:
    """What changed since the last drain."""

    reset: dict[str, Obj] | None = None
    """A fresh list: the whole set, replacing what was known (None: no relist happened)."""
    changed: dict[str, Obj | None] = field(default_factory=dict)
    """key -> the newest object (None: deleted), after `reset` if both are given."""
    error: str | None = None
    """The stream's last problem, "" once it works again, None: no news."""

    def __bool__(self) -> bool:
        return self.reset is not None or bool(self.changed) or self.error is not None


class Changes:
    """Events not shown yet, coalesced: a burst of events for one object becomes one change.
    Written by the watch thread, drained by the UI thread."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._batch = Batch()
        self.events = 0
        """Events received in all (for benchmarks)."""

    def replace(self, items: Iterable[Obj]) -> None:
        with self._lock:
            self._batch.reset = {object_key(o): o for o in items}
            self._batch.changed.clear()

    def put(self, obj: Obj, *, deleted: bool = False) -> None:
        with self._lock:
            self._batch.changed[object_key(obj)] = None if deleted else obj
            self.events += 1

    def problem(self, message: str) -> None:
        with self._lock:
            self._batch.error = message

    def take(self) -> Batch:
        with self._lock:
            batch, self._batch = self._batch, Batch()
        return batch


def follow(
    list_items: Lister,
    watch_items: Watcher,
    changes: Changes,
    *,
    stop: threading.Event,
    what: str,
    watch_timeout: int = 300,
) -> None:
    """List, then watch with resume, into `changes`, until `stop` is set."""
    version = ""
    backoff = 0.5
    failing = False
    while not stop.is_set():
        try:
            if not version:
                items, version = list_items()
                changes.replace(items)
                changes.problem("")
                failing = False
            for event in _interruptible(watch_items(version, watch_timeout), stop):
                if failing:  # the stream works again
                    changes.problem("")
                    failing = False
                obj = event.object
                version = str((obj.get("metadata") or {}).get("resourceVersion") or version)
                if event.type in ("ADDED", "MODIFIED", "DELETED"):
                    changes.put(obj, deleted=event.type == "DELETED")
            backoff = 0.5
        except GoneError:
            version = ""  # too old to resume from: list again
        except KubeError as err:
            changes.problem(f"{what}: {err} (retrying in {backoff:.0f}s)")
            failing = True
            stop.wait(backoff)
            backoff = min(backoff * 2, 10.0)


def _interruptible(events: Iterator[T], stop: threading.Event) -> Iterator[T]:
    """`events`, read by a daemon thread, so that the caller can give up when `stop` is set
    even while the stream is blocked waiting for the server. The reader ends with its stream
    (the server's timeout, or the connection closing)."""
    box: queue.SimpleQueue[tuple[str, object]] = queue.SimpleQueue()

    def read() -> None:
        try:
            for item in events:
                box.put(("item", item))
                if stop.is_set():
                    break
            box.put(("end", None))
        except Exception as err:  # handed to the caller, who raises it on its own thread
            box.put(("error", err))

    threading.Thread(target=read, name="dashboard-watch", daemon=True).start()
    while not stop.is_set():
        try:
            kind, value = box.get(timeout=POLL)
        except queue.Empty:
            continue
        if kind == "end":
            return
        if kind == "error":
            assert isinstance(value, Exception)
            raise value
        yield value  # type: ignore[misc]  # "item" entries hold a T
