"""The Prometheus provider: one instant query, pinned to the measurement time, classified.

Every answer Prometheus can give is mapped to an Observation explicitly, because the classic
canary-analysis bugs live in the gaps (DESIGN.md §5): an empty vector is "no data", not 0; NaN
(usually 0/0: no requests) is "no data", never compared; ±Inf is a value the conditions judge,
with a note; several series are an error naming them, never "the last one wins"; a range
vector or a string is an error saying what is needed. `time=` is always sent, so a measurement
means the same thing however late it runs, and the SLO gate reuses `PrometheusClient` for its
own count queries.

Secrets (bearer token, basic-auth password, header values from Secrets) go into requests only:
never into messages or metadata, and any text quoted from the far side is scrubbed of them.
"""

from __future__ import annotations

import json
import math
import ssl
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ClassVar

import httpx
from pydantic import BaseModel

from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.errors import RolloutError
from rollout.models.analysis import (
    BasicAuth,
    CompareMetric,
    Header,
    PrometheusMetric,
    SecretKeyRef,
    TLSOptions,
)
from rollout.models.analysis_status import Measurement

DEFAULT_TIMEOUT = 10.0
TIMEOUT_GRACE = 1.0
"""The HTTP timeout exceeds the `timeout=` given to Prometheus by this much, so that a slow
query ends with Prometheus' own "query timed out" answer rather than a dropped connection."""
SERIES_NAMED = 3
QUOTED = 300
"""At most this many characters of a non-Prometheus error body are quoted in a message."""

Secret = Callable[[str, str], str]


@dataclass(frozen=True, repr=False)
class PrometheusConnection:
    """Where and how to reach one Prometheus, with secrets already resolved. Hashable, so
    clients can be cached per connection; a rotated token is a different connection. repr()
    shows no secret-bearing field."""

    address: str
    timeout: float = DEFAULT_TIMEOUT
    headers: tuple[tuple[str, str], ...] = ()
    """Sent with every request, bearer token included (as Authorization)."""
    basic_auth: tuple[str, str] | None = None
    verify: bool = True
    ca_pem: str | None = None
    server_name: str | None = None
    secrets: tuple[str, ...] = ()
    """Values read from Secrets: scrubbed from every message (as is a password in the
    address). Only these: scrubbing literal header values such as `X-Scope-OrgID: 1` would
    mangle the text."""

    @classmethod
    def resolve(
        cls,
        address: str,
        *,
        secret: Secret,
        timeout: float = DEFAULT_TIMEOUT,
        bearer_token: SecretKeyRef | None = None,
        basic_auth: BasicAuth | None = None,
        tls: TLSOptions | None = None,
        headers: Sequence[Header] = (),
    ) -> PrometheusConnection:
        """Resolve the secret-bearing settings with `secret(name, key)`. Raises RolloutError
        (or what `secret` raises for a missing Secret) naming the setting, never its value."""
        if not timeout > 0:
            raise RolloutError(f"timeout must be above 0 seconds (got {timeout})")
        sent: list[tuple[str, str]] = []
        hidden: list[str] = []

        def read(ref: SecretKeyRef) -> str:
            value = secret(ref.name, ref.key)
            hidden.append(value)
            return value

        for header in headers:
            if header.value is not None:
                sent.append((header.name, header.value))
            elif header.value_from is not None and header.value_from.secret_key_ref is not None:
                sent.append((header.name, read(header.value_from.secret_key_ref)))
            else:
                raise RolloutError(
                    f"header {header.name}: only value and valueFrom.secretKeyRef are supported "
                    "for Prometheus headers"
                )
        if bearer_token is not None:
            sent.append(("Authorization", f"Bearer {read(bearer_token)}"))
        auth = None
        if basic_auth is not None:
            auth = (read(basic_auth.username), read(basic_auth.password))
        ca_pem = None
        if tls is not None and tls.ca_secret is not None:
            ca_pem = secret(tls.ca_secret.name, tls.ca_secret.key)
        return cls(
            address=address,
            timeout=float(timeout),
            headers=tuple(sent),
            basic_auth=auth,
            verify=not (tls is not None and tls.insecure_skip_verify),
            ca_pem=ca_pem,
            server_name=tls.server_name if tls is not None else None,
            secrets=tuple(v for v in hidden if v),
        )

    def __repr__(self) -> str:
        return f"PrometheusConnection({self.shown_address!r}, timeout={self.timeout:g})"

    @property
    def shown_address(self) -> str:
        """The address for messages: without a password in its userinfo."""
        password = _url_password(self.address)
        return self.address.replace(password, "***") if password else self.address


