"""The notifier against real HTTP receivers on 127.0.0.1 (the far side): the payload each sink
gets (the CloudEvent is read back with the cloudevents SDK), retries with backoff, failures
counted, a slow or dead receiver never blocking `submit`, and secrets never in the logs."""

from __future__ import annotations

import base64
import itertools
import json
import logging
import socket
import time
from datetime import UTC, datetime
from typing import Any

import pytest
from cloudevents.core.bindings.http import HTTPMessage, from_http_event

from rollout.kube import Kube
from rollout.kube.kinds import SECRETS
from rollout.models.notifications import Notification, NotificationEvent
from rollout.notify.events import Notice
from rollout.notify.sender import Notifier
from tests.e2e.harness import Cluster
from tests.http_far import Far

SECRET_PATH = "/hooks/T000/B000/s3cr3t-x9"
TOKEN = "n0tify-t0ken-77"
AT = datetime(2026, 12, 2, 10, 30, tzinfo=UTC)


def notice(event: NotificationEvent = NotificationEvent.ABORTED, **fields: Any) -> Notice:
    values: dict[str, Any] = {
        "event": event,
        "namespace": "shop",
        "name": "checkout",
        "reason": "RolloutAborted",
        "message": "analysis step-1 Failed: success-rate 0.91",
        "time": AT,
        "phase": "Degraded",
        "revision": "abc",
        "stable_revision": "def",
        "images": ("ghcr.io/example/checkout:2.3.0",),
    }
    values.update(fields)
    return Notice(**values)


def subscription(**fields: Any) -> Notification:
    return Notification.model_validate({"name": "team", **fields})


def fast(kube: Kube | None = None, **kwargs: Any) -> Notifier:
    notifier = Notifier(kube, first_backoff=0.05, timeout=1.0, **kwargs)
    notifier.start()
    return notifier


def test_a_webhook_gets_our_json(far: Far) -> None:
    notifier = fast()
    notifier.submit([subscription(webhook={"url": far.answer("/n", {})})], [notice()])
    assert notifier.flush()
    notifier.stop()
    (seen,) = far.seen
    assert seen.headers["Content-Type"] == "application/json"
    assert json.loads(seen.body) == {
        "event": "Aborted",
        "rollout": "checkout",
        "namespace": "shop",
        "reason": "RolloutAborted",
        "message": "analysis step-1 Failed: success-rate 0.91",
        "phase": "Degraded",
        "revision": "abc",
        "stableRevision": "def",
        "images": ["ghcr.io/example/checkout:2.3.0"],
        "time": "2026-12-02T10:30:00Z",
    }
    assert notifier.stats.sent == 1 and notifier.stats.by_kind == {("webhook", "sent"): 1}


def test_slack_gets_text_and_an_attachment(far: Far) -> None:
    notifier = fast()
    sink = {"url": far.answer("/slack", b"ok", content_type="text/plain"), "channel": "#deploys"}
    notifier.submit([subscription(slack=sink)], [notice()])
    assert notifier.flush()
    notifier.stop()
    body = json.loads(far.seen[0].body)
    assert body["text"] == "*shop/checkout: Aborted*: analysis step-1 Failed: success-rate 0.91"
    assert body["channel"] == "#deploys"
    (attachment,) = body["attachments"]
    assert attachment["color"] == "danger"
    assert {"title": "Revision", "value": "abc", "short": True} in attachment["fields"]


@pytest.mark.parametrize(
    ("event", "reason", "kind"),
    [
        (NotificationEvent.ABORTED, "RolloutAborted", "dev.cdevents.service.rolledback.0.2.0"),
        (NotificationEvent.COMPLETED, "Completed", "dev.cdevents.service.upgraded.0.2.0"),
        (NotificationEvent.PAUSED, "Paused", "dev.rollout.paused.v1"),
    ],
)
def test_cloud_events_are_structured_and_read_back_by_the_sdk(
    far: Far, event: NotificationEvent, reason: str, kind: str
) -> None:
    notifier = fast()
    sink = {"url": far.answer("/ce", {}), "source": "rollouts/prod-eu"}
    notifier.submit([subscription(cloudEvents=sink)], [notice(event, reason=reason)])
    assert notifier.flush()
    notifier.stop()
    (seen,) = far.seen
    assert seen.headers["Content-Type"] == "application/cloudevents+json"
    received = from_http_event(
        HTTPMessage(headers={k.lower(): v for k, v in seen.headers.items()}, body=seen.body)
    )
    assert received.get_type() == kind
    assert received.get_source() == "rollouts/prod-eu"
    assert received.get_subject() == "shop/checkout"
    data = received.get_data()
    assert isinstance(data, dict)
    if kind.startswith("dev.cdevents."):
        assert data["context"]["type"] == kind and data["context"]["id"] == received.get_id()
        assert data["subject"]["content"]["environment"]["id"] == "shop"
        assert data["subject"]["content"]["artifactId"] == (
            "pkg:oci/checkout?repository_url=ghcr.io/example/checkout&tag=2.3.0"
        )
    else:
        assert data["event"] == event.value


