"""What the Prometheus client puts on the wire and how it fails to connect: credentials and
headers as received, `time=`/`timeout=`, secrets kept out of messages, TLS, one reused pool.

A tiny recording HTTP server on 127.0.0.1 stands in for the far side where a real Prometheus
cannot show the case (request headers as received, a proxy's HTML or 401 page, `infos`, which
Prometheus 2.42 never sends): it is a boundary we do not own, not the code under test. TLS is
checked against a real Prometheus serving HTTPS.
"""

from __future__ import annotations

import base64
import json
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from rollout.analysis.provider import Observation, Outcome
from rollout.analysis.providers.prometheus import PrometheusProvider
from tests.analysis import scenarios
from tests.analysis.prometheus_server import start_prometheus
from tests.analysis.provider_tools import API_KEY, PASSWORD, TOKEN, context, metric


@pytest.fixture
def silent_address() -> Iterator[str]:
    """A port that accepts connections (the kernel's backlog) but never answers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(4)
        yield f"http://127.0.0.1:{s.getsockname()[1]}"


def test_an_unreachable_address_is_an_error_naming_it(
    provider: PrometheusProvider, refusing_address: str
) -> None:
    config = metric(address=refusing_address, query="1")
    seen = provider.measure(config, context(scenarios.BASE_TIME), None)
    assert seen.outcome is Outcome.ERROR
    assert f"cannot connect to Prometheus at {refusing_address}" in seen.message


def test_a_password_in_the_address_is_not_shown(
    provider: PrometheusProvider, refusing_address: str
) -> None:
    address = refusing_address.replace("http://", f"http://analysis:{PASSWORD}@")
    seen = provider.measure(metric(address=address, query="1"), context(scenarios.BASE_TIME), None)
    assert seen.outcome is Outcome.ERROR
    assert PASSWORD not in seen.message
    assert "analysis:***@127.0.0.1" in seen.message


def test_no_answer_in_time_is_an_error_naming_the_address(
    provider: PrometheusProvider, silent_address: str
) -> None:
    started = time.monotonic()
    seen = provider.measure(
        metric(address=silent_address, query="1", timeout="1s"), context(scenarios.BASE_TIME), None
    )
    elapsed = time.monotonic() - started
    assert seen.outcome is Outcome.ERROR
    assert seen.message == f"Prometheus at {silent_address} did not answer within 1s"
    assert 1.0 <= elapsed < 5.0  # the timeout plus its 1 s grace, not forever


def test_an_address_without_scheme_is_an_error(provider: PrometheusProvider) -> None:
    seen = provider.measure(
        metric(address="prometheus:9090", query="1"), context(scenarios.BASE_TIME), None
    )
    assert seen.outcome is Outcome.ERROR
    assert "http://" in seen.message


# --- what goes over the wire (a recording stub stands in for the far side) ---------------


@dataclass(frozen=True)
class Recorded:
    path: str
    params: dict[str, list[str]]
    headers: dict[str, str]
    client_port: int


class Stub:
    """A tiny HTTP/1.1 server on 127.0.0.1: records each request, answers `status`/`body`."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.status = 200
        self.body = json.dumps(
            {"status": "success", "data": {"resultType": "scalar", "result": [0, "1"]}}
        )
        self.content_type = "application/json"
        stub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, so connection reuse is visible

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                stub.requests.append(
                    Recorded(
                        url.path,
                        parse_qs(url.query),
                        {k.lower(): v for k, v in self.headers.items()},
                        self.client_address[1],
                    )
                )
                body = stub.body.encode()
                self.send_response(stub.status)
                self.send_header("Content-Type", stub.content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # quiet test output

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(5)


@pytest.fixture
def stub() -> Iterator[Stub]:
    s = Stub()
    yield s
    s.close()


def test_the_query_time_and_timeout_are_sent(provider: PrometheusProvider, stub: Stub) -> None:
    at = scenarios.BASE_TIME
    provider.measure(
        metric(address=f"{stub.url}/prom/", query="up == 1", timeout="30s"), context(at), None
    )
    (request,) = stub.requests
    assert request.path == "/prom/api/v1/query"
    assert request.params == {
        "query": ["up == 1"],
        "time": [f"{at.timestamp():.3f}"],
        "timeout": ["30"],
    }


@pytest.mark.parametrize("auth", ["bearer", "basic"])
def test_credentials_and_headers_are_sent(
    provider: PrometheusProvider, stub: Stub, auth: str
) -> None:
    fields: dict[str, Any] = {
        "headers": [
            {"name": "X-Scope-OrgID", "value": "team-a"},
            {
                "name": "X-Api-Key",
                "valueFrom": {"secretKeyRef": {"name": "prom", "key": "api-key"}},
            },
        ]
    }
    if auth == "bearer":
        fields["bearerToken"] = {"name": "prom", "key": "token"}
        expected = f"Bearer {TOKEN}"
    else:
        fields["basicAuth"] = {
            "username": {"name": "prom", "key": "user"},
            "password": {"name": "prom", "key": "password"},
        }
        expected = "Basic " + base64.b64encode(f"analysis:{PASSWORD}".encode()).decode()
    seen = provider.measure(
        metric(address=stub.url, query="1", **fields), context(scenarios.BASE_TIME), None
    )
    assert seen.outcome is Outcome.VALUE
    (request,) = stub.requests
    assert request.headers["authorization"] == expected
    assert request.headers["x-scope-orgid"] == "team-a"
    assert request.headers["x-api-key"] == API_KEY


@pytest.mark.parametrize("json_body", [True, False])
def test_secrets_never_reach_messages(
    provider: PrometheusProvider, stub: Stub, json_body: bool
) -> None:
    """A proxy that echoes the credentials it refused must not get them into the status."""
    stub.status = 401
    echo = f"rejected token {TOKEN} and key {API_KEY}"
    if json_body:
        stub.body = json.dumps({"status": "error", "errorType": "unauthorized", "error": echo})
    else:
        stub.body, stub.content_type = echo, "text/plain"
    config = metric(
        address=stub.url,
        query="1",
        bearerToken={"name": "prom", "key": "token"},
        headers=[
            {"name": "X-Api-Key", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "api-key"}}}
        ],
    )
    seen = provider.measure(config, context(scenarios.BASE_TIME), None)
    assert seen.outcome is Outcome.ERROR
    assert "HTTP 401" in seen.message
    assert "rejected token *** and key ***" in seen.message
    assert TOKEN not in repr(seen)
    assert API_KEY not in repr(seen)