def _url_password(address: str) -> str | None:
    try:
        return httpx.URL(address).password
    except (httpx.InvalidURL, TypeError):
        return None


class PrometheusClient:
    """Instant queries against one Prometheus over one reused HTTP connection pool.
    Never raises for what the far side does: every outcome is an Observation."""

    def __init__(self, connection: PrometheusConnection) -> None:
        """Raises RolloutError when `ca_pem` is not a PEM CA bundle."""
        self.connection = connection
        verify: ssl.SSLContext | bool = connection.verify
        if connection.verify and connection.ca_pem is not None:
            try:
                verify = ssl.create_default_context(cadata=connection.ca_pem)
            except (ssl.SSLError, ValueError) as exc:
                raise RolloutError(
                    f"tls.caSecret is not a PEM CA bundle ({type(exc).__name__})"
                ) from None
        self._http = httpx.Client(
            base_url=connection.address.rstrip("/"),
            headers=list(connection.headers),
            auth=connection.basic_auth,
            verify=verify,
            timeout=connection.timeout + TIMEOUT_GRACE,
            follow_redirects=False,
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PrometheusClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def query(self, promql: str, at: datetime) -> Observation:
        """Evaluate `promql` as an instant query at `at` (a naive time is taken as UTC)."""
        data = self._get(promql, at)
        if isinstance(data, Observation):
            return data
        body, warnings = data
        return _result(body.get("resultType"), body.get("result"), warnings)

    def buckets(self, promql: str, at: datetime) -> list[tuple[float, float]] | Observation:
        """A histogram's buckets at `at`: the vector `promql` returns, one series per `le`
        label, as [(le, cumulative count)] sorted by le (+Inf last). An empty vector is
        NO_DATA; anything else that is not one series per `le` is an ERROR."""
        data = self._get(promql, at)
        if isinstance(data, Observation):
            return data
        body, warnings = data
        result = body.get("result")
        if body.get("resultType") != "vector" or not isinstance(result, list):
            return self._error("a histogram query must return a vector (one series per le)")
        if not result:
            return _observation(
                Outcome.NO_DATA, message="empty vector: no histogram series", warnings=warnings
            )
        buckets: dict[float, float] = {}
        for sample in result:
            labels = sample.get("metric") if isinstance(sample, dict) else None
            value = sample.get("value") if isinstance(sample, dict) else None
            if not isinstance(labels, dict) or "le" not in labels or not isinstance(value, list):
                return self._error(
                    f"a histogram query needs one series per le, e.g. sum by (le) (...); got "
                    f"{_series(sample)}"
                )
            try:
                le, count = float(labels["le"]), float(value[1])
            except (TypeError, ValueError, IndexError):
                return self._error(f"not a bucket: {_short(sample)}")
            if le in buckets:
                return self._error(f"several series for le={labels['le']}: aggregate by (le)")
            buckets[le] = count
        if math.inf not in buckets:
            return self._error('the histogram has no le="+Inf" bucket')
        return sorted(buckets.items())

    def _get(self, promql: str, at: datetime) -> tuple[dict[str, Any], list[str]] | Observation:
        """The `data` of a successful answer and its warnings, or an ERROR observation."""
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        params = {
            "query": promql,
            "time": f"{at.timestamp():.3f}",
            "timeout": f"{self.connection.timeout:g}",  # float seconds; "1e-06s" would not parse
        }
        extensions = {}
        if self.connection.server_name:
            extensions["sni_hostname"] = self.connection.server_name
        where = self.connection.shown_address
        try:
            response = self._http.get("/api/v1/query", params=params, extensions=extensions)
        except httpx.TimeoutException:
            return self._error(
                f"Prometheus at {where} did not answer within {self.connection.timeout:g}s"
            )
        except httpx.ConnectError as exc:
            return self._error(f"cannot connect to Prometheus at {where}: {exc}")
        except httpx.UnsupportedProtocol:
            return self._error(
                f"Prometheus address {where} needs a scheme: http://HOST:PORT or https://..."
            )
        except httpx.HTTPError as exc:
            return self._error(f"request to Prometheus at {where} failed: {exc}")
        status = response.status_code
        try:
            body: Any = json.loads(response.content)
        except ValueError:
            body = None
        if not isinstance(body, dict):
            body = None
        warnings = [self._scrub(w) for w in _warnings(body)]
        if status >= 300 or body is None or body.get("status") != "success":
            return self._error(_http_failure(where, response, body), warnings)
        data = body.get("data")
        if not isinstance(data, dict):
            return self._error(f"Prometheus at {where} answered without data", warnings)
        return data, warnings

    def _error(self, message: str, warnings: Sequence[str] = ()) -> Observation:
        return _observation(Outcome.ERROR, message=self._scrub(message), warnings=warnings)

    def _scrub(self, text: str) -> str:
        hidden = [*self.connection.secrets, _url_password(self.connection.address) or ""]
        for value in sorted(filter(None, hidden), key=len, reverse=True):
            text = text.replace(value, "***")
        return text


def _http_failure(where: str, response: httpx.Response, body: Mapping[str, Any] | None) -> str:
    status = response.status_code
    if body is not None and ("errorType" in body or "error" in body):
        kind = body.get("errorType") or "error"
        return f"Prometheus at {where} answered HTTP {status} ({kind}): {body.get('error', '')}"
    if 300 <= status < 400:
        location = response.headers.get("location", "?")
        return (
            f"Prometheus at {where} answered HTTP {status}, a redirect to {location}: "
            "set the address to where the API really is"
        )
    if status < 300:
        kind = "not JSON" if body is None else "not a Prometheus API answer"
        return (
            f"Prometheus at {where} answered HTTP {status} with a body that is {kind} "
            f"({response.headers.get('content-type', 'no content type')}): is the address "
            "the Prometheus HTTP API?"
        )
    text = response.text.strip()[:QUOTED] if response.content else "(empty body)"
    return f"Prometheus at {where} answered HTTP {status}: {text}"


def _warnings(body: Mapping[str, Any] | None) -> list[str]:
    """The envelope's `warnings` and `infos` (the latter since Prometheus 2.50)."""
    if body is None:
        return []
    found: list[str] = []
    for key in ("warnings", "infos"):
        value = body.get(key)
        if isinstance(value, list):
            found += [str(v) for v in value]
    return found


def _result(kind: object, result: object, warnings: Sequence[str]) -> Observation:
    if kind == "scalar" and isinstance(result, list) and len(result) == 2:
        return _number(result[1], warnings)
    if kind == "vector" and isinstance(result, list):
        if not result:
            return _observation(
                Outcome.NO_DATA,
                message="empty vector: no series matched (no traffic in the range?)",
                warnings=warnings,
            )
        if len(result) > 1:
            named = ", ".join(_series(s) for s in result[:SERIES_NAMED])
            more = f" and {len(result) - SERIES_NAMED} more" if len(result) > SERIES_NAMED else ""
            return _observation(
                Outcome.ERROR,
                message=(
                    f"the query returned {len(result)} series, one number is needed: {named}"
                    f"{more} (aggregate them, e.g. sum(...), or narrow the selector)"
                ),
                warnings=warnings,
            )
        sample = result[0]
        if isinstance(sample, dict) and "value" in sample:
            value = sample["value"]
            if isinstance(value, list) and len(value) == 2:
                return _number(value[1], warnings)
        if isinstance(sample, dict) and "histogram" in sample:
            return _observation(
                Outcome.ERROR,
                message=(
                    "the query returned a native histogram, one number is needed "
                    "(e.g. histogram_quantile(0.99, ...) or histogram_count(...))"
                ),
                warnings=warnings,
            )
    if kind in ("matrix", "string"):
        hint = (
            " (a range selector such as [5m] needs a function around it, e.g. rate(...[5m]))"
            if kind == "matrix"
            else ""
        )
        return _observation(
            Outcome.ERROR,
            message=(
                f"the query returned a {kind}; an instant query returning one number is "
                f"needed (a scalar, or a vector with one series){hint}"
            ),
            warnings=warnings,
        )
    return _observation(
        Outcome.ERROR,
        message=f"unexpected answer from Prometheus: resultType {kind!r} with {_short(result)}",
        warnings=warnings,
    )


def _number(text: object, warnings: Sequence[str]) -> Observation:
    try:
        value = float(str(text))
    except ValueError:
        return _observation(
            Outcome.ERROR, message=f"not a number: {_short(text)}", warnings=warnings
        )
    if math.isnan(value):
        return _observation(
            Outcome.NO_DATA,
            display="NaN",
            message="NaN: usually 0/0, no requests in the range",
            warnings=warnings,
        )
    if math.isinf(value):
        sign = "+" if value > 0 else "-"
        return _observation(
            Outcome.VALUE,
            value=value,
            display=f"{sign}Inf",
            message=(
                f"{sign}Inf: usually a division by zero with a non-zero numerator "
                "(e.g. errors with zero total)"
            ),
            warnings=warnings,
        )
    return _observation(Outcome.VALUE, value=value, display=repr(value), warnings=warnings)


def _observation(
    outcome: Outcome,
    *,
    value: float | None = None,
    display: str | None = None,
    message: str = "",
    warnings: Sequence[str] = (),
) -> Observation:
    """Warnings never change the outcome; they are kept and mentioned."""
    metadata: dict[str, str] = {}
    if warnings:
        joined = "; ".join(warnings)
        metadata["warnings"] = joined
        noted = f"Prometheus warned: {joined}"
        message = f"{message} ({noted})" if message else noted
    return Observation(outcome, value=value, display=display, message=message, metadata=metadata)


def _series(sample: object) -> str:
    labels = sample.get("metric") if isinstance(sample, dict) else None
    if not isinstance(labels, dict):
        return "{?}"
    name = str(labels.get("__name__", ""))
    inner = ", ".join(f'{k}="{v}"' for k, v in sorted(labels.items()) if k != "__name__")
    return f"{name}{{{inner}}}"


def _short(value: object) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


CACHED_CLIENTS = 32


class PrometheusProvider:
    """Measures a `prometheus` metric: one instant query at ctx.now."""

    name: ClassVar[str] = "prometheus"
    config_model: ClassVar[type[BaseModel]] = PrometheusMetric

    def __init__(self, kube: object) -> None:
        del kube  # Prometheus needs no Kubernetes access; secrets come through ctx.secret
        self._clients: OrderedDict[PrometheusConnection, PrometheusClient] = OrderedDict()
        self._lock = threading.Lock()

    def measure(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        if not isinstance(config, PrometheusMetric):
            raise TypeError(f"expected PrometheusMetric, got {type(config).__name__}")
        if config.query is not None:
            promql = config.query
        else:
            builtin = ctx.builtin_queries.get(config.builtin or "")
            if builtin is None:
                names = ", ".join(sorted(ctx.builtin_queries)) or "none"
                return Observation(
                    Outcome.ERROR,
                    message=(
                        f"no built-in query {config.builtin!r} for this rollout's traffic "
                        f"router (available: {names})"
                    ),
                )
            promql = builtin
        client = self.client_for(config, ctx)
        if isinstance(client, Observation):
            return client
        return client.query(promql, ctx.now)

    def client_for(
        self, config: PrometheusMetric | CompareMetric, ctx: MeasureContext
    ) -> PrometheusClient | Observation:
        """The (cached) client for a metric's connection settings, or an ERROR saying why
        there is none (no address, a Secret missing)."""
        address = config.address or ctx.default_prometheus
        if not address:
            return Observation(
                Outcome.ERROR,
                message=(
                    "no Prometheus address: set the address in the metric or "
                    "spec.analysis.prometheus.address in the Rollout"
                ),
            )
        try:
            return self._client(
                PrometheusConnection.resolve(
                    address,
                    secret=ctx.secret,
                    timeout=config.timeout,
                    bearer_token=config.bearer_token,
                    basic_auth=config.basic_auth,
                    tls=config.tls,
                    headers=config.headers,
                )
            )
        except RolloutError as exc:
            return Observation(Outcome.ERROR, message=str(exc))

    def terminate(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> None:
        """An instant query is never left running."""

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _client(self, connection: PrometheusConnection) -> PrometheusClient:
        """One client (one connection pool) per connection settings, least recently used
        evicted: templates usually share a few Prometheus servers. (A request still running on
        an evicted client may fail; that takes more than CACHED_CLIENTS distinct settings in
        use at once, and it is reported as a provider error, counted like any other.)"""
        with self._lock:
            client = self._clients.get(connection)
            if client is not None:
                self._clients.move_to_end(connection)
                return client
            client = PrometheusClient(connection)
            self._clients[connection] = client
            if len(self._clients) > CACHED_CLIENTS:
                _, evicted = self._clients.popitem(last=False)
                evicted.close()
            return client
