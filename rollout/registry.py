"""Adapters (traffic routers, strategies, later metric providers) found through entry points.

Ours are registered exactly like a third party's (see pyproject.toml), so nothing in the core
imports an adapter by name.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import entry_points
from typing import Any, Literal

from rollout.errors import RegistryError

Group = Literal["routers", "strategies", "providers"]


@cache
def installed(group: Group) -> dict[str, Any]:
    return {ep.name: ep for ep in entry_points(group=f"rollout.{group}")}


def load(group: Group, name: str) -> Any:
    """The adapter class registered as `name`; RegistryError lists what is installed."""
    found = installed(group).get(name)
    if found is None:
        names = ", ".join(sorted(installed(group))) or "none"
        raise RegistryError(
            f"no {group[:-1]} named {name!r} is installed (installed: {names})",
            hint="install the package that provides it, or fix the name in the spec",
        )
    return found.load()
