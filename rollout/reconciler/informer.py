"""A list-then-watch cache of one kind, with resume and relist.

The cache is the controller's view of the cluster. It resumes a dropped watch from the last
resourceVersion it saw, lists again on 410 Gone, and accepts write-through of the objects our
own writes return, so the next reconcile does not decide from a stale copy of our own work.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import defaultdict
from collections.abc import Callable

from rollout.errors import GoneError, KubeError
from rollout.kube import Kind, Kube
from rollout.kube.client import Obj

log = logging.getLogger(__name__)

Handler = Callable[[Obj], None]


def object_key(obj: Obj) -> str:
    meta = obj["metadata"]
    return f"{meta.get('namespace') or ''}/{meta['name']}"


def _newer_or_equal(a: str, b: str) -> bool:
    """Is resourceVersion `a` at least `b`? They are opaque strings, but etcd revisions are
    integers in practice; when they are not, trust the newer arrival."""
    if a.isdigit() and b.isdigit():
        return int(a) >= int(b)
    return True


class Informer:
    def __init__(
        self,
        kube: Kube,
        kind: Kind,
        *,
        on_change: Handler,
        namespace: str | None = None,
        label_selector: str | None = None,
        index_label: str | None = None,
        watch_timeout: int = 120,
    ) -> None:
        self.kind = kind
        self._kube = kube
        self._on_change = on_change
        self._namespace = namespace
        self._selector = label_selector
        self._index_label = index_label
        self._watch_timeout = watch_timeout
        self._objects: dict[str, Obj] = {}
        self._quiet: dict[str, str] = {}  # key -> resourceVersion whose event needs no reconcile
        self._index: dict[str, set[str]] = defaultdict(set)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self.synced = threading.Event()
        self._version = ""  # the resourceVersion to watch from; "" lists first
        self._delivered = False  # the current watch has delivered an event
        self._thread = threading.Thread(
            target=self._run, name=f"informer-{kind.plural}", daemon=True
        )

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def alive(self) -> bool:
        """Its list-and-watch thread is running (for the controller's /healthz)."""
        return self._thread.is_alive()

    # -- reading -----------------------------------------------------------------------------
    def get(self, namespace: str | None, name: str) -> Obj | None:
        with self._lock:
            return self._objects.get(f"{namespace or ''}/{name}")

    def by_index(self, namespace: str | None, value: str) -> list[Obj]:
        """Objects in `namespace` whose `index_label` equals `value`."""
        with self._lock:
            keys = self._index.get(f"{namespace or ''}/{value}", set())
            return [self._objects[k] for k in keys]

    def all(self) -> list[Obj]:
        with self._lock:
            return list(self._objects.values())

    # -- writing -----------------------------------------------------------------------------
    def write_through(self, obj: Obj, *, quiet: bool = False) -> None:
        """Our own write's result, ahead of its watch event. `quiet`: the writer has already
        done all that this version calls for, so its watch event, when it comes back, is
        stored without a notification (any other version still notifies)."""
        if quiet:
            with self._lock:
                self._quiet[object_key(obj)] = str(obj["metadata"].get("resourceVersion", ""))
        self._store(obj, notify=False)

    def _store(self, obj: Obj, *, notify: bool) -> None:
        key = object_key(obj)
        with self._lock:
            old = self._objects.get(key)
            new_rv = str(obj["metadata"].get("resourceVersion", ""))
            if notify and self._quiet.pop(key, None) == new_rv:
                notify = False  # the echo of a quiet write-through
            if old is not None:
                old_rv = str(old["metadata"].get("resourceVersion", ""))
                if not _newer_or_equal(new_rv, old_rv):
                    return  # an older event than what a write-through already gave us
                self._unindex(key, old)
            self._objects[key] = obj
            if self._index_label:
                value = (obj["metadata"].get("labels") or {}).get(self._index_label)
                if value is not None:
                    self._index[f"{obj['metadata'].get('namespace') or ''}/{value}"].add(key)
        if notify:
            self._on_change(obj)

    def _drop(self, key: str) -> Obj | None:
        old = self._objects.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: Obj) -> None:
        if self._index_label:
            value = (obj["metadata"].get("labels") or {}).get(self._index_label)
            bucket = self._index.get(f"{obj['metadata'].get('namespace') or ''}/{value}")
            if bucket is not None:
                bucket.discard(key)

    # -- the loop ----------------------------------------------------------------------------
    def _run(self) -> None:
        backoff = 0.1
        while not self._stop.is_set():
            self._delivered = False
            try:
                if not self._version:
                    self._version = self._relist()
                    self.synced.set()
                self._watch()
                backoff = 0.1
            except GoneError:
                log.info("%s: watch expired, listing again", self.kind.plural)
                self._version = ""
            except KubeError as err:
                if self._delivered:
                    # The stream worked and then broke (a reset, an API server restart): the
                    # server is up, so resume at once rather than after a growing back-off
                    # (client-go resets its back-off after a watch that ran well, too).
                    backoff = 0.1
                log.warning("%s: %s; retrying in %.1fs", self.kind.plural, err, backoff)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
            except Exception:  # the informer must outlive any one bad event
                log.exception("%s: informer error", self.kind.plural)
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
                self._version = ""

    def _relist(self) -> str:
        items, resource_version = self._kube.list(
            self.kind, namespace=self._namespace, label_selector=self._selector
        )
        fresh = {object_key(o): o for o in items}
        with self._lock:
            self._quiet.clear()  # after a gap in the watch, every listed object notifies
            gone = [k for k in self._objects if k not in fresh]
            removed = [o for o in (self._drop(k) for k in gone) if o is not None]
        for obj in items:
            self._store(obj, notify=True)
        for obj in removed:
            self._on_change(obj)
        return resource_version

    def _watch(self) -> None:
        """Watch from `_version`, moving it on with every event: a stream that breaks midway
        (a reset, not a clean end) resumes from the last event seen, not from the start."""
        started = time.monotonic()
        for event in self._kube.watch(
            self.kind,
            namespace=self._namespace,
            resource_version=self._version,
            label_selector=self._selector,
            timeout_seconds=self._watch_timeout,
        ):
            if self._stop.is_set():
                break
            obj = event.object
            self._delivered = True
            self._version = str(obj["metadata"].get("resourceVersion", self._version))
            if event.type == "BOOKMARK":
                continue
            if event.type == "DELETED":
                with self._lock:
                    self._quiet.pop(object_key(obj), None)
                    self._drop(object_key(obj))
                self._on_change(obj)
            else:
                self._store(obj, notify=True)
        if time.monotonic() - started < 0.05 and not self._stop.is_set():
            self._stop.wait(0.05)  # a server closing streams at once must not make us spin