def test_a_failing_receiver_is_retried_with_backoff_then_counted(far: Far) -> None:
    url = far.answer("/n", b"busy", status=503, content_type="text/plain")
    notifier = fast(attempts=4)
    notifier.submit([subscription(webhook={"url": url})], [notice()])
    assert notifier.flush()
    notifier.stop()
    times = [s.at for s in far.seen]
    assert len(times) == 4
    gaps = [later - earlier for earlier, later in itertools.pairwise(times)]
    # Doubling from 0.05 s; a retry is never earlier than due (later only by scheduling noise).
    assert all(gap >= due for gap, due in zip(gaps, [0.05, 0.1, 0.2], strict=True)), gaps
    assert (notifier.stats.failed, notifier.stats.retries, notifier.stats.sent) == (1, 3, 0)


def test_a_failing_receiver_does_not_hold_up_the_others(far: Far) -> None:
    failing = far.answer("/a", b"busy", status=503, content_type="text/plain")
    working = far.answer("/b", {})
    notifier = Notifier(None, first_backoff=0.3, timeout=1.0, attempts=3)
    notifier.start()
    notifier.submit([subscription(webhook={"url": failing})], [notice()])
    notifier.submit([subscription(name="b", webhook={"url": working})], [notice()])
    assert notifier.flush()
    notifier.stop()
    assert [s.path for s in far.seen] == ["/a", "/b", "/a", "/a"]
    assert notifier.stats.by_kind == {("webhook", "failed"): 1, ("webhook", "sent"): 1}


def test_a_receiver_that_recovers_gets_the_notice_once(far: Far) -> None:
    far.answer("/n", b"busy", status=500, content_type="text/plain")
    notifier = Notifier(None, first_backoff=0.3, timeout=1.0)
    notifier.start()
    notifier.submit([subscription(webhook={"url": far.url + "/n"})], [notice()])
    time.sleep(0.15)
    far.answer("/n", {})
    assert notifier.flush()
    notifier.stop()
    assert [s.path for s in far.seen] == ["/n", "/n"]
    assert notifier.stats.sent == 1 and notifier.stats.failed == 0


def test_submit_never_waits_for_a_slow_or_dead_receiver(far: Far) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{sock.getsockname()[1]}/n"
    slow = far.answer("/slow", {}, delay=2)
    notifier = fast(attempts=1)
    started = time.monotonic()
    for _ in range(50):
        notifier.submit(
            [subscription(webhook={"url": slow}), subscription(name="b", webhook={"url": dead})],
            [notice()],
        )
    assert time.monotonic() - started < 0.2
    notifier.stop(drain=0.1)


def test_only_the_subscribed_events_are_sent(far: Far) -> None:
    notifier = fast()
    sink = subscription(webhook={"url": far.answer("/n", {})}, events=["Completed"])
    notifier.submit([sink], [notice(), notice(NotificationEvent.COMPLETED, reason="Completed")])
    assert notifier.flush()
    notifier.stop()
    assert [json.loads(s.body)["event"] for s in far.seen] == ["Completed"]


def test_url_and_token_from_secrets_are_used_and_never_logged(
    cluster: Cluster, far: Far, caplog: pytest.LogCaptureFixture
) -> None:
    far.answer(SECRET_PATH, b"nope", status=403, content_type="text/plain")
    cluster.kube.create(
        SECRETS,
        {
            "apiVersion": "v1",
            "kind": "Secret",
            "metadata": {"name": "hooks"},
            "data": {
                "url": base64.b64encode(f"{far.url}{SECRET_PATH}".encode()).decode(),
                "token": base64.b64encode(TOKEN.encode()).decode(),
            },
        },
        namespace="default",
    )
    sink = subscription(
        webhook={
            "urlFrom": {"name": "hooks", "key": "url"},
            "headers": [
                {
                    "name": "Authorization",
                    "valueFrom": {"secretKeyRef": {"name": "hooks", "key": "token"}},
                }
            ],
        }
    )
    caplog.set_level(logging.DEBUG, logger="rollout")
    notifier = fast(cluster.kube, attempts=2)
    notifier.submit([sink], [notice(namespace="default")])
    assert notifier.flush()
    notifier.stop()
    assert [s.path for s in far.seen] == [SECRET_PATH, SECRET_PATH]
    assert far.seen[0].headers["Authorization"] == TOKEN
    assert "HTTP 403" in caplog.text and "notification team for default/checkout" in caplog.text
    assert SECRET_PATH not in caplog.text and TOKEN not in caplog.text
    assert "127.0.0.1" not in caplog.text
