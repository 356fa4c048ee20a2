"""Server-side printing: ``meta.k8s.io/v1 Table`` responses for ``kubectl get``.

kubectl asks for ``Accept: application/json;as=Table;...`` and prints the
columns the server chooses. Without this it falls back to NAME/AGE only; with
it, ``kubectl get deploy`` shows READY/UP-TO-DATE/AVAILABLE and custom
resources show their CRD's ``additionalPrinterColumns``. Only the columns
this project looks at are defined; other kinds get Name and Age.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .resources import ResourceType

JSON = dict[str, Any]
Column = tuple[str, str, Callable[[JSON], Any]]  # (name, type, cell)


def wants_table(accept: str) -> bool:
    return "as=Table" in accept


def human_age(timestamp: Any) -> str:
    """duration.HumanDuration, as kubectl prints ages."""
    try:
        then = datetime.strptime(str(timestamp), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        return "<unknown>"
    secs = int((datetime.now(UTC) - then).total_seconds())
    if secs < 0:
        return "0s"
    mins, hours, days = secs // 60, secs // 3600, secs // 86400
    if secs < 120:
        return f"{secs}s"
    if mins < 10:
        return f"{mins}m{secs % 60}s" if secs % 60 else f"{mins}m"
    if mins < 180:
        return f"{mins}m"
    if hours < 8:
        return f"{hours}h{mins % 60}m" if mins % 60 else f"{hours}h"
    if hours < 48:
        return f"{hours}h"
    if hours < 192:
        return f"{days}d{hours % 24}h" if hours % 24 else f"{days}d"
    return f"{days}d" if days < 730 else f"{days // 365}y"


_SEGMENT = re.compile(r"\.([^.\[]+)|\[(\d+)\]|\[\?\(@\.([\w.-]+)==[\"']([^\"']*)[\"']\)\]")


def json_path(obj: Any, path: str) -> Any:
    """The subset of kubectl JSONPath printer columns use: .a.b, [0], [?(@.k=="v")]."""
    cur = obj
    for m in _SEGMENT.finditer(path.strip().strip("{}")):
        field, index, key, value = m.groups()
        if field is not None:
            cur = cur.get(field) if isinstance(cur, dict) else None
        elif index is not None:
            cur = cur[int(index)] if isinstance(cur, list) and int(index) < len(cur) else None
        else:
            matches = [i for i in cur or [] if isinstance(i, dict) and str(i.get(key)) == value]
            cur = matches[0] if matches else None
        if cur is None:
            return None
    return cur


def _meta(field: str) -> Callable[[JSON], Any]:
    return lambda obj: (obj.get("metadata") or {}).get(field)


def _status(field: str, default: Any = 0) -> Callable[[JSON], Any]:
    return lambda obj: (obj.get("status") or {}).get(field, default)


_NAME: Column = ("Name", "string", _meta("name"))
_AGE: Column = ("Age", "date", _meta("creationTimestamp"))

_COLUMNS: dict[str, list[Column]] = {
    "deployments.apps": [
        _NAME,
        (
            "Ready",
            "string",
            lambda o: f"{_status('readyReplicas')(o)}/{(o.get('spec') or {}).get('replicas', 0)}",
        ),
        ("Up-to-date", "integer", _status("updatedReplicas")),
        ("Available", "integer", _status("availableReplicas")),
        _AGE,
    ],
    "namespaces": [_NAME, ("Status", "string", _status("phase", "")), _AGE],
    "customresourcedefinitions.apiextensions.k8s.io": [
        _NAME,
        ("Created At", "string", _meta("creationTimestamp")),
    ],
}


def _path_cell(col: JSON) -> Callable[[JSON], Any]:
    path = str(col.get("jsonPath", ""))
    return lambda obj: json_path(obj, path)


def _crd_columns(crd: JSON | None, version: str) -> list[Column] | None:
    if crd is None:
        return None
    for v in (crd.get("spec") or {}).get("versions") or []:
        if v.get("name") == version and v.get("additionalPrinterColumns"):
            cols: list[Column] = [_NAME]
            for col in v["additionalPrinterColumns"]:
                cols.append((str(col["name"]), str(col.get("type", "string")), _path_cell(col)))
            return cols
    return None


def to_table(
    rt: ResourceType, items: list[JSON], rv: str, include: str, crd: JSON | None = None
) -> JSON:
    columns = _crd_columns(crd, rt.version) or _COLUMNS.get(rt.storage_key) or [_NAME, _AGE]
    rows = []
    for obj in items:
        cells = []
        for _name, type_, cell in columns:
            value = cell(obj)
            if type_ == "date":
                value = human_age(value) if value else "<unknown>"
            cells.append("<none>" if value is None else value)
        row: JSON = {"cells": cells}
        if include == "Object":
            row["object"] = obj
        elif include != "None":
            row["object"] = {
                "kind": "PartialObjectMetadata",
                "apiVersion": "meta.k8s.io/v1",
                "metadata": obj.get("metadata") or {},
            }
        rows.append(row)
    return {
        "kind": "Table",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": {"resourceVersion": rv},
        "columnDefinitions": [
            {
                "name": name,
                "type": "string" if type_ == "date" else type_,
                "format": "name" if name == "Name" else "",
                "description": "",
                "priority": 0,
            }
            for name, type_, _ in columns
        ],
        "rows": rows,
    }
