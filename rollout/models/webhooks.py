"""Webhook gates and approval gates: HTTP endpoints and people that an update waits for.

A webhook is called with a JSON body describing the rollout (POST). Gate webhooks (pre-rollout,
pre-promotion, post-promotion) must answer 2xx; anything else, after `retries` more tries, is a
failed check and rolls back, with the answer recorded. A `rollback` webhook is polled during the
update and rolls it back when it answers 2xx. `approval` webhooks are polled by approval gates
(a canary `confirm` step, blue-green's `requireApproval`), which open on `rollout promote` or
once every approval webhook answers 2xx. All of their state is analysis runs in the Rollout's
status, never in memory, so a restarted controller carries on where it was.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from rollout.models.analysis import Header, SecretKeyRef
from rollout.models.analysis_ref import dns_name
from rollout.models.base import Duration, SpecModel


class WebhookType(StrEnum):
    PRE_ROLLOUT = "pre-rollout"
    """Before the update starts (before any pod of it exists)."""
    PRE_PROMOTION = "pre-promotion"
    """Canary: after the last step, before the canary takes all traffic. Blue-green: before the
    switch."""
    POST_PROMOTION = "post-promotion"
    """Once the new revision takes all traffic, while the old one still runs; before it is
    declared stable."""
    ROLLBACK = "rollback"
    """Polled during the update: a 2xx answer rolls the update back."""
    APPROVAL = "approval"
    """Polled by approval gates: they open once every approval webhook answers 2xx."""


class Endpoint(SpecModel):
    """Where to POST: a URL, or a URL kept in a Secret, and headers."""

    url: str | None = None
    """Exactly one of url and urlFrom."""
    url_from: SecretKeyRef | None = None
    """The URL from a Secret (a URL with a token in it stays out of the spec)."""
    headers: list[Header] = []
    """Headers; values may come from Secrets."""

    @model_validator(mode="after")
    def _one_url(self) -> Endpoint:
        if (self.url is None) == (self.url_from is None):
            raise ValueError("give exactly one of url and urlFrom")
        return self


class Webhook(Endpoint):
    """An HTTP endpoint called with a JSON body: name, namespace, type, revision,
    stableRevision, time and `metadata`."""

    name: str
    type: WebhookType
    timeout: Annotated[Duration, Field(ge=1)] = 10
    """Seconds to wait for an answer."""
    retries: Annotated[int, Field(ge=0, le=100)] = 2
    """Gate webhooks: tries after the first before a failure counts (pre-rollout,
    pre-promotion, post-promotion)."""
    interval: Annotated[Duration, Field(ge=1)] = 10
    """Seconds between tries, and between polls of rollback and approval webhooks."""
    metadata: dict[str, str] = {}
    """Sent as-is in the body."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_name(value)


class OnTimeout(StrEnum):
    ABORT = "Abort"
    WAIT = "Wait"


class Approval(SpecModel):
    """Wait for `rollout promote`, or for every `approval` webhook to answer 2xx."""

    timeout: Duration | None = None
    """How long to wait (none: for ever)."""
    on_timeout: OnTimeout = OnTimeout.ABORT
    """When the timeout passes: Abort (roll back) or Wait (keep waiting, and say it is late)."""
