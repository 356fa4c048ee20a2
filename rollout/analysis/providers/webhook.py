"""The `webhook` provider: POST a JSON description of the rollout; a 2xx answer says yes.

It measures spec.webhooks (gates, rollback and approval hooks; see rollout.analysis.gates), and
is registered like any provider, so a template may use it too (`plugin: {webhook: {...}}`).
Its verdict is its own: 2xx is Successful. Anything else is an Error that quotes the answer: for
a gate webhook the metric's consecutiveErrorLimit is the webhook's `retries`, so the answer that
exhausts them fails the check, and it is the one recorded; for polled webhooks it is "not yet".
A timeout or a refused connection is an Error too. URLs from Secrets and header values from
Secrets never appear in a message.
"""

from __future__ import annotations

import json
from typing import ClassVar

from pydantic import BaseModel

from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.analysis.providers.web import QUOTED, error, resolve_headers, send, shown_url
from rollout.models.analysis_status import Measurement
from rollout.models.time import format_time
from rollout.models.webhooks import Webhook


def body(hook: Webhook, ctx: MeasureContext) -> dict[str, object]:
    """What the endpoint is told (Flagger's fields, plus the revisions)."""
    return {
        "name": ctx.rollout,
        "namespace": ctx.namespace,
        "type": hook.type.value,
        "webhook": hook.name,
        "revision": ctx.revision,
        "stableRevision": ctx.stable_revision,
        "time": format_time(ctx.now),
        "metadata": dict(hook.metadata),
    }


class WebhookProvider:
    name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[BaseModel]] = Webhook

    def __init__(self, kube: object) -> None:
        del kube  # Secrets come through ctx.secret

    def measure(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        """Raises what ctx.secret raises (ConfigError, TransientKubeError) for a Secret."""
        if not isinstance(config, Webhook):
            raise TypeError(f"expected Webhook, got {type(config).__name__}")
        secrets: list[str] = []
        if config.url_from is not None:
            url = ctx.secret(config.url_from.name, config.url_from.key).strip()
            secrets.append(url)
            where = f"the URL in Secret {config.url_from.name}/{config.url_from.key}"
        else:
            assert config.url is not None  # validated: exactly one of url and urlFrom
            url, where = config.url, shown_url(config.url)
        headers = resolve_headers(config.headers, ctx, secrets)
        if isinstance(headers, Observation):
            return headers
        if not any(name.lower() == "content-type" for name, _ in headers):
            headers.append(("Content-Type", "application/json"))
        answer = send(
            "POST",
            url,
            headers=headers,
            content=json.dumps(body(config, ctx)).encode(),
            timeout=config.timeout,
            secrets=secrets,
        )
        if isinstance(answer, Observation):
            # Messages name the URL; one from a Secret is named by the Secret instead.
            return (
                error(answer.message.replace(shown_url(url), where), secrets)
                if config.url_from is not None
                else answer
            )
        response, raw = answer
        status = response.status_code
        text = raw.decode(response.encoding or "utf-8", errors="replace").strip()
        quoted = text[:QUOTED] or "(empty body)"
        if 200 <= status < 300:
            return Observation(
                Outcome.SUCCEEDED,
                display=str(status),
                message=f"{where} answered HTTP {status}: {quoted}",
            )
        return error(f"{where} answered HTTP {status}: {quoted}", secrets)

    def terminate(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> None:
        """Nothing to stop: a webhook call is never left Running."""
