"""The contract every traffic router keeps, run against each router's cases.

A router module's test package provides `CASES: list[RouterCase]` (tests/meshes/cases_*.py);
a third-party router can run the same suite by providing its own cases. Each case sets up the
user's routing objects in a sandbox, and the suite checks the rules of rollout/routing.py on
the resulting objects: round trip, one guarded write, idempotence, conflicts, header routes,
finalize, and upstream-schema validity of everything written.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollout.kube import Kube
from rollout.models import Rollout
from rollout.models.traffic import SetHeaderRoute


@dataclass(frozen=True)
class RouterCase:
    id: str
    router: type
    setup: Callable[[Kube], None]
    """Install upstream CRDs, create the user's routing objects and the two Services."""
    rollout: Callable[[], Rollout]
    """The Rollout (name "app", namespace "default", uid "u1") using them."""
    objects: Callable[[Kube], list[dict[str, Any]]]
    """The routing objects as they are now."""
    validate: Callable[[dict[str, Any]], None]
    """Upstream-schema validation of one of those objects."""
    header_route: SetHeaderRoute | None
    """An example header route the router supports here, or None."""


def routed_rollout(traffic_routing: dict[str, Any], *, replicas: int = 1) -> Rollout:
    """The Rollout every router case uses: "app" in "default" (uid "u1"), with the two
    Services app-stable / app-canary and the given trafficRouting."""
    return Rollout.model_validate(
        {
            "apiVersion": "rollout.dev/v1alpha1",
            "kind": "Rollout",
            "metadata": {"name": "app", "namespace": "default", "uid": "u1"},
            "spec": {
                "replicas": replicas,
                "selector": {"matchLabels": {"app": "app"}},
                "template": {
                    "metadata": {"labels": {"app": "app"}},
                    "spec": {"containers": [{"name": "app", "image": "app:v1"}]},
                },
                "strategy": {
                    "canary": {
                        "stableService": "app-stable",
                        "canaryService": "app-canary",
                        "trafficRouting": traffic_routing,
                    }
                },
            },
        }
    )


def all_cases() -> list[RouterCase]:
    """Every router's cases found under tests/meshes/cases_*.py."""
    import importlib  # noqa: PLC0415
    import pkgutil  # noqa: PLC0415

    import tests.meshes as package  # noqa: PLC0415

    cases: list[RouterCase] = []
    for info in pkgutil.iter_modules(package.__path__):
        if info.name.startswith("cases_"):
            module = importlib.import_module(f"tests.meshes.{info.name}")
            cases.extend(module.CASES)
    return cases
