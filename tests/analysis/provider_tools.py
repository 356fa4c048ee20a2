"""What the Prometheus provider tests share: fake Secrets, a MeasureContext, a metric."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from rollout.analysis.provider import MeasureContext
from rollout.errors import RolloutError
from rollout.models.analysis import PrometheusMetric

TOKEN = "tok-5ecret-9f3a"
PASSWORD = "pw-5ecret-77c1"
API_KEY = "key-5ecret-1b2d"
SECRETS = {
    ("prom", "token"): TOKEN,
    ("prom", "user"): "analysis",
    ("prom", "password"): PASSWORD,
    ("prom", "api-key"): API_KEY,
}
"""Distinctive values, so a leak into a message is found by a plain substring search."""


def context(
    now: datetime,
    *,
    builtin: Mapping[str, str] | None = None,
    default: str | None = None,
    secrets: Mapping[tuple[str, str], str] = SECRETS,
) -> MeasureContext:
    """A context measuring at `now`, whose Secrets are `secrets` ((name, key) -> value)."""

    def secret(name: str, key: str) -> str:
        try:
            return secrets[(name, key)]
        except KeyError:
            raise RolloutError(f"Secret {name} has no key {key}") from None

    return MeasureContext(
        namespace="default",
        rollout="app",
        revision="abc123",
        stable_revision="def456",
        now=now,
        metric="m",
        run="r",
        secret=secret,
        builtin_queries=builtin or {},
        default_prometheus=default,
    )


def metric(**fields: Any) -> PrometheusMetric:
    return PrometheusMetric.model_validate(fields)
