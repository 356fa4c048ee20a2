"""The web provider against a tiny HTTP(S) server on 127.0.0.1: the far side of a boundary we
do not own, so it stands in for a metrics endpoint. Every classification of an answer, the
request as the server received it (method, body, headers from Secrets), and TLS (a CA from a
Secret, insecureSkipVerify, serverName) against certificates made with openssl per session.
"""

from __future__ import annotations

import math
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.analysis.providers.web import MAX_BODY, WebProvider, shown_url
from rollout.errors import ConfigError
from rollout.models.analysis import WebMetric
from tests.http_far import Far, serving

TOKEN = "tok-5ecret-4e1a"
QUERY_SECRET = "q-5ecret-88aa"
SERVER_NAME = "metrics.test"


@dataclass(frozen=True)
class Certs:
    ca_pem: str
    chain: Path
    key: Path


@pytest.fixture(scope="session")
def certs(tmp_path_factory: pytest.TempPathFactory) -> Certs:
    """A CA and a server certificate for metrics.test (not for 127.0.0.1) signed by it."""
    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.fail("openssl is needed to make the test certificates", pytrace=False)
    d = tmp_path_factory.mktemp("certs")

    def run(*args: str) -> None:
        subprocess.run([openssl, *args], cwd=d, check=True, capture_output=True, timeout=60)

    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=rollout test CA")  # fmt: skip
    (d / "ext.cnf").write_text(f"subjectAltName=DNS:{SERVER_NAME}\n")
    run("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "srv.key", "-out", "srv.csr",
        "-subj", f"/CN={SERVER_NAME}")  # fmt: skip
    run("x509", "-req", "-in", "srv.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
        "-CAcreateserial", "-days", "2", "-out", "srv.pem", "-extfile", "ext.cnf")  # fmt: skip
    return Certs((d / "ca.pem").read_text(), d / "srv.pem", d / "srv.key")


@pytest.fixture
def tls_far(certs: Certs) -> Iterator[Far]:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certs.chain, certs.key)
    with serving(context) as f:
        yield f


def context(secrets: dict[tuple[str, str], str] | None = None) -> MeasureContext:
    known = dict(secrets or {})

    def secret(name: str, key: str) -> str:
        if (name, key) not in known:
            raise ConfigError(f"Secret default/{name} has no key {key}")
        return known[(name, key)]

    return MeasureContext(
        namespace="default",
        rollout="app",
        revision="c4n4ry",
        stable_revision="st4bl3",
        now=datetime.now(UTC),
        metric="health",
        run="step-1",
        secret=secret,
    )


def web(url: str, **fields: Any) -> WebMetric:
    return WebMetric.model_validate({"url": url, **fields})


def measure(
    url: str, secrets: dict[tuple[str, str], str] | None = None, **fields: Any
) -> Observation:
    return WebProvider(None).measure(web(url, **fields), context(secrets), None)


def no_secret_in(seen: Observation, *values: str) -> None:
    text = f"{seen.message} {seen.display} {dict(seen.metadata)}"
    for value in values:
        assert value not in text


# --- values ------------------------------------------------------------------------------


def test_one_number_is_its_value(far: Far) -> None:
    url = far.answer("/health", {"data": {"ratio": 0.997, "ok": True}})
    seen = measure(url, jsonPath="$.data.ratio")
    assert (seen.outcome, seen.value, seen.display) == (Outcome.VALUE, 0.997, "0.997")
    assert far.seen[0].method == "GET"


@pytest.mark.parametrize(
    ("value", "display"),
    [
        (True, "true"),
        ("green", '"green"'),
        (42, "42"),
        ({"a": [1, 2], "b": "x"}, '{"a":[1,2],"b":"x"}'),
    ],
)
def test_any_json_value_with_compact_json_display(far: Far, value: Any, display: str) -> None:
    url = far.answer("/v", {"result": value})
    seen = measure(url, jsonPath="$.result")
    assert (seen.outcome, seen.value, seen.display) == (Outcome.VALUE, value, display)


def test_the_default_path_is_the_whole_document(far: Far) -> None:
    seen = measure(far.answer("/v", [1, 2]))
    assert (seen.outcome, seen.value, seen.display) == (Outcome.VALUE, [1, 2], "[1,2]")


def test_kubernetes_style_braces_around_the_path(far: Far) -> None:
    seen = measure(far.answer("/v", {"data": {"ok": False}}), jsonPath="{$.data.ok}")
    assert (seen.outcome, seen.value) == (Outcome.VALUE, False)


def test_a_filter_picks_one_of_several(far: Far) -> None:
    body = {"checks": [{"name": "db", "up": 1}, {"name": "cache", "up": 0}]}
    seen = measure(far.answer("/v", body), jsonPath="$.checks[?(@.name=='cache')].up")
    assert (seen.outcome, seen.value) == (Outcome.VALUE, 0)


