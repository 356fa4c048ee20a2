"""The HTTP layer: a stdlib ThreadingHTTPServer speaking the Kubernetes REST API.

Owns the wire: HTTP/1.1 keep-alive, request bodies, JSON responses written
in one send (headers + body, so Nagle never delays a reply), chunked watch
streams flushed per batch of events, the request log, and applying injected
faults before a request reaches the store. Everything semantic is delegated
to :mod:`.api` (resources), :mod:`.discovery` and :mod:`.admin`.
"""

from __future__ import annotations

import contextlib
import json
import logging
import select
import socket
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from rollout import jsonwire

from .admin import handle_admin
from .api import Api, Reply, WatchPlan
from .authz import Authorizer, Request, forbidden_message
from .discovery import openapi, render
from .errors import ApiError, conflict, forbidden, generic, internal
from .faults import FaultInjector, RequestLog, RequestRecord
from .resources import Registry
from .routing import Discovery, route
from .store import Store
from .watch import WatchClosedError, Watcher, WatchHub, event_line

_log = logging.getLogger(__name__)
JSON = dict[str, Any]


@dataclass
class ServerState:
    registry: Registry
    store: Store
    hub: WatchHub
    faults: FaultInjector
    log: RequestLog
    bookmark_interval: float = 1.0
    stopping: threading.Event = field(default_factory=threading.Event)
    api: Api = field(init=False)
    authz: Authorizer = field(init=False)

    def __post_init__(self) -> None:
        self.api = Api(self.store)
        self.authz = Authorizer(self.store, self.registry)


def _render_events(batch: bytes, render: Callable[[JSON], JSON]) -> bytes:
    """Re-encode object events (not ERROR/BOOKMARK) through ``render``."""
    out = []
    for line in batch.splitlines():
        event = jsonwire.loads(line)
        if event.get("type") in ("ADDED", "MODIFIED", "DELETED"):
            event["object"] = render(event["object"])
        out.append(jsonwire.dumps(event) + b"\n")
    return b"".join(out)


class SandboxHTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(self, address: tuple[str, int], state: ServerState) -> None:
        self.state = state
        self._connections: set[socket.socket] = set()
        self._conn_lock = threading.Lock()
        super().__init__(address, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up mid-request (dropped watches, killed processes) are
        # routine here; keep them out of stderr and log anything else properly.
        if isinstance(sys.exc_info()[1], OSError):
            _log.debug("sandbox: connection from %s dropped", client_address, exc_info=True)
        else:
            _log.exception("sandbox: error serving %s", client_address)

    def track(self, conn: socket.socket, *, add: bool) -> None:
        with self._conn_lock:
            if add:
                self._connections.add(conn)
            else:
                self._connections.discard(conn)

    def close_connections(self) -> None:
        """Unblock every handler thread (idle keep-alive reads, open watches) at shutdown."""
        with self._conn_lock:
            conns = list(self._connections)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True
    timeout = 600  # idle keep-alive connections are closed after this long
    server: SandboxHTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.track(self.connection, add=False)

    def log_message(self, format: str, *args: Any) -> None:
        _log.debug("%s - %s", self.address_string(), format % args)

    def do_GET(self) -> None:
        self._dispatch()

    # One dispatcher for every method; http.server looks handlers up by name.
    do_POST = do_PUT = do_PATCH = do_DELETE = do_GET  # noqa: N815

    # ---- plumbing ------------------------------------------------------
    def _read_body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks: list[bytes] = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    self.rfile.readline()
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return b""

    def _head(self, code: int, headers: dict[str, str]) -> bytes:
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "Unknown"
        lines = [f"{self.protocol_version} {code} {phrase}", f"Date: {self.date_time_string()}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        if self.close_connection:
            lines.append("Connection: close")
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")

    def _send_json(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = jsonwire.dumps(body)
        head = self._head(
            code,
            {
                "Content-Type": "application/json",
                "Content-Length": str(len(data)),
                **(headers or {}),
            },
        )
        self.wfile.write(head + data)

    def _send_error(self, err: ApiError) -> None:
        self._send_json(err.code, err.status(), err.headers)

    # ---- dispatch ------------------------------------------------------
    def _dispatch(self) -> None:
        state = self.server.state
        started, t0 = time.time(), time.monotonic()
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        content_type = self.headers.get("Content-Type") or "application/json"
        try:
            raw = self._read_body()
        except (OSError, ValueError):
            self.close_connection = True
            return
        if url.path == "/sandbox" or url.path.startswith("/sandbox/"):
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                self._send_json(400, {"error": "body must be JSON"})
                return
            code, reply = handle_admin(
                self.command,
                url.path,
                body,
                faults=state.faults,
                log=state.log,
                hub=state.hub,
                authz=state.authz,
            )
            self._send_json(code, reply)
            return
        user = state.authz.authenticate(self.headers.get("Authorization"))
        if user is None:
            self._send_error(ApiError(401, "Unauthorized"))
            return
        try:
            routed = route(url.path, state.registry)
            if isinstance(routed, Discovery) and routed.doc == "openapi":
                ctype, data = openapi(routed, self.headers.get("Accept") or "")
                head = self._head(200, {"Content-Type": ctype, "Content-Length": str(len(data))})
                self.wfile.write(head + data)
                return
            if isinstance(routed, Discovery):
                host = self.headers.get("Host") or f"127.0.0.1:{self.server.server_address[1]}"
                self._send_json(200, render(routed, state.registry, host))
                return
        except ApiError as err:
            self._send_error(err)
            return

        target = routed
        verb = target.verb(self.command, _truthy(query.get("watch")))

        # Recorded before the response is written, so a client that has its
        # answer can rely on the log already containing the request.
        def record(status: int, injected: bool = False) -> None:
            state.log.record(
                RequestRecord(
                    method=self.command,
                    path=url.path,
                    verb=verb,
                    group=target.rt.group,
                    resource=target.rt.plural,
                    subresource=target.subresource,
                    namespace=target.namespace,
                    name=target.name,
                    status=status,
                    started=started,
                    duration=time.monotonic() - t0,
                    injected=injected,
                    query=url.query,
                    user=user.name,
                )
            )

        request = Request(
            verb,
            target.rt.group,
            target.rt.plural,
            target.subresource,
            target.namespace,
            target.name,
        )
        if not state.authz.allowed(user, request):
            refusal = forbidden(forbidden_message(user, request))
            refusal.details = {"group": target.rt.group, "kind": target.rt.plural}
            if target.name:
                refusal.details["name"] = target.name
            record(refusal.code)
            self._send_error(refusal)
            return

        injection = state.faults.check(
            verb, target.rt.plural, target.subresource, target.name, target.namespace
        )
        if injection is not None:
            if injection.code == "timeout":
                # Hold, then hang up without a byte of response (interrupted by stop()).
                state.stopping.wait(injection.hold)
                self.close_connection = True
                record(0, injected=True)
                return
            fault = (
                conflict(target.rt.group, target.rt.plural, target.name or "")
                if injection.code == 409
                else generic(injection.code, f"sandbox: injected fault ({injection.code})")
            )
            record(fault.code, injected=True)
            self._send_error(fault)
            return

        try:
            accept = self.headers.get("Accept") or ""
            result = state.api.handle(self.command, target, query, content_type, raw, accept=accept)
        except ApiError as err:
            record(err.code)
            self._send_error(err)
            return
        except Exception as exc:
            _log.exception("sandbox: unhandled error for %s %s", self.command, self.path)
            bug = internal(f"sandbox bug: {exc!r}")
            record(bug.code)
            self._send_error(bug)
            return
        if isinstance(result, Reply):
            record(result.code)
            if result.text is not None:
                data = result.text.encode()
                ctype = "text/plain; charset=utf-8"
                head = self._head(
                    result.code, {"Content-Type": ctype, "Content-Length": str(len(data))}
                )
                self.wfile.write(head + data)
                return
            self._send_json(result.code, result.body)
            return
        self._stream(result, lambda: record(200))

    # ---- watch ---------------------------------------------------------
    def _client_gone(self) -> bool:
        try:
            readable, _, _ = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _chunk(self, data: bytes) -> None:
        self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")

    def _abort(self) -> None:
        """Drop the connection mid-stream, like a network failure (no terminating chunk)."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, plan: WatchPlan, on_established: Any) -> None:
        state = self.server.state
        watcher = Watcher(
            plan.rt.storage_key, plan.namespace, plan.name, plan.matcher, state.hub.max_pending
        )
        gone: ApiError | None = None
        try:
            state.store.watch(plan.rt, watcher, plan.since)
        except ApiError as err:
            gone = err  # 410 Expired is delivered in-stream, as the watch cache does
        on_established()
        self.wfile.write(
            self._head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        )
        try:
            if gone is not None:
                self._chunk(event_line("ERROR", gone.status()))
            elif self._pump(plan, watcher):
                return
            self.wfile.write(b"0\r\n\r\n")
        except OSError:
            self.close_connection = True
        finally:
            state.hub.unsubscribe(watcher)

    def _pump(self, plan: WatchPlan, watcher: Watcher) -> bool:
        """Copy events to the client until timeout/close. True if the connection was aborted."""
        state = self.server.state
        now = time.monotonic()
        deadline = now + plan.timeout if plan.timeout is not None else None
        next_bookmark = now + state.bookmark_interval
        while not state.stopping.is_set():
            now = time.monotonic()
            if deadline is not None and now >= deadline:
                return False
            wait = 1.0
            if deadline is not None:
                wait = min(wait, deadline - now)
            if plan.bookmarks:
                wait = max(0.0, min(wait, next_bookmark - now))
            try:
                line = watcher.next(wait)
            except WatchClosedError as closed:
                if closed.abrupt:
                    self._abort()
                    return True
                return False
            if line is not None:
                batch = line + b"".join(watcher.drain(255))
                self._chunk(batch if plan.render is None else _render_events(batch, plan.render))
                continue
            if self._client_gone():
                self.close_connection = True
                return True
            if plan.bookmarks and time.monotonic() >= next_bookmark:
                rv = state.store.bookmark_rv(watcher)
                if rv is not None:
                    bookmark = {
                        "kind": plan.rt.kind,
                        "apiVersion": plan.rt.api_version,
                        "metadata": {"resourceVersion": str(rv)},
                    }
                    self._chunk(event_line("BOOKMARK", bookmark))
                next_bookmark = time.monotonic() + state.bookmark_interval
        return False
