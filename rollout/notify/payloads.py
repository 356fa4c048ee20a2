"""How one notice reads to each kind of sink: (content type, body bytes). Pure.

- webhook: our JSON, flat and stable (`event`, `rollout`, `namespace`, `reason`, `message`,
  `phase`, `revision`, `stableRevision`, `images`, `time`);
- slack: an incoming webhook's `text` plus one coloured attachment;
- cloudEvents: CloudEvents 1.0, structured mode, through the `cloudevents` SDK. Where CDEvents
  has a type for the event its data is that CDEvent (a service deployed / upgraded / rolled
  back in an environment, the namespace); the other events get `dev.rollout.<event>.v1` types
  carrying our JSON.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from cloudevents.core.bindings.http import to_structured_event
from cloudevents.core.v1.event import CloudEvent

from rollout.models.notifications import NotificationEvent
from rollout.models.time import format_time
from rollout.notify.events import Notice

CDEVENTS_VERSION = "0.4.1"
CD_DEPLOYED = "dev.cdevents.service.deployed.0.2.0"
CD_UPGRADED = "dev.cdevents.service.upgraded.0.2.0"
CD_ROLLED_BACK = "dev.cdevents.service.rolledback.0.2.0"

_COLOURS = {
    NotificationEvent.ABORTED: "danger",
    NotificationEvent.ANALYSIS_FAILED: "danger",
    NotificationEvent.PAUSED: "warning",
    NotificationEvent.COMPLETED: "good",
    NotificationEvent.PROMOTED: "good",
}


def webhook_document(notice: Notice) -> dict[str, Any]:
    return {
        "event": notice.event.value,
        "rollout": notice.name,
        "namespace": notice.namespace,
        "reason": notice.reason,
        "message": notice.message,
        "phase": notice.phase,
        "revision": notice.revision,
        "stableRevision": notice.stable_revision,
        "images": list(notice.images),
        "time": format_time(notice.time),
    }


def webhook(notice: Notice) -> tuple[str, bytes]:
    return "application/json", json.dumps(webhook_document(notice)).encode()


def slack(notice: Notice, channel: str | None = None) -> tuple[str, bytes]:
    title = f"{notice.namespace}/{notice.name}: {notice.event.value}"
    body: dict[str, Any] = {
        "text": f"*{title}*: {notice.message}",
        "attachments": [
            {
                "color": _COLOURS.get(notice.event, "#439FE0"),
                "fields": [
                    {"title": "Phase", "value": notice.phase or "-", "short": True},
                    {"title": "Revision", "value": notice.revision or "-", "short": True},
                    {"title": "Images", "value": ", ".join(notice.images) or "-"},
                ],
                "footer": "rollout-controller",
                "ts": int(notice.time.timestamp()),
            }
        ],
    }
    if channel:
        body["channel"] = channel
    return "application/json", json.dumps(body).encode()


def cdevent_type(notice: Notice) -> str | None:
    """The CDEvents type for this notice, when one fits."""
    if notice.event is NotificationEvent.ABORTED:
        return CD_ROLLED_BACK
    if notice.event is NotificationEvent.COMPLETED:
        # A first revision is a new service instance; later ones upgrade it.
        return CD_DEPLOYED if notice.reason == "Deployed" else CD_UPGRADED
    return None


def cloud_event(notice: Notice, source: str) -> tuple[str, bytes]:
    kind = cdevent_type(notice)
    event_id = str(uuid.uuid4())
    subject = f"{notice.namespace}/{notice.name}"
    data: dict[str, Any]
    if kind is not None:
        data = {
            "context": {
                "specversion": CDEVENTS_VERSION,
                "id": event_id,
                "source": source,
                "type": kind,
                "timestamp": format_time(notice.time),
            },
            "subject": {
                "id": subject,
                "source": source,
                "type": "service",
                "content": {
                    "environment": {"id": notice.namespace, "source": source},
                    "artifactId": _purl(notice.images[0]) if notice.images else "",
                },
            },
            "customData": webhook_document(notice),
        }
    else:
        kind = f"dev.rollout.{notice.event.value[0].lower()}{notice.event.value[1:]}.v1"
        data = webhook_document(notice)
    event = CloudEvent(
        attributes={
            "id": event_id,
            "source": source,
            "type": kind,
            "subject": subject,
            "time": notice.time,
            "datacontenttype": "application/json",
        },
        data=data,
    )
    message = to_structured_event(event)
    content_type = next(v for k, v in message.headers.items() if k.lower() == "content-type")
    return content_type, message.body


def _purl(image: str) -> str:
    """A container image as a package URL (`pkg:oci/NAME?repository_url=...&tag=...`), the
    form CDEvents asks for an artifact."""
    rest, _, digest = image.partition("@")
    repository, _, tag = rest.rpartition(":") if ":" in rest.rsplit("/", 1)[-1] else (rest, "", "")
    name = repository.rsplit("/", 1)[-1]
    version = f"@{digest}" if digest else ""
    query = [f"repository_url={repository}"]
    if tag:
        query.append(f"tag={tag}")
    return f"pkg:oci/{name}{version}?{'&'.join(query)}"
