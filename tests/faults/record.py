"""Every state the API server committed, in commit order, for the invariant checkers.

Why the store and not watches or polling: a watch stream is per resource type (merging them
needs the global resourceVersion, and the sandbox drops them on purpose in these tests), and
polling can miss a bad moment between two polls. A store listener sees every commit exactly
once, in resourceVersion order, under the store's lock; so it only appends a reference
(stored objects are never mutated in place) and the checkers read the list later.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from rollout.sandbox import Sandbox

Obj = dict[str, Any]

DEPLOYMENTS = "deployments.apps"
SERVICES = "services"
ROLLOUTS = "rollouts.rollout.dev"
VIRTUAL_SERVICES = "virtualservices.networking.istio.io"
HTTP_ROUTES = "httproutes.gateway.networking.k8s.io"
WATCHED = frozenset({DEPLOYMENTS, SERVICES, ROLLOUTS, VIRTUAL_SERVICES, HTTP_ROUTES})


@dataclass(frozen=True)
class Change:
    """One committed write: `kind` is the sandbox's storage key (`deployments.apps`)."""

    kind: str
    type: str  # ADDED | MODIFIED | DELETED
    obj: Obj

    @property
    def name(self) -> str:
        return str(self.obj["metadata"]["name"])

    @property
    def rv(self) -> int:
        return int(self.obj["metadata"]["resourceVersion"])


class StoreRecorder:
    """Appends a Change for every commit of the kinds the invariants look at."""

    def __init__(self, sandbox: Sandbox) -> None:
        self._lock = threading.Lock()
        self._changes: list[Change] = []
        sandbox.store.add_listener(self._on_commit)

    def _on_commit(self, kind: str, type_: str, obj: Obj) -> None:
        if kind in WATCHED:
            with self._lock:
                self._changes.append(Change(kind, type_, obj))

    def since(self, position: int) -> list[Change]:
        """The changes from `position` on (a position is a count of changes seen)."""
        with self._lock:
            return self._changes[position:]

    def __len__(self) -> int:
        with self._lock:
            return len(self._changes)