# --- no data -----------------------------------------------------------------------------


def test_no_match_is_no_data_naming_the_path(far: Far) -> None:
    seen = measure(far.answer("/v", {"data": {}}), jsonPath="$.data.ratio")
    assert seen.outcome is Outcome.NO_DATA
    assert (seen.value, seen.display) == (None, None)
    assert "$.data.ratio" in seen.message


def test_null_is_no_data(far: Far) -> None:
    seen = measure(far.answer("/v", {"ratio": None}), jsonPath="$.ratio")
    assert seen.outcome is Outcome.NO_DATA
    assert "null" in seen.message


def test_nan_is_no_data(far: Far) -> None:
    seen = measure(far.answer("/v", b'{"ratio": NaN}'), jsonPath="$.ratio")
    assert seen.outcome is Outcome.NO_DATA
    assert seen.display == "NaN"
    assert seen.value is None


@pytest.mark.parametrize(("text", "sign"), [("Infinity", "+"), ("-Infinity", "-")])
def test_infinity_is_a_value(far: Far, text: str, sign: str) -> None:
    seen = measure(far.answer("/v", f'{{"ratio": {text}}}'.encode()), jsonPath="$.ratio")
    assert seen.outcome is Outcome.VALUE
    assert seen.value == (math.inf if sign == "+" else -math.inf)
    assert seen.display == f"{sign}Inf"


# --- errors ------------------------------------------------------------------------------


def test_several_matches_are_an_error_saying_how_many(far: Far) -> None:
    body = {"pods": [{"ready": 1}, {"ready": 1}, {"ready": 0}]}
    seen = measure(far.answer("/v", body), jsonPath="$.pods[*].ready")
    assert seen.outcome is Outcome.ERROR
    assert "matched 3 values" in seen.message
    assert "narrower path" in seen.message


def test_an_invalid_path_is_an_error(far: Far) -> None:
    seen = measure(far.answer("/v", {}), jsonPath="$.[")
    assert seen.outcome is Outcome.ERROR
    assert "is invalid" in seen.message


def test_a_body_that_is_not_json_is_an_error(far: Far) -> None:
    url = far.answer("/v", b"<html>login</html>", content_type="text/html")
    seen = measure(url)
    assert seen.outcome is Outcome.ERROR
    assert "is not JSON" in seen.message
    assert "text/html" in seen.message
    assert "<html>login</html>" in seen.message


def test_http_error_quotes_the_status_and_200_characters(far: Far) -> None:
    body = ("x" * 199 + "Y" + "z" * 100).encode()
    url = far.answer("/v", body, status=503, content_type="text/plain")
    seen = measure(url)
    assert seen.outcome is Outcome.ERROR
    assert "HTTP 503" in seen.message
    assert "x" * 199 + "Y" in seen.message
    assert "z" not in seen.message.split("HTTP 503", 1)[1]


def test_a_timeout_names_the_url_without_its_query(far: Far) -> None:
    url = far.answer("/slow", {"ok": True}, delay=1.6)
    seen = measure(f"{url}?token={QUERY_SECRET}", timeout=1)
    assert seen.outcome is Outcome.ERROR
    assert f"{far.url}/slow did not answer within 1s" in seen.message
    no_secret_in(seen, QUERY_SECRET)


def test_a_refused_connection_names_the_url() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    seen = measure(f"http://user:{QUERY_SECRET}@127.0.0.1:{port}/m?key={QUERY_SECRET}")
    assert seen.outcome is Outcome.ERROR
    assert f"cannot connect to http://127.0.0.1:{port}/m" in seen.message
    no_secret_in(seen, QUERY_SECRET)


