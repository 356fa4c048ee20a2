"""`MetricsServer`: a registry's metrics over HTTP (`GET /metrics`, Prometheus text format).

prometheus-client's own WSGI server (`start_http_server`), on a daemon thread, one thread per
scrape. Port 0 binds a free port; `port` tells which.
"""

from __future__ import annotations

import logging
import threading
from wsgiref.simple_server import WSGIServer

from prometheus_client import CollectorRegistry, start_http_server

log = logging.getLogger(__name__)

DEFAULT_PORT = 8090


class MetricsServer:
    def __init__(
        self, registry: CollectorRegistry, *, address: str = "0.0.0.0", port: int = DEFAULT_PORT
    ) -> None:
        self._registry = registry
        self.address = address
        self._port = port
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
        self._server, self._thread = start_http_server(
            self._port, addr=self.address, registry=self._registry
        )
        log.info("metrics served on %s", self.url)

    def stop(self) -> None:
        server, thread = self._server, self._thread
        self._server = self._thread = None
        if server is not None:
            server.shutdown()
            server.server_close()
        if thread is not None:
            thread.join(timeout=5)
