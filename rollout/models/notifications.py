"""Per-Rollout notification subscriptions: which events go where.

Sinks: a generic webhook (our JSON), a Slack-compatible incoming webhook, and CloudEvents 1.0
over HTTP (structured mode, CDEvents types where one fits). URLs and header values may come
from Secrets; they never appear in logs, events or the status.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated

from pydantic import Field, field_validator, model_validator

from rollout.models.analysis_ref import dns_name
from rollout.models.base import SpecModel
from rollout.models.webhooks import Endpoint


class NotificationEvent(StrEnum):
    STARTED = "Started"  # a new revision's update began (or a retry)
    STEP_COMPLETED = "StepCompleted"  # a canary step completed (or was promoted)
    PAUSED = "Paused"  # the rollout became Paused (a pause step, an approval, a gate ...)
    PROMOTED = "Promoted"  # the new revision became stable
    ABORTED = "Aborted"  # rolled back, with the reason
    ANALYSIS_FAILED = "AnalysisFailed"  # an analysis run (or a gate) ended Failed or Error
    COMPLETED = "Completed"  # Healthy again: the release is done


class SlackEndpoint(Endpoint):
    channel: str | None = None
    """Overrides the incoming webhook's default channel, where the workspace allows it."""


class CloudEventsEndpoint(Endpoint):
    source: str = "rollout-controller"
    """The events' `source` attribute (a URI-reference)."""


class Notification(SpecModel):
    """One subscription: a sink, and the events it gets (default: all of them)."""

    name: str
    events: Annotated[list[NotificationEvent], Field(min_length=1)] = list(NotificationEvent)
    webhook: Endpoint | None = None
    """A POST of our JSON body."""
    slack: SlackEndpoint | None = None
    """A Slack-compatible incoming webhook (text and one attachment)."""
    cloud_events: CloudEventsEndpoint | None = None
    """CloudEvents 1.0 over HTTP, structured mode (application/cloudevents+json)."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        return dns_name(value)

    @model_validator(mode="after")
    def _one_sink(self) -> Notification:
        given = [k for k in ("webhook", "slack", "cloud_events") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError(
                f"notification {self.name}: give exactly one of webhook, slack and cloudEvents"
            )
        return self

    @property
    def endpoint(self) -> Endpoint:
        chosen = self.webhook or self.slack or self.cloud_events
        assert chosen is not None  # validated: exactly one sink
        return chosen

    @property
    def kind(self) -> str:
        if self.slack is not None:
            return "slack"
        return "cloudEvents" if self.cloud_events is not None else "webhook"
