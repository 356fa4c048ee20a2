"""`MetricsServer`: a registry's metrics over HTTP (`GET /metrics`, Prometheus text format), and
health checks beside them (`/healthz`, `/readyz`: 200 or 503 with a one-line text body).

prometheus-client's own WSGI machinery (its threading server, one thread per request, on a
daemon thread), with our app in front for the check paths. Port 0 binds a free port; `port`
tells which.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from wsgiref.simple_server import WSGIServer, make_server

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.exposition import ThreadingWSGIServer, _get_best_family, _SilentHandler

log = logging.getLogger(__name__)

DEFAULT_PORT = 8090

Check = Callable[[], tuple[bool, str]]
"""(healthy, why): served as 200 or 503 with `why` as the body. Must be quick."""


class MetricsServer:
    def __init__(
        self,
        registry: CollectorRegistry,
        *,
        address: str = "0.0.0.0",
        port: int = DEFAULT_PORT,
        checks: Mapping[str, Check] | None = None,
    ) -> None:
        """`checks`: path (such as "/healthz") -> check; every other path serves metrics."""
        self._registry = registry
        self.address = address
        self._port = port
        self._checks = dict(checks or {})
        self._server: WSGIServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        """The bound port once started (the one asked for, or the one picked for port 0)."""
        return self._server.server_port if self._server is not None else self._port

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.address in ("", "0.0.0.0") else self.address
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{self.port}/metrics"

    def start(self) -> None:
        """Bind and serve. Raises OSError when the address cannot be bound."""

        class Server(ThreadingWSGIServer):
            """A class per server: the address family is set on the class."""

        Server.address_family, addr = _get_best_family(  # type: ignore[no-untyped-call]
            self.address, self._port
        )
        metrics = make_wsgi_app(self._registry)
        checks = self._checks

        def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
            check = checks.get(environ.get("PATH_INFO") or "")
            if check is None:
                return metrics(environ, start_response)  # type: ignore[no-any-return]
            try:
                ok, why = check()
            except Exception as err:  # a broken check is an unhealthy answer, never a 500 trace
                ok, why = False, f"check failed: {err}"
            body = f"{why}\n".encode()
            start_response(
                "200 OK" if ok else "503 Service Unavailable",
                [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))],
            )
            return [body]

        server = make_server(addr, self._port, app, Server, handler_class=_SilentHandler)
        thread = threading.Thread(target=server.serve_forever, name="metrics-server", daemon=True)
        thread.start()
        self._server, self._thread = server, thread
        log.info("metrics served on %s", self.url)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
