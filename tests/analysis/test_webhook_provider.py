"""The webhook provider against a real HTTP receiver on 127.0.0.1 (the far side): the body it
is sent, the headers from Secrets, and what each kind of answer becomes."""

from __future__ import annotations

import json
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest

from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.analysis.providers.webhook import WebhookProvider
from rollout.errors import RolloutError
from rollout.models.webhooks import Webhook
from tests.analysis.provider_tools import context
from tests.http_far import Far

TOKEN = "hook-t0ken-9f2c"
NOW = datetime(2026, 12, 2, 10, 0, tzinfo=UTC)


def ctx(secrets: dict[tuple[str, str], str] | None = None) -> MeasureContext:
    return context(NOW, secrets=secrets or {})


def hook(**fields: Any) -> Webhook:
    doc: dict[str, Any] = {"name": "load-test", "type": "pre-rollout", "timeout": 2}
    doc.update(fields)
    return Webhook.model_validate(doc)


def measure(config: Webhook, context: MeasureContext | None = None) -> Observation:
    return WebhookProvider(None).measure(config, context or ctx(), None)


def test_a_2xx_answer_succeeds_and_the_rollout_is_described_in_the_body(far: Far) -> None:
    url = far.answer("/gate", {"ok": True}, status=202)
    seen = measure(hook(url=url, metadata={"team": "payments"}))
    assert seen.outcome is Outcome.SUCCEEDED
    assert seen.display == "202" and "HTTP 202" in seen.message and '{"ok": true}' in seen.message
    (request,) = far.seen
    assert request.method == "POST"
    assert request.headers["Content-Type"] == "application/json"
    assert json.loads(request.body) == {
        "name": "app",
        "namespace": "default",
        "type": "pre-rollout",
        "webhook": "load-test",
        "revision": "abc123",
        "stableRevision": "def456",
        "time": "2026-12-02T10:00:00Z",
        "metadata": {"team": "payments"},
    }


@pytest.mark.parametrize("status", [301, 404, 500, 503])
def test_anything_but_2xx_is_an_error_that_quotes_the_answer(far: Far, status: int) -> None:
    url = far.answer("/gate", b"load tests not ready", status=status, content_type="text/plain")
    seen = measure(hook(url=url))
    assert seen.outcome is Outcome.ERROR
    assert f"answered HTTP {status}: load tests not ready" in seen.message


def test_a_slow_receiver_is_an_error_within_the_timeout(far: Far) -> None:
    url = far.answer("/slow", {}, delay=3)
    started = time.monotonic()
    seen = measure(hook(url=url, timeout=1))
    assert time.monotonic() - started < 2.5
    assert seen.outcome is Outcome.ERROR and "did not answer within 1s" in seen.message


def test_a_receiver_that_is_down_is_an_error_naming_it() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    seen = measure(hook(url=f"http://127.0.0.1:{port}/gate"))
    assert seen.outcome is Outcome.ERROR
    assert f"cannot connect to http://127.0.0.1:{port}/gate" in seen.message


def test_headers_and_the_url_from_secrets_are_sent_and_never_shown(far: Far) -> None:
    url = far.answer("/hook", b"denied: " + TOKEN.encode(), status=403, content_type="text/plain")
    secrets = {("hooks", "url"): f"{url}?token={TOKEN}", ("hooks", "token"): TOKEN}
    config = hook(
        urlFrom={"name": "hooks", "key": "url"},
        headers=[
            {
                "name": "Authorization",
                "valueFrom": {"secretKeyRef": {"name": "hooks", "key": "token"}},
            }
        ],
    )
    seen = measure(config, ctx(secrets))
    (request,) = far.seen
    assert request.path == f"/hook?token={TOKEN}"
    assert request.headers["Authorization"] == TOKEN
    assert seen.outcome is Outcome.ERROR
    assert TOKEN not in seen.message and "127.0.0.1" not in seen.message
    assert seen.message == "the URL in Secret hooks/url answered HTTP 403: denied: ***"


def test_a_missing_secret_is_a_config_error_naming_it() -> None:
    with pytest.raises(RolloutError, match="Secret hooks has no key url"):
        measure(hook(urlFrom={"name": "hooks", "key": "url"}))


def test_a_webhook_needs_exactly_one_of_url_and_url_from() -> None:
    with pytest.raises(ValueError, match="give exactly one of url and urlFrom"):
        hook()
    with pytest.raises(ValueError, match="give exactly one of url and urlFrom"):
        hook(url="http://x", urlFrom={"name": "a", "key": "b"})
