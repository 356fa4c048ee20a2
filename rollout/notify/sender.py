"""Delivering notifications: asynchronous, retried with backoff, never blocking a rollout.

`Notifier.submit` only puts deliveries on a bounded schedule (a full one drops the newest and
counts it); one background thread sends whatever is due, each POST bounded by a timeout. A
failed attempt is scheduled again with exponential backoff, and others go out meanwhile, so a
dead receiver delays only its own notifications (a receiver that hangs holds the thread for
the timeout of each attempt). After the last attempt a delivery is given up and counted.

URLs and header values from Secrets are read by that thread when it sends (so the reconcile
worker does no I/O for this) and never logged: a delivery is named by its Rollout and
subscription only.

Delivery is at most once per written decision: a controller killed after writing a status but
before sending loses those notifications (the history in status keeps the record).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from rollout.errors import ConfigError, TransientKubeError
from rollout.kube import Kube
from rollout.models.analysis import SecretKeyRef
from rollout.models.notifications import Notification
from rollout.notify import payloads
from rollout.notify.events import Notice
from rollout.secrets import secret_value

log = logging.getLogger(__name__)

QUEUE_LIMIT = 1000
ATTEMPTS = 5
FIRST_BACKOFF = 0.5
TIMEOUT = 5.0


@dataclass(frozen=True)
class Delivery:
    notice: Notice
    subscription: Notification


@dataclass
class Stats:
    """Counts by outcome, for the controller's metrics."""

    sent: int = 0
    failed: int = 0
    """Given up after every attempt."""
    dropped: int = 0
    """Not even queued: the queue was full."""
    retries: int = 0
    by_kind: dict[tuple[str, str], int] = field(default_factory=dict)
    """(sink kind, outcome) -> count."""

    def count(self, kind: str, outcome: str) -> None:
        self.by_kind[(kind, outcome)] = self.by_kind.get((kind, outcome), 0) + 1


class DeliveryError(Exception):
    """One attempt failed; the message names no URL or secret."""


