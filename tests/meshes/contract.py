"""Our routers' cases for the router contract (the checks live in the product:
rollout/testing/router_contract.py). Each tests/meshes/cases_<router>.py provides
`CASES: list[RouterCase]`; `all_cases` collects them."""

from __future__ import annotations

from typing import Any

from rollout.models import Rollout
from rollout.testing.router_contract import RouterCase


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
