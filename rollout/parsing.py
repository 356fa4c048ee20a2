"""From a decoded document to a `Rollout` (or an AnalysisTemplate), naming every problem by field
path and line.

Owns: validation, and turning pydantic's errors into `SpecProblem`s with the YAML's camelCase
paths (`spec.strategy.canary.steps[2].setWeight`) and plain-English reasons. Reading and
splitting files is `rollout.documents`. `lint` and the controller both call `parse_rollout`, so
they reject the same documents the same way.
"""

from __future__ import annotations

import difflib
import json
import re
import types
from dataclasses import replace
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from rollout.capabilities import router_problems
from rollout.documents import Document, join_path
from rollout.errors import SpecError, SpecProblem
from rollout.models import API_VERSION, KIND, Rollout
from rollout.models.resource import AnalysisTemplate

# ---- validating --------------------------------------------------------------------------


def parse_rollout(obj: object, *, file: str = "", document: int = 0) -> Rollout:
    """Validate a decoded document as a Rollout; SpecError lists every problem found."""
    found = _identity_problems(obj)
    if not found:
        try:
            rollout = Rollout.model_validate(obj)
            found = router_problems(rollout)
            if not found:
                return rollout
        except ValidationError as err:
            found = [_explain(detail) for detail in err.errors(include_url=False)]
    raise SpecError([SpecProblem(p, r, file=file, document=document) for p, r in found])


def first_problem(err: ValidationError) -> str:
    """`field.path: reason` of a validation error's first problem, for one-line messages (a
    template read at run time, a provider's configuration)."""
    first = err.errors()[0]
    where = ".".join(str(p) for p in first["loc"])
    return f"{where}: {first['msg']}" if where else str(first["msg"])


TEMPLATE_KINDS = ("AnalysisTemplate", "ClusterAnalysisTemplate")


def parse_template(obj: object, *, file: str = "", document: int = 0) -> AnalysisTemplate:
    """Validate a decoded document as an AnalysisTemplate or ClusterAnalysisTemplate."""
    found: list[tuple[str, str]] = []
    if not isinstance(obj, dict) or obj.get("kind") not in TEMPLATE_KINDS:
        found = [("kind", f"expected one of {', '.join(TEMPLATE_KINDS)}")]
    elif obj.get("apiVersion") != API_VERSION:
        found = [("apiVersion", f"expected apiVersion {API_VERSION}, got {obj.get('apiVersion')}")]
    else:
        try:
            return AnalysisTemplate.model_validate(obj)
        except ValidationError as err:
            found = [_explain(d, AnalysisTemplate) for d in err.errors(include_url=False)]
    raise SpecError([SpecProblem(p, r, file=file, document=document) for p, r in found])


def parse_document(doc: Document, *, file: str) -> Rollout | AnalysisTemplate:
    """`parse_rollout` (or `parse_template`, by kind) for a scanned document, with line numbers
    on the problems. A file has not been through the API server yet, so its values must also
    have the types the CRD's schema requires (`replicas: "5"` is not an integer)."""
    try:
        parsed: Rollout | AnalysisTemplate
        if isinstance(doc.data, dict) and doc.data.get("kind") in TEMPLATE_KINDS:
            parsed = parse_template(doc.data, file=file, document=doc.index)
        else:
            parsed = parse_rollout(doc.data, file=file, document=doc.index)
        coerced = _coerced(doc.data, type(parsed))
        if coerced:
            raise SpecError([SpecProblem(p, r, file=file, document=doc.index) for p, r in coerced])
        return parsed
    except SpecError as err:
        lines = [replace(p, line=doc.line_of(p.path)) for p in err.problems]
        raise SpecError(lines) from None


# The errors strict validation adds where lax validation converted a value: a string for a
# number or a boolean. The API server's schema rejects those; enums given as their text (strict
# wants members) and integral floats (JSON has one number type) are fine.
_COERCIONS = frozenset({"int_type", "float_type", "bool_type", "string_type"})


def _coerced(obj: object, model: type[BaseModel]) -> list[tuple[str, str]]:
    """(path, reason) for each value of a valid document that only lax validation accepted."""
    try:
        model.model_validate(obj, strict=True)
    except ValidationError as err:
        return [
            _explain(d, model)
            for d in err.errors(include_url=False)
            if d["type"] in _COERCIONS
            and not (isinstance(d.get("input"), float) and float(d["input"]).is_integer())
        ]
    return []


def _identity_problems(obj: object) -> list[tuple[str, str]]:
    if not isinstance(obj, dict):
        return [("", f"a document must be a mapping (apiVersion, kind, ...), got {_show(obj)}")]
    expected = f"expected kind {KIND} (apiVersion {API_VERSION})"
    kind, api_version = obj.get("kind"), obj.get("apiVersion")
    if kind is None:
        return [("kind", f"required field is missing; {expected}")]
    if kind != KIND:
        shown = kind if isinstance(kind, str) else _show(kind)
        return [("kind", f"{expected}, got {shown}")]
    if api_version != API_VERSION:
        got = "nothing" if api_version is None else _show(api_version)
        hint = ""
        if isinstance(api_version, str):
            got = api_version
            if api_version.startswith("argoproj.io/"):
                hint = " (that is an Argo Rollouts object; this controller's group is rollout.dev)"
        return [
            ("apiVersion", f"expected apiVersion {API_VERSION} for kind {KIND}, got {got}{hint}")
        ]
    return []


