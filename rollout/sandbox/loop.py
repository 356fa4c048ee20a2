"""The loop every simulated controller of the sandbox runs: wake on a change to the kinds it
watches (or every `tick`), reconcile everything, never die of one bad pass."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable

from .store import JSON, Store

_log = logging.getLogger(__name__)


class ControllerLoop:
    """Subclasses implement `reconcile_all`; `start` / `stop` run it on its own thread."""

    def __init__(self, store: Store, *, name: str, tick: float, watched: Iterable[str]) -> None:
        self._store = store
        self._tick = tick
        self._watched = frozenset(watched)
        self._wake = threading.Event()
        self._stopped = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        store.add_listener(self._on_change)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stopped.set()
        self._wake.set()
        self._thread.join(timeout=5)

    def reconcile_all(self) -> None:
        raise NotImplementedError

    def _on_change(self, key: str, _type: str, _obj: JSON) -> None:
        if key in self._watched:
            self._wake.set()

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._wake.wait(self._tick)
            self._wake.clear()
            try:
                self.reconcile_all()
            except Exception:  # keep simulating even if one pass hits a bug
                _log.exception("sandbox %s pass failed", self._thread.name)