def test_an_answer_beyond_the_size_limit_is_an_error(far: Far) -> None:
    url = far.answer("/big", b"[" + b"0," * (MAX_BODY // 2) + b"0]")
    seen = measure(url)
    assert seen.outcome is Outcome.ERROR
    assert "larger than" in seen.message


# --- the request -------------------------------------------------------------------------


def test_headers_are_sent_with_values_from_secrets(far: Far) -> None:
    url = far.answer("/v", {"ok": 1})
    headers = [
        {"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
        {"name": "X-Tenant", "value": "shop"},
    ]
    seen = measure(url, {("api", "token"): TOKEN}, headers=headers, jsonPath="$.ok")
    assert seen.outcome is Outcome.VALUE
    (request,) = far.seen
    assert request.headers["Authorization"] == TOKEN
    assert request.headers["X-Tenant"] == "shop"
    no_secret_in(seen, TOKEN)


def test_post_sends_the_body_as_json_unless_told_otherwise(far: Far) -> None:
    url = far.answer("/q", {"ok": 1})
    measure(url, method="POST", body='{"q": "errors"}')
    text_type = [{"name": "Content-Type", "value": "text/plain"}]
    measure(url, method="POST", body="errors", headers=text_type)
    first, second = far.seen
    assert (first.method, first.body) == ("POST", b'{"q": "errors"}')
    assert first.headers["Content-Type"] == "application/json"
    assert (second.body, second.headers["Content-Type"]) == (b"errors", "text/plain")


def test_a_missing_secret_raises_the_config_error(far: Far) -> None:
    headers = [{"name": "Authorization", "valueFrom": {"secretKeyRef": {"name": "x", "key": "y"}}}]
    with pytest.raises(ConfigError, match="Secret default/x has no key y"):
        measure(far.answer("/v", {}), headers=headers)
    assert far.seen == []


def test_a_secret_the_server_echoes_is_scrubbed(far: Far) -> None:
    url = far.answer("/v", f"bad token {TOKEN}".encode(), status=401, content_type="text/plain")
    headers = [{"name": "X-Key", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}}]
    seen = measure(url, {("api", "k"): TOKEN}, headers=headers)
    assert seen.outcome is Outcome.ERROR
    assert "HTTP 401: bad token ***" in seen.message
    no_secret_in(seen, TOKEN)


def test_a_secret_with_a_line_break_is_an_error_without_the_value(far: Far) -> None:
    headers = [{"name": "X-Key", "valueFrom": {"secretKeyRef": {"name": "api", "key": "k"}}}]
    seen = measure(far.answer("/v", {}), {("api", "k"): TOKEN + "\n"}, headers=headers)
    assert seen.outcome is Outcome.ERROR
    assert "X-Key" in seen.message
    no_secret_in(seen, TOKEN)
    assert far.seen == []


def test_a_header_from_a_rollout_field_is_an_error(far: Far) -> None:
    headers = [{"name": "X-App", "valueFrom": {"fieldRef": {"fieldPath": "metadata.name"}}}]
    seen = measure(far.answer("/v", {}), headers=headers)
    assert seen.outcome is Outcome.ERROR
    assert "X-App" in seen.message


def test_terminate_does_nothing(far: Far) -> None:
    provider = WebProvider(None)
    url = far.answer("/v", {})
    provider.terminate(web(url), context(), None)  # type: ignore[arg-type]
    assert far.seen == []


def test_shown_url_drops_userinfo_query_and_fragment() -> None:
    assert shown_url("https://u:pw@h.example:8443/p/q?x=1#f") == "https://h.example:8443/p/q"
    assert shown_url("http://h/p") == "http://h/p"


# --- TLS ---------------------------------------------------------------------------------


def _tls(certs: Certs, **tls: Any) -> tuple[dict[tuple[str, str], str], dict[str, Any]]:
    return {("tls", "ca.crt"): certs.ca_pem}, {"tls": tls}


def test_tls_with_the_ca_from_a_secret_and_server_name(tls_far: Far, certs: Certs) -> None:
    url = tls_far.answer("/v", {"ok": 1})
    secrets, fields = _tls(certs, caSecret={"name": "tls", "key": "ca.crt"}, serverName=SERVER_NAME)
    seen = measure(url, secrets, jsonPath="$.ok", **fields)
    assert (seen.outcome, seen.value) == (Outcome.VALUE, 1)


def test_tls_without_the_server_name_fails_on_the_hostname(tls_far: Far, certs: Certs) -> None:
    url = tls_far.answer("/v", {"ok": 1})
    secrets, fields = _tls(certs, caSecret={"name": "tls", "key": "ca.crt"})
    seen = measure(url, secrets, **fields)
    assert seen.outcome is Outcome.ERROR
    assert f"cannot connect to {tls_far.url}/v" in seen.message
    assert "127.0.0.1" in seen.message.split("/v", 1)[1]  # the hostname check said why


def test_tls_with_an_unknown_ca_fails(tls_far: Far) -> None:
    seen = measure(tls_far.answer("/v", {"ok": 1}))
    assert seen.outcome is Outcome.ERROR
    assert "CERTIFICATE_VERIFY_FAILED" in seen.message


def test_tls_insecure_skip_verify(tls_far: Far) -> None:
    seen = measure(
        tls_far.answer("/v", {"ok": 1}), jsonPath="$.ok", tls={"insecureSkipVerify": True}
    )
    assert (seen.outcome, seen.value) == (Outcome.VALUE, 1)


def test_a_ca_secret_that_is_not_pem_is_an_error(tls_far: Far) -> None:
    bogus = "not a certificate 5ecret"
    seen = measure(
        tls_far.answer("/v", {}),
        {("tls", "ca.crt"): bogus},
        tls={"caSecret": {"name": "tls", "key": "ca.crt"}},
    )
    assert seen.outcome is Outcome.ERROR
    assert "tls.caSecret tls/ca.crt is not a PEM CA bundle" in seen.message
    no_secret_in(seen, bogus)
    assert tls_far.seen == []
