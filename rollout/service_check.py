"""The Services a Rollout pins must select its own pods.

The controller pins a Service by adding the revision label to its selector. A Service whose
selector names another app (`app: payments` for a Rollout of `app: checkout`) would then select
nothing, or, after a copy-paste, another service's pods: a blue-green switch to it would take
production down. So such a spec is refused, by `lint` when the Service is among the files and by
the controller (condition InvalidSpec) before it touches anything.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollout import labels
from rollout.models import Rollout


def service_fields(rollout: Rollout) -> list[tuple[str, str]]:
    """(Service name, field path) of every Service the strategy pins."""
    strategy = rollout.spec.strategy
    return [(name, f"{strategy.field}.{field}") for name, field in strategy.pinned_services]


def selector_problem(
    rollout: Rollout, template_labels: Mapping[str, str], service: str, selector: Mapping[str, Any]
) -> str | None:
    """Why this Service cannot carry the Rollout's traffic, or None."""
    own = {k: v for k, v in selector.items() if k != labels.REVISION}
    wrong = {k: v for k, v in own.items() if template_labels.get(k) != v}
    if not wrong:
        return None
    shown = ", ".join(f"{k}={v}" for k, v in sorted(wrong.items()))
    pods = ", ".join(f"{k}={v}" for k, v in sorted(template_labels.items())) or "no labels"
    return (
        f"Service {service} selects {shown}, which this Rollout's pods ({pods}) do not carry: "
        "it would send its traffic to other pods or to none"
    )


def problems(
    rollout: Rollout, template_labels: Mapping[str, str], services: Mapping[str, Any]
) -> list[tuple[str, str]]:
    """(field path, reason) for each pinned Service (as found in `services`, name -> object or
    None) whose selector does not fit the Rollout's pods."""
    found: list[tuple[str, str]] = []
    for name, path in service_fields(rollout):
        obj = services.get(name)
        if not isinstance(obj, Mapping):
            continue  # a missing Service is the preflight checks' business
        selector = (obj.get("spec") or {}).get("selector") or {}
        why = selector_problem(rollout, template_labels, name, selector)
        if why is not None:
            found.append((path, why))
    return found
