"""Reading the Grafana dashboard JSON the tests check (dashboards/grafana/rollouts.json)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

DASHBOARD = Path(__file__).resolve().parents[2] / "dashboards" / "grafana" / "rollouts.json"


def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def panels() -> list[dict[str, Any]]:
    return [p for p in dashboard()["panels"] if p["type"] != "row"]


def expressions() -> list[tuple[str, str]]:
    """(panel title, expr) of every target, and of the variables' queries."""
    found = [(p["title"], t["expr"]) for p in panels() for t in p["targets"]]
    for variable in dashboard()["templating"]["list"]:
        if variable["type"] == "query":
            query = variable["query"]
            text = query["query"] if isinstance(query, dict) else query
            inner = text.removeprefix("label_values(").rsplit(",", 1)[0]
            found.append((f"${variable['name']}", inner))
    return found
