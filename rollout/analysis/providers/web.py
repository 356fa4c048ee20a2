"""The `web` provider: one HTTP request to a JSON endpoint; a JSONPath picks the value.

Every answer is mapped to an Observation explicitly, the same way the Prometheus provider
does, because the gaps are where canary analysis goes wrong: no match for the path is "no
data" (never a default such as 0 or false); several matches are an error saying how many (the
conditions judge one value, never "the first one wins"); null, and a JSON NaN (Python's json
accepts the non-standard `NaN`/`Infinity`), are no data, while ±Infinity is a value the
conditions judge; a body that is not JSON, an HTTP status of 400 or more, a timeout or a
refused connection are errors naming the URL. A `{$.path}` in Kubernetes/Argo style works too.

Secrets: header values read from Secrets go into the request only. The URL is shown without
its query string and userinfo (`{{args}}` may have put a token there), and any text quoted
from the far side or from the HTTP library is scrubbed of the secret values.
"""

from __future__ import annotations

import json
import math
import ssl
from typing import Any, ClassVar

import httpx
from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as parse_jsonpath
from pydantic import BaseModel

from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.models.analysis import Header, WebMetric
from rollout.models.analysis_status import Measurement

QUOTED = 200
"""Characters of an error body quoted in the message."""
DISPLAYED = 256
"""A value's display (compact JSON) is cut to this many characters for the status."""
MAX_BODY = 4 * 1024 * 1024
"""A larger answer is an error: a metric endpoint answers with one small document."""
_FORBIDDEN_IN_HEADERS = ("\r", "\n", "\x00")


def shown_url(url: str) -> str:
    """`scheme://host[:port]/path`: no userinfo, query string or fragment, which may carry
    secrets substituted from args."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        return url.split("?", 1)[0].split("#", 1)[0]
    if not parsed.host:
        return url.split("?", 1)[0].split("#", 1)[0]
    port = f":{parsed.port}" if parsed.port is not None else ""
    return f"{parsed.scheme}://{parsed.host}{port}{parsed.path}"


def _compact(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return text if len(text) <= DISPLAYED else text[: DISPLAYED - 3] + "..."


def classify(data: Any, json_path: str) -> Observation:
    """The Observation for the JSON document `data` and the metric's JSONPath."""
    path = json_path.strip()
    if path.startswith("{") and path.endswith("}"):
        path = path[1:-1].strip()  # Kubernetes/Argo style `{$.data.ok}`
    try:
        expression = parse_jsonpath(path)
    except (JSONPathError, ValueError) as exc:
        return Observation(Outcome.ERROR, message=f"jsonPath {json_path!r} is invalid: {exc}")
    matches = [m.value for m in expression.find(data)]
    if not matches:
        return Observation(
            Outcome.NO_DATA, message=f"jsonPath {json_path} matched nothing in the response"
        )
    if len(matches) > 1:
        return Observation(
            Outcome.ERROR,
            message=(
                f"jsonPath {json_path} matched {len(matches)} values, one is needed: give a "
                "narrower path (an index such as [0], or a filter such as [?(@.name=='x')])"
            ),
        )
    value = matches[0]
    if value is None:  # the field is there but holds nothing (e.g. a ratio not computed yet)
        return Observation(Outcome.NO_DATA, display="null", message=f"jsonPath {json_path} is null")
    if isinstance(value, float) and math.isnan(value):
        return Observation(
            Outcome.NO_DATA, display="NaN", message=f"jsonPath {json_path} is NaN: nothing to judge"
        )
    if isinstance(value, float) and math.isinf(value):
        sign = "+" if value > 0 else "-"
        return Observation(
            Outcome.VALUE,
            value=value,
            display=f"{sign}Inf",
            message=f"jsonPath {json_path} is {sign}Inf",
        )
    return Observation(Outcome.VALUE, value=value, display=_compact(value))


def resolve_headers(
    given: list[Header], ctx: MeasureContext, secrets: list[str]
) -> list[tuple[str, str]] | Observation:
    """(name, value) pairs, values read from Secrets as needed (appended to `secrets`, to be
    scrubbed from any message); an ERROR observation for a header that cannot be sent."""
    headers: list[tuple[str, str]] = []
    for header in given:
        if header.value is not None:
            value = header.value
        elif header.value_from is not None and header.value_from.secret_key_ref is not None:
            ref = header.value_from.secret_key_ref
            value = ctx.secret(ref.name, ref.key)
            secrets.append(value)
        else:
            return error(
                f"header {header.name}: only value and valueFrom.secretKeyRef are supported",
                secrets,
            )
        if any(c in value for c in _FORBIDDEN_IN_HEADERS):
            return error(f"header {header.name}: the value contains a line break", secrets)
        headers.append((header.name, value))
    return headers