def test_a_non_json_body_is_an_error(provider: PrometheusProvider, stub: Stub) -> None:
    stub.body, stub.content_type = "<html>Sign in</html>", "text/html"
    seen = provider.measure(metric(address=stub.url, query="1"), context(scenarios.BASE_TIME), None)
    assert seen.outcome is Outcome.ERROR
    assert "HTTP 200" in seen.message
    assert "not JSON" in seen.message
    assert "text/html" in seen.message


def test_infos_count_as_warnings(provider: PrometheusProvider, stub: Stub) -> None:
    """Prometheus 2.50+ adds `infos` (e.g. rate() on a metric not named like a counter); 2.42
    never sends them, so the envelope comes from the stub, shaped like the real one."""
    stub.body = json.dumps(
        {
            "status": "success",
            "data": {"resultType": "vector", "result": [{"metric": {}, "value": [0, "0.5"]}]},
            "infos": ['PromQL info: metric might not be a counter: "queue_size"'],
        }
    )
    seen = provider.measure(metric(address=stub.url, query="1"), context(scenarios.BASE_TIME), None)
    assert (seen.outcome, seen.value) == (Outcome.VALUE, 0.5)
    assert seen.metadata["warnings"].startswith("PromQL info: metric might not be a counter")
    assert "Prometheus warned: PromQL info" in seen.message


