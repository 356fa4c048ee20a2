"""Fault injection and the request log: the sandbox's test-steering surface.

Owns :class:`FaultInjector` (make the next matching API requests fail with
a status code or hang and drop the connection) and :class:`RequestLog`
(what the server was asked, for asserting on client behaviour). Both are
thread-safe; the HTTP layer consults the injector before touching the store,
so a failed write never changes anything.
"""

from __future__ import annotations

import dataclasses
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

Code = int | Literal["timeout"]
DEFAULT_TIMEOUT_HOLD = 3.0


@dataclass(frozen=True)
class RequestRecord:
    method: str
    path: str
    verb: str
    group: str
    resource: str
    subresource: str | None
    namespace: str | None
    name: str | None
    status: int  # 0 when the connection was dropped without a response
    started: float  # wall-clock (time.time())
    duration: float  # seconds; for watches, until the stream was established
    injected: bool
    query: str = ""
    user: str = ""  # who sent it (system:admin without a token); see authz.py

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Fault:
    verb: str | None
    resource: str | None
    subresource: str | None
    name: str | None
    namespace: str | None
    code: Code
    count: int
    every: int | None
    hold: float | None
    seen: int = 0

    def matches(
        self,
        verb: str,
        resource: str,
        subresource: str | None,
        name: str | None,
        namespace: str | None,
    ) -> bool:
        return (
            (self.verb is None or self.verb == verb)
            and (self.resource is None or self.resource == resource)
            and (self.subresource is None or self.subresource == subresource)
            and (self.name is None or self.name == name)
            and (self.namespace is None or self.namespace == namespace)
        )

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in dataclasses.asdict(self).items() if k != "seen"}


@dataclass(frozen=True)
class Injection:
    """What the HTTP layer must do instead of serving the request."""

    code: Code
    hold: float


class FaultInjector:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        # How long a "timeout" fault holds the request before dropping the connection.
        self.timeout_hold = DEFAULT_TIMEOUT_HOLD

    def add(
        self,
        *,
        verb: str | None = None,
        resource: str | None = None,
        subresource: str | None = None,
        name: str | None = None,
        code: Code = 500,
        count: int = 1,
        every: int | None = None,
        namespace: str | None = None,
        hold: float | None = None,
    ) -> None:
        """Fail the next ``count`` matching requests (every ``every``-th one if given).

        ``None`` matches anything. ``code="timeout"`` holds the request for
        ``hold`` seconds (default :attr:`timeout_hold`) and then closes the
        connection without a response.
        """
        if code != "timeout" and not (isinstance(code, int) and 400 <= code <= 599):
            raise ValueError(f"fault code must be 400-599 or 'timeout', got {code!r}")
        if count < 1 or (every is not None and every < 1):
            raise ValueError("count and every must be >= 1")
        with self._lock:
            self._faults.append(
                Fault(verb, resource, subresource, name, namespace, code, count, every, hold)
            )

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    def active(self) -> list[dict[str, Any]]:
        with self._lock:
            return [f.to_json() for f in self._faults]

    def check(
        self,
        verb: str,
        resource: str,
        subresource: str | None,
        name: str | None,
        namespace: str | None,
    ) -> Injection | None:
        """Consume a fault for this request if one applies (first matching fault wins)."""
        with self._lock:
            for fault in self._faults:
                if not fault.matches(verb, resource, subresource, name, namespace):
                    continue
                fault.seen += 1
                if fault.every is not None and fault.seen % fault.every != 0:
                    continue
                fault.count -= 1
                if fault.count <= 0:
                    self._faults.remove(fault)
                hold = fault.hold if fault.hold is not None else self.timeout_hold
                return Injection(fault.code, hold)
            return None


class RequestLog:
    """Bounded log of API requests (admin and discovery requests are not recorded)."""

    def __init__(self, limit: int = 100_000) -> None:
        self._lock = threading.Lock()
        self._entries: deque[RequestRecord] = deque(maxlen=limit)

    def record(self, entry: RequestRecord) -> None:
        with self._lock:
            self._entries.append(entry)

    def entries(self) -> list[RequestRecord]:
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def counts(self, *, by: tuple[str, ...] = ("verb",)) -> dict[tuple[str, ...], int]:
        """Count entries grouped by the named fields; values are str()-ed, None becomes ""."""
        fields = {f.name for f in dataclasses.fields(RequestRecord)}
        unknown = [b for b in by if b not in fields]
        if unknown:
            raise ValueError(f"unknown RequestRecord fields: {unknown}")
        out: dict[tuple[str, ...], int] = {}
        for entry in self.entries():
            key = tuple("" if (v := getattr(entry, b)) is None else str(v) for b in by)
            out[key] = out.get(key, 0) + 1
        return out
