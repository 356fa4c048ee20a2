"""Time as it is written in Kubernetes objects: RFC 3339 in UTC, whole seconds."""

from __future__ import annotations

from datetime import UTC, datetime


def parse_time(value: str) -> datetime:
    """Parse `2026-11-22T03:09:28Z` (or with an offset). Raises ValueError with a clear message."""
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(
            f"{value!r} is not an RFC 3339 time such as 2026-01-02T15:04:05Z"
        ) from None
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone; write it in UTC with a trailing Z")
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
