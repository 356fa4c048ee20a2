"""Strategic merge patch (``application/strategic-merge-patch+json``) for built-in kinds.

The real implementation reads ``patchStrategy``/``patchMergeKey`` struct tags
from the Go types. We keep a small table of the list fields that matter for
Deployments, Pods, Services and object metadata; every other list is replaced
wholesale, which is also what the real server does for lists without a
strategy. Directives supported: ``$patch: replace|delete|merge`` (on maps and
list items), ``$retainKeys``, ``$setElementOrder/<field>`` and
``$deleteFromPrimitiveList/<field>`` (kubectl's client-side apply sends these).
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import bad_request
from .patch import json_equal

# field name -> merge key, from the Go struct tags of core/v1, apps/v1, meta/v1.
_MERGE_KEYS: dict[str, str] = {
    "containers": "name",
    "initContainers": "name",
    "ephemeralContainers": "name",
    "volumes": "name",
    "env": "name",
    "volumeMounts": "mountPath",
    "volumeDevices": "devicePath",
    "conditions": "type",
    "ownerReferences": "uid",
    "imagePullSecrets": "name",
    "hostAliases": "ip",
    "topologySpreadConstraints": "topologyKey",
    "resourceClaims": "name",
}
_CONTAINER_LISTS = ("containers", "initContainers", "ephemeralContainers")


class _Delete:
    """Sentinel: a map carried ``$patch: delete`` and must disappear."""


_DELETE = _Delete()


def _merge_key(path: list[str]) -> str | None:
    field = path[-1]
    if field == "ports":
        # Container ports merge on containerPort, Service ports on port.
        return "containerPort" if len(path) > 1 and path[-2] in _CONTAINER_LISTS else "port"
    return _MERGE_KEYS.get(field)


def _is_primitive_merge(path: list[str]) -> bool:
    # metadata.finalizers is `patchStrategy:"merge"` on a list of strings: a set union.
    return path[-2:] == ["metadata", "finalizers"]


def apply_strategic_merge_patch(original: Any, patch: Any) -> Any:
    """Apply ``patch`` to a deep copy of ``original``."""
    if not isinstance(patch, dict):
        raise bad_request("strategic merge patch must be a JSON object")
    result = _merge_map(copy.deepcopy(original) if isinstance(original, dict) else {}, patch, [])
    return {} if isinstance(result, _Delete) else result


def _merge_map(orig: dict[str, Any], patch: dict[str, Any], path: list[str]) -> Any:
    directive = patch.get("$patch")
    if directive == "replace":
        return _strip({k: v for k, v in patch.items() if k != "$patch"}, path)
    if directive == "delete":
        return _DELETE
    if directive not in (None, "merge"):
        raise bad_request(f"unknown patch directive {directive!r}")
    result = orig
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key in ("$patch", "$retainKeys"):
            continue
        if key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = value if isinstance(value, list) else []
            continue
        if key.startswith("$deleteFromPrimitiveList/"):
            field = key.split("/", 1)[1]
            drop = value if isinstance(value, list) else []
            kept = [x for x in result.get(field) or [] if not any(json_equal(x, d) for d in drop)]
            result[field] = kept
            continue
        if value is None:
            result.pop(key, None)
            continue
        current = result.get(key)
        if isinstance(value, dict):
            merged = _merge_map(current if isinstance(current, dict) else {}, value, [*path, key])
            if isinstance(merged, _Delete):
                result.pop(key, None)
            else:
                result[key] = merged
        elif isinstance(value, list):
            result[key] = _merge_list(
                current if isinstance(current, list) else [], value, [*path, key]
            )
        else:
            result[key] = value
    for field, order in orders.items():
        if isinstance(result.get(field), list):
            result[field] = _reorder(result[field], order, _merge_key([*path, field]))
    retain = patch.get("$retainKeys")
    if isinstance(retain, list):
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(orig: list[Any], patch: list[Any], path: list[str]) -> list[Any]:
    if _is_primitive_merge(path):
        return orig + [x for x in patch if not any(json_equal(x, o) for o in orig)]
    key = _merge_key(path)
    if key is None or not all(isinstance(e, dict) for e in patch):
        return [_strip(e, path) for e in patch]
    if any(e.get("$patch") == "replace" for e in patch):
        return [_strip(e, path) for e in patch if "$patch" not in e]
    result = orig
    for elem in patch:
        wanted = elem.get(key)
        idx = next(
            (
                i
                for i, o in enumerate(result)
                if isinstance(o, dict) and json_equal(o.get(key), wanted)
            ),
            None,
        )
        if elem.get("$patch") == "delete":
            if idx is not None:
                result.pop(idx)
            continue
        if idx is None:
            merged = _merge_map({}, elem, path)
            if not isinstance(merged, _Delete):
                result.append(merged)
        else:
            merged = _merge_map(result[idx], elem, path)
            if isinstance(merged, _Delete):
                result.pop(idx)
            else:
                result[idx] = merged
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(x: Any) -> Any:
        return x.get(key) if key is not None and isinstance(x, dict) else x

    wanted = [ident(o) for o in order]

    def rank(item: Any) -> int:
        ident_value = ident(item)
        for i, w in enumerate(wanted):
            if json_equal(w, ident_value):
                return i
        return len(wanted)

    return sorted(items, key=rank)  # stable: unlisted items keep their relative order


def _strip(value: Any, path: list[str]) -> Any:
    """Remove directive keys from content that is copied in rather than merged."""
    if isinstance(value, dict):
        return {k: _strip(v, [*path, k]) for k, v in value.items() if not k.startswith("$")}
    if isinstance(value, list):
        return [_strip(v, path) for v in value]
    return value
