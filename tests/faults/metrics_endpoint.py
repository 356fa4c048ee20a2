"""The far side of the `web` metric provider, on 127.0.0.1, that the test can take down.

tests/http_far.py answers by path but lives on a port chosen at start, for one `with` block;
an outage here must close the listening socket (connection refused, as when the metrics
service is gone) and later come back on the *same* port, because the URL is in the
AnalysisTemplates the controller reads. So this one owns its port across restarts.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

UP, REFUSING, ERRORING = "up", "refusing", "erroring"
UNSERVED = "unserved"  # a path with no value: 503 whatever the mode


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that timed out and hung up is part of the tests


class MetricsEndpoint:
    """`GET /<path>` answers `{"value": V}` with the value set for that path, while `up`.
    `refusing`: nothing listens. `erroring`: every request gets 503. `requests` counts the
    answers by kind (the 503s of the outage apart from those of a path with no value)."""

    def __init__(self) -> None:
        self.values: dict[str, float] = {}
        self.mode = UP
        self.requests: dict[str, int] = {UP: 0, ERRORING: 0, UNSERVED: 0}
        self._server = self._serve(0)
        self.port = int(self._server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"

    def _serve(self, port: int) -> _Server:
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = self.path.split("?", 1)[0].lstrip("/")
                if endpoint.mode == ERRORING or path not in endpoint.values:
                    endpoint.requests[ERRORING if endpoint.mode == ERRORING else UNSERVED] += 1
                    status, body = 503, b'{"error": "metrics backend unavailable"}'
                else:
                    endpoint.requests[UP] += 1
                    status, body = 200, json.dumps({"value": endpoint.values[path]}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        server = _Server(("127.0.0.1", port), Handler)
        threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        ).start()
        return server

    def set_mode(self, mode: str) -> None:
        if mode == self.mode:
            return
        if mode == REFUSING:
            self._stop()
        elif self.mode == REFUSING:
            self._server = self._serve(self.port)
        self.mode = mode

    def _stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def close(self) -> None:
        if self.mode != REFUSING:
            self._stop()
            self.mode = REFUSING