class WebProvider:
    """Measures a `web` metric: GET or POST `url`, then `jsonPath` into the JSON answer."""

    name: ClassVar[str] = "web"
    config_model: ClassVar[type[BaseModel]] = WebMetric

    def __init__(self, kube: object) -> None:
        del kube  # the web provider needs no Kubernetes access; secrets come through ctx.secret

    def measure(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        """Raises what ctx.secret raises (ConfigError) for a missing Secret."""
        if not isinstance(config, WebMetric):
            raise TypeError(f"expected WebMetric, got {type(config).__name__}")
        where = shown_url(config.url)
        secrets: list[str] = []
        headers = resolve_headers(config.headers, ctx, secrets)
        if isinstance(headers, Observation):
            return headers
        if config.body is not None and not any(n.lower() == "content-type" for n, _ in headers):
            headers.append(("Content-Type", "application/json"))
        verify: ssl.SSLContext | bool = True
        extensions: dict[str, Any] = {}
        tls = config.tls
        if tls is not None:
            if tls.insecure_skip_verify:
                verify = False
            elif tls.ca_secret is not None:
                pem = ctx.secret(tls.ca_secret.name, tls.ca_secret.key)
                try:
                    verify = ssl.create_default_context(cadata=pem)
                except (ssl.SSLError, ValueError) as exc:
                    return error(
                        f"tls.caSecret {tls.ca_secret.name}/{tls.ca_secret.key} is not a PEM CA "
                        f"bundle ({type(exc).__name__})",
                        secrets,
                    )
            if tls.server_name:
                extensions["sni_hostname"] = tls.server_name
        answer = send(
            config.method,
            config.url,
            headers=headers,
            content=config.body.encode() if config.body is not None else None,
            timeout=config.timeout,
            secrets=secrets,
            verify=verify,
            extensions=extensions,
        )
        if isinstance(answer, Observation):
            return answer
        response, body = answer
        status = response.status_code
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if status >= 400:
            quoted = text.strip()[:QUOTED] or "(empty body)"
            return error(f"{where} answered HTTP {status}: {quoted}", secrets, config.url)
        try:
            data = json.loads(text)
        except ValueError:
            quoted = text.strip()[:80] or "(empty body)"
            return error(
                f"the answer from {where} (HTTP {status}, "
                f"{response.headers.get('content-type', 'no content type')}) is not JSON: {quoted}",
                secrets,
                config.url,
            )
        found = classify(data, config.json_path)
        if found.outcome is Outcome.ERROR:
            return error(found.message, secrets)
        return found

    def terminate(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> None:
        """Nothing to stop: a web measurement is never left Running."""


def send(
    method: str,
    url: str,
    *,
    headers: list[tuple[str, str]],
    content: bytes | None,
    timeout: float,
    secrets: list[str],
    verify: ssl.SSLContext | bool = True,
    extensions: dict[str, Any] | None = None,
) -> tuple[httpx.Response, bytes] | Observation:
    """One request: the response and its body (at most MAX_BODY), or an ERROR observation that
    names the URL (without secrets) and what went wrong."""
    where = shown_url(url)
    try:
        with (
            httpx.Client(verify=verify, timeout=float(timeout)) as client,
            client.stream(
                method, url, headers=headers, content=content, extensions=extensions or {}
            ) as response,
        ):
            return response, read_limited(response)
    except httpx.TimeoutException:
        return error(f"{where} did not answer within {timeout}s", secrets, url)
    except httpx.ConnectError as exc:
        return error(f"cannot connect to {where}: {exc}", secrets, url)
    except httpx.UnsupportedProtocol:
        return error(f"{where}: the URL needs http:// or https://", secrets, url)
    except (httpx.HTTPError, httpx.InvalidURL) as exc:
        return error(f"request to {where} failed: {exc}", secrets, url)
    except TooLargeError:
        return error(f"the answer from {where} is larger than {MAX_BODY} bytes", secrets)


class TooLargeError(Exception):
    """The answer exceeded MAX_BODY."""


def read_limited(response: httpx.Response) -> bytes:
    chunks: list[bytes] = []
    size = 0
    for chunk in response.iter_bytes():
        size += len(chunk)
        if size > MAX_BODY:
            raise TooLargeError
        chunks.append(chunk)
    return b"".join(chunks)


def error(message: str, secrets: list[str], url: str | None = None) -> Observation:
    """An ERROR whose message carries neither a secret value nor the full URL."""
    if url:
        message = message.replace(url, shown_url(url))
    for value in sorted(filter(None, secrets), key=len, reverse=True):
        message = message.replace(value, "***")
    return Observation(Outcome.ERROR, message=message)