_SUBPATH = re.compile(
    r"^([a-z][A-Za-z0-9]*(?:\[\d+\])*(?:\.[a-z][A-Za-z0-9]*(?:\[\d+\])*)*): (.+)$"
)
_TYPE_NAMES = {
    "int": "an integer",
    "float": "a number",
    "string": "a string",
    "bool": "true or false",
    "dict": "a mapping",
    "model": "a mapping",
    "model_attributes": "a mapping",
    "list": "a list",
    "datetime": "an RFC 3339 time such as 2026-01-02T15:04:05Z",
}


def _explain(detail: ErrorDetails, root: type[BaseModel] = Rollout) -> tuple[str, str]:
    """(YAML field path, human reason) for one pydantic error."""
    loc = _field_loc(detail["loc"], root)
    kind, ctx, value = detail["type"], detail.get("ctx", {}), detail.get("input")
    msg = detail["msg"]
    if kind == "invalid_key":
        return _render(loc[:-1]), f"keys must be strings, got {_show(value)}"
    if loc[-1:] == ["[key]"]:  # a map's key (every map's keys are strings): name the map
        return _render(loc[:-2]), f"keys must be strings, got {_show(value)}"
    if kind in ("value_error", "assertion_error"):
        reason = msg.split(", ", 1)[1] if ", " in msg else msg
        sub = _SUBPATH.match(reason)
        if sub:  # a model validator naming a field below it: "steps[2].setWeight: ..."
            base = _render(loc)
            return (f"{base}.{sub.group(1)}" if base else sub.group(1)), sub.group(2)
        return _render(loc), reason
    path = _render(loc)
    if kind == "missing":
        return path, "required field is missing"
    if kind == "extra_forbidden":
        allowed = _allowed_fields(loc[:-1], root)
        reason = f"unknown field (allowed here: {', '.join(allowed)})" if allowed else msg
        close = difflib.get_close_matches(str(loc[-1]), allowed, n=1, cutoff=0.6) if loc else []
        return path, reason + (f"; did you mean {close[0]}?" if close else "")
    base = kind.removesuffix("_type").removesuffix("_parsing").removesuffix("_from_float")
    if base in _TYPE_NAMES and kind != base:
        reason = f"must be {_TYPE_NAMES[base]} (got {_show(value)})"
        if base == "string" and isinstance(value, int | float):
            reason += "; put it in quotes"
        return path, reason
    if kind in ("literal_error", "enum"):
        return path, f"must be one of {ctx.get('expected', '?')} (got {_show(value)})"
    bounds = {
        "greater_than_equal": ("at least", "ge"),
        "greater_than": ("greater than", "gt"),
        "less_than_equal": ("at most", "le"),
        "less_than": ("less than", "lt"),
    }
    if kind in bounds:
        words, key = bounds[kind]
        return path, f"must be {words} {ctx.get(key)} (got {_show(value)})"
    if kind in ("too_short", "too_long"):
        words, key = (
            ("at least", "min_length") if kind == "too_short" else ("at most", "max_length")
        )
        count = ctx.get(key)
        return path, f"must have {words} {count} item{'' if count == 1 else 's'}"
    return path, msg[:1].lower() + msg[1:]


def _show(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        text = str(value) if abs(value) < 10**30 else "a very large number"
        return f"integer {text}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"string {shown!r}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _render(loc: list[int | str]) -> str:
    path = ""
    for part in loc:
        path = path + f"[{part}]" if isinstance(part, int) else join_path(path, str(part))
    return path


def _unwrap(tp: Any) -> Any:
    """Strip Annotated[...] and Optional[...] down to the one type underneath."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            inner = [arg for arg in get_args(tp) if arg is not type(None)]
            if len(inner) != 1:
                return tp
            tp = inner[0]
        else:
            return tp


def _step(tp: Any, part: int | str) -> Any:
    """The type one loc step below `tp` (Any once we cannot tell)."""
    tp = _unwrap(tp)
    origin = get_origin(tp)
    if isinstance(part, int) and origin is list:
        return get_args(tp)[0]
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        for name, info in tp.model_fields.items():
            if part in (info.alias, name):
                return info.annotation
        return Any
    if origin is dict:
        return get_args(tp)[1]
    return Any


def _is_map(tp: Any) -> bool:
    return get_origin(_unwrap(tp)) is dict


def _is_union(tp: Any) -> bool:
    return get_origin(_unwrap(tp)) in (Union, types.UnionType)


def _field_loc(loc: tuple[int | str, ...], root: type[BaseModel] = Rollout) -> list[int | str]:
    """pydantic's loc minus the tags it adds for union members ("int", "function-after[..]")."""
    out: list[int | str] = []
    tp: Any = root
    for part in loc:
        if isinstance(part, str) and _is_union(tp):
            tp = Any  # a union member's tag, not a field; the member is unknown from here
            continue
        # A map's key that is not a string (`true:`, `1:`, `null:`), as YAML spells it, so that
        # it does not read as a list index or as Python (`[1]`, `None`).
        key = json.dumps(part) if not isinstance(part, str) and _is_map(tp) else part
        out.append(key)
        tp = _step(tp, key)
    return out


def _allowed_fields(loc: list[int | str], root: type[BaseModel] = Rollout) -> list[str]:
    """The YAML names of the fields of the model at `loc` (for "unknown field" messages)."""
    tp: Any = root
    for part in loc:
        tp = _step(tp, part)
    tp = _unwrap(tp)
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [info.alias or name for name, info in tp.model_fields.items()]
    return []