class Notifier:
    def __init__(
        self,
        kube: Kube | None,
        *,
        attempts: int = ATTEMPTS,
        first_backoff: float = FIRST_BACKOFF,
        timeout: float = TIMEOUT,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._kube = kube
        self._attempts = attempts
        self._backoff = first_backoff
        self._timeout = timeout
        self._clock = clock
        # (due, order, attempt, delivery): the earliest due first, then in submission order.
        self._due: list[tuple[float, int, int, Delivery]] = []
        self._order = itertools.count()
        self._busy = 0  # deliveries being attempted right now
        self._wake = threading.Condition()
        self._stopping = False
        self._lock = threading.Lock()
        self.stats = Stats()
        self._thread: threading.Thread | None = None
        self._client = httpx.Client(timeout=timeout)

    def snapshot(self) -> Stats:
        """A copy of the counts, consistent at one moment (for the metrics scrape)."""
        with self._lock:
            return Stats(
                sent=self.stats.sent,
                failed=self.stats.failed,
                dropped=self.stats.dropped,
                retries=self.stats.retries,
                by_kind=dict(self.stats.by_kind),
            )

    # -- the reconcile side: never blocks ------------------------------------------------------
    def submit(self, subscriptions: list[Notification], notices: list[Notice]) -> None:
        for notice in notices:
            for subscription in subscriptions:
                if notice.event in subscription.events:
                    self._schedule(Delivery(notice, subscription), attempt=1, delay=0.0)

    def _schedule(self, delivery: Delivery, *, attempt: int, delay: float) -> None:
        with self._wake:
            if len(self._due) < QUEUE_LIMIT:
                due = self._clock() + delay
                heapq.heappush(self._due, (due, next(self._order), attempt, delivery))
                self._wake.notify_all()
                return
        subscription, notice = delivery.subscription, delivery.notice
        with self._lock:
            self.stats.dropped += 1
            self.stats.count(subscription.kind, "dropped")
        log.warning(
            "notification %s for %s/%s dropped: %d are waiting already",
            subscription.name,
            notice.namespace,
            notice.name,
            QUEUE_LIMIT,
        )

    # -- the sending side ----------------------------------------------------------------------
    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
            self._thread.start()

    def stop(self, *, drain: float = 2.0) -> None:
        """Stop once nothing is due any more, or after `drain` seconds; the rest is dropped."""
        if self._thread is not None:
            self.flush(timeout=drain)
            with self._wake:
                self._stopping = True
                self._wake.notify_all()
            self._thread.join(timeout=self._timeout + 1)
            self._thread = None
        self._client.close()

    def flush(self, timeout: float = 10.0) -> bool:
        """Wait until everything submitted was sent or given up (tests, shutdown)."""
        deadline = time.monotonic() + timeout
        with self._wake:
            while (self._due or self._busy) and time.monotonic() < deadline:
                self._wake.wait(timeout=0.02)
            return not (self._due or self._busy)

    def _run(self) -> None:
        while True:
            with self._wake:
                while not self._stopping and (not self._due or self._due[0][0] > self._clock()):
                    wait = self._due[0][0] - self._clock() if self._due else None
                    self._wake.wait(timeout=wait)
                if self._stopping:
                    return
                _, _, attempt, delivery = heapq.heappop(self._due)
                self._busy += 1
            try:
                self._attempt(delivery, attempt)
            except Exception:  # the sender must outlive any one bad delivery
                log.exception("notification delivery crashed")
            finally:
                with self._wake:
                    self._busy -= 1
                    self._wake.notify_all()

    def _attempt(self, delivery: Delivery, attempt: int) -> None:
        subscription, notice = delivery.subscription, delivery.notice
        where = f"notification {subscription.name} for {notice.namespace}/{notice.name}"
        try:
            self.send(delivery)
        except DeliveryError as err:
            if attempt >= self._attempts:
                with self._lock:
                    self.stats.failed += 1
                    self.stats.count(subscription.kind, "failed")
                log.warning("%s: given up after %d attempts: %s", where, attempt, err)
                return
            delay = self._backoff * 2 ** (attempt - 1)
            with self._lock:
                self.stats.retries += 1
            log.info("%s: attempt %d failed (%s); again in %.2fs", where, attempt, err, delay)
            self._schedule(delivery, attempt=attempt + 1, delay=delay)
            return
        with self._lock:
            self.stats.sent += 1
            self.stats.count(subscription.kind, "sent")

    def send(self, delivery: Delivery) -> None:
        """One attempt. Raises DeliveryError (without URL or secrets in it) on failure."""
        subscription, notice = delivery.subscription, delivery.notice
        endpoint = subscription.endpoint
        namespace = notice.namespace
        secrets: list[str] = []
        if endpoint.url_from is not None:
            url = self._secret(namespace, endpoint.url_from).strip()
            secrets.append(url)
        else:
            assert endpoint.url is not None  # validated: exactly one of url and urlFrom
            url = endpoint.url
        headers: dict[str, str] = {}
        for header in endpoint.headers:
            if header.value is not None:
                headers[header.name] = header.value
            elif header.value_from is not None and header.value_from.secret_key_ref is not None:
                value = self._secret(namespace, header.value_from.secret_key_ref)
                secrets.append(value)
                headers[header.name] = value
            else:
                raise DeliveryError(f"header {header.name}: only value and secretKeyRef work")
        if subscription.slack is not None:
            content_type, body = payloads.slack(notice, subscription.slack.channel)
        elif subscription.cloud_events is not None:
            content_type, body = payloads.cloud_event(notice, subscription.cloud_events.source)
        else:
            content_type, body = payloads.webhook(notice)
        headers.setdefault("Content-Type", content_type)
        try:
            response = self._client.post(url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise DeliveryError(f"no answer within {self._timeout}s") from None
        except httpx.HTTPError as err:
            raise DeliveryError(_scrub(f"{type(err).__name__}: {err}", [url, *secrets])) from None
        if not 200 <= response.status_code < 300:
            raise DeliveryError(f"HTTP {response.status_code}")

    def _secret(self, namespace: str, ref: SecretKeyRef) -> str:
        if self._kube is None:
            raise DeliveryError(f"Secret {namespace}/{ref.name}: no cluster access")
        try:
            return secret_value(self._kube, namespace, ref.name, ref.key)
        except (ConfigError, TransientKubeError) as err:
            raise DeliveryError(err.message) from None


def _scrub(text: str, secrets: list[str]) -> str:
    for value in sorted(filter(None, secrets), key=len, reverse=True):
        text = text.replace(value, "***")
    return text