def test_one_connection_pool_is_reused(provider: PrometheusProvider, stub: Stub) -> None:
    config = metric(address=stub.url, query="1")
    for _ in range(3):
        provider.measure(config, context(scenarios.BASE_TIME), None)
    assert len(stub.requests) == 3
    assert len({r.client_port for r in stub.requests}) == 1  # one kept-alive connection


# --- TLS, against a real Prometheus serving HTTPS -----------------------------------------


@dataclass(frozen=True)
class TLSPrometheus:
    url: str
    ca_pem: str


def _openssl(*args: str, cwd: Path) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="module")
def tls_prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TLSPrometheus]:
    """A Prometheus serving HTTPS with a certificate for `prometheus.test` only (not for
    127.0.0.1), signed by a CA made for this test."""
    if shutil.which("openssl") is None:
        # Never skipped: a machine without it must say so (Debian's `openssl` package).
        pytest.fail("the openssl command is needed to make the test certificates")
    d = tmp_path_factory.mktemp("tls")
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.crt", "-days", "2",
             "-subj", "/CN=rollout test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign", cwd=d)  # fmt: skip
    _openssl("req", "-new", *ec, "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=prometheus.test", cwd=d)  # fmt: skip
    (d / "ext.cnf").write_text(
        "subjectAltName=DNS:prometheus.test\nextendedKeyUsage=serverAuth\n"
        "basicConstraints=CA:FALSE\n"
    )
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
             "-set_serial", "1", "-days", "2", "-extfile", "ext.cnf", "-out", "server.crt",
             cwd=d)  # fmt: skip
    config = "global:\n  scrape_interval: 1h\nscrape_configs: []\n"
    with start_prometheus(config, d / "tsdb", tls=(d / "server.crt", d / "server.key")) as server:
        yield TLSPrometheus(server.url, (d / "ca.crt").read_text())


def _tls_measure(
    provider: PrometheusProvider, server: TLSPrometheus, tls: dict[str, Any] | None
) -> Observation:
    fields: dict[str, Any] = {"address": server.url, "query": "vector(42)"}
    if tls is not None:
        fields["tls"] = tls
    secrets = {("prom-ca", "ca.crt"): server.ca_pem, ("bad-ca", "ca.crt"): "not a certificate"}
    return provider.measure(metric(**fields), context(scenarios.BASE_TIME, secrets=secrets), None)


def test_tls_with_our_ca_and_server_name(
    provider: PrometheusProvider, tls_prometheus: TLSPrometheus
) -> None:
    ca = {"name": "prom-ca", "key": "ca.crt"}
    seen = _tls_measure(provider, tls_prometheus, {"caSecret": ca, "serverName": "prometheus.test"})
    assert (seen.outcome, seen.value) == (Outcome.VALUE, 42.0)
    # Without serverName the certificate (for prometheus.test) does not match 127.0.0.1.
    mismatch = _tls_measure(provider, tls_prometheus, {"caSecret": ca})
    assert mismatch.outcome is Outcome.ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in mismatch.message
    assert f"cannot connect to Prometheus at {tls_prometheus.url}" in mismatch.message


def test_tls_refuses_an_unknown_ca_unless_told_not_to_verify(
    provider: PrometheusProvider, tls_prometheus: TLSPrometheus
) -> None:
    unknown = _tls_measure(provider, tls_prometheus, None)
    assert unknown.outcome is Outcome.ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in unknown.message
    skipped = _tls_measure(provider, tls_prometheus, {"insecureSkipVerify": True})
    assert (skipped.outcome, skipped.value) == (Outcome.VALUE, 42.0)


def test_a_ca_secret_that_is_not_pem_is_an_error(
    provider: PrometheusProvider, tls_prometheus: TLSPrometheus
) -> None:
    seen = _tls_measure(provider, tls_prometheus, {"caSecret": {"name": "bad-ca", "key": "ca.crt"}})
    assert seen.outcome is Outcome.ERROR
    assert seen.message.startswith("tls.caSecret is not a PEM CA bundle")
    assert "not a certificate" not in seen.message
