"""JSON Patch (RFC 6902) and JSON Merge Patch (RFC 7386).

Owns the two standards-defined patch formats; strategic merge patch, which
is Kubernetes-specific, lives in :mod:`.strategic`. Errors are raised as the
API server raises them: a malformed patch document is 400 BadRequest, a patch
that cannot be applied (missing path, failed ``test``) is 422 Invalid with the
generic "the server rejected our request" message.
"""

from __future__ import annotations

import copy
from typing import Any

from .errors import ApiError, bad_request

_OPS = ("add", "remove", "replace", "move", "copy", "test")


def json_equal(a: Any, b: Any) -> bool:
    """Structural JSON equality (Python's ``True == 1`` must not leak through)."""
    if a != b:  # Python's equality is the looser one: unequal there is unequal here (fast)
        return False
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(json_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(json_equal(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and bool(a == b)


def unprocessable(message: str) -> ApiError:
    # apiserver: errors.NewGenericServerResponse(422, ...) wrapping the patch library's error.
    return ApiError(
        422,
        "the server rejected our request due to an error in our request",
        details={"causes": [{"reason": "UnexpectedServerResponse", "message": message}]},
    )


def _pointer(path: Any) -> list[str]:
    if not isinstance(path, str) or (path and not path.startswith("/")):
        raise bad_request(f"invalid JSON pointer {path!r}")
    if path == "":
        return []
    return [p.replace("~1", "/").replace("~0", "~") for p in path[1:].split("/")]


def _index(container: list[Any], token: str, *, allow_end: bool) -> int:
    if token == "-" and allow_end:
        return len(container)
    if not token.isdigit() or (token != "0" and token.startswith("0")):
        raise unprocessable(f"invalid array index {token!r}")
    idx = int(token)
    if idx > len(container) or (idx == len(container) and not allow_end):
        raise unprocessable(f"array index {idx} out of bounds")
    return idx


def _parent(doc: Any, tokens: list[str], path: str) -> Any:
    cur = doc
    for tok in tokens[:-1]:
        if isinstance(cur, dict):
            if tok not in cur:
                raise unprocessable(f"doc is missing path: {path!r}")
            cur = cur[tok]
        elif isinstance(cur, list):
            cur = cur[_index(cur, tok, allow_end=False)]
        else:
            raise unprocessable(f"doc is missing path: {path!r}")
    return cur


def _get(doc: Any, path: str) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return doc
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise unprocessable(f"doc is missing path: {path!r}")
        return parent[last]
    if isinstance(parent, list):
        return parent[_index(parent, last, allow_end=False)]
    raise unprocessable(f"doc is missing path: {path!r}")


def _add(doc: Any, path: str, value: Any) -> Any:
    tokens = _pointer(path)
    if not tokens:
        return value
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        parent[last] = value
    elif isinstance(parent, list):
        parent.insert(_index(parent, last, allow_end=True), value)
    else:
        raise unprocessable(f"doc is missing path: {path!r}")
    return doc


def _remove(doc: Any, path: str) -> tuple[Any, Any]:
    tokens = _pointer(path)
    if not tokens:
        raise unprocessable("cannot remove the document root")
    parent = _parent(doc, tokens, path)
    last = tokens[-1]
    if isinstance(parent, dict):
        if last not in parent:
            raise unprocessable(f"unable to remove nonexistent key: {last}: missing value")
        return doc, parent.pop(last)
    if isinstance(parent, list):
        return doc, parent.pop(_index(parent, last, allow_end=False))
    raise unprocessable(f"doc is missing path: {path!r}")


def apply_json_patch(doc: Any, ops: Any) -> Any:
    """Apply an RFC 6902 operation list to a deep copy of ``doc``."""
    if not isinstance(ops, list):
        raise bad_request("json patch must be a list of operations")
    out = copy.deepcopy(doc)
    for op in ops:
        if not isinstance(op, dict) or op.get("op") not in _OPS or "path" not in op:
            raise bad_request(f"invalid json patch operation: {op!r}")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise bad_request(f"missing value for {kind} operation at {path!r}")
        if kind == "add":
            out = _add(out, path, copy.deepcopy(op["value"]))
        elif kind == "remove":
            out, _ = _remove(out, path)
        elif kind == "replace":
            _get(out, path)  # replace requires the target to exist
            if _pointer(path):
                out, _ = _remove(out, path)
            out = _add(out, path, copy.deepcopy(op["value"]))
        elif kind == "test":
            if not json_equal(_get(out, path), op["value"]):
                raise unprocessable(f"testing value {path} failed: test failed")
        else:
            src = op.get("from")
            if not isinstance(src, str):
                raise bad_request(f"missing from for {kind} operation")
            if kind == "move":
                if path.startswith(src + "/"):
                    raise unprocessable("cannot move a value into one of its children")
                out, value = _remove(out, src)
            else:
                value = copy.deepcopy(_get(out, src))
            out = _add(out, path, value)
    return out


def apply_merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces.

    Works on a deep copy so stored objects (shared with watchers) never mutate.
    """
    return _merge(copy.deepcopy(target), patch)


def _merge(target: Any, patch: Any) -> Any:
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = target if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = _merge(result.get(key), value)
    return result
