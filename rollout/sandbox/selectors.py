"""Label and field selectors, as the ``labelSelector``/``fieldSelector`` query parameters use them.

Owns parsing (the full label-selector grammar of
k8s.io/apimachinery/pkg/labels, and the ``=``/``==``/``!=`` field-selector
grammar) and matching against stored objects. Parse errors raise a 400
``ApiError`` with the same flavour of message the API server sends.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from rollout.selectors import Requirement, SelectorError
from rollout.selectors import parse_label_selector as parse_requirements

from .errors import bad_request

JSON = dict[str, Any]


def parse_label_selector(text: str | None) -> list[Requirement]:
    """The requirements of `text` (rollout.selectors); not a selector: a 400, as the API
    server answers."""
    try:
        return parse_requirements(text)
    except SelectorError as err:
        raise bad_request(str(err)) from None


def match_labels(reqs: list[Requirement], obj: JSON) -> bool:
    labels = (obj.get("metadata") or {}).get("labels") or {}
    return all(r.matches(labels) for r in reqs)


def label_selector_to_string(selector: JSON | None) -> str:
    """Render a metav1.LabelSelector as query syntax (what Scale.status.selector carries)."""
    if not selector:
        return ""
    parts: list[tuple[str, str]] = []
    for k, v in (selector.get("matchLabels") or {}).items():
        parts.append((k, f"{k}={v}"))
    for expr in selector.get("matchExpressions") or []:
        k, op, vals = (
            expr.get("key", ""),
            expr.get("operator", ""),
            sorted(expr.get("values") or []),
        )
        text = {
            "In": f"{k} in ({','.join(vals)})",
            "NotIn": f"{k} notin ({','.join(vals)})",
            "Exists": k,
            "DoesNotExist": f"!{k}",
        }.get(op, "")
        parts.append((k, text))
    # labels.Selector.String() sorts requirements by key.
    return ",".join(text for _, text in sorted(parts))


@dataclass(frozen=True)
class FieldTerm:
    path: str
    negate: bool
    value: str


_FIELD_TERM = re.compile(r"^(?P<key>[^=!]+?)\s*(?P<op>==|!=|=)\s*(?P<value>.*)$", re.S)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts, cur, i = [], [], 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            cur.append(text[i : i + 2])
            i += 2
            continue
        if text[i] == sep:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(text[i])
        i += 1
    parts.append("".join(cur))
    return parts


def _unescape(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_field_selector(text: str | None) -> list[FieldTerm]:
    if not text or not text.strip():
        return []
    terms: list[FieldTerm] = []
    for raw in _split_unescaped(text, ","):
        m = _FIELD_TERM.match(raw.strip())
        if not m:
            raise bad_request(f"invalid selector: '{text}'; can't understand '{raw}'")
        terms.append(FieldTerm(m["key"].strip(), m["op"] == "!=", _unescape(m["value"])))
    return terms


def field_value(obj: JSON, path: str) -> str:
    """Generic dotted-path lookup; missing fields compare as the empty string."""
    cur: Any = obj
    for part in path.split("."):
        if not isinstance(cur, dict):
            return ""
        cur = cur.get(part)
    if cur is None:
        return ""
    if isinstance(cur, bool):
        return "true" if cur else "false"
    return str(cur)


def match_fields(terms: list[FieldTerm], obj: JSON) -> bool:
    return all((field_value(obj, t.path) == t.value) != t.negate for t in terms)


def name_from_field_selector(terms: list[FieldTerm]) -> str | None:
    """``metadata.name=x`` lets get-style lookups short-circuit a scan."""
    for t in terms:
        if t.path == "metadata.name" and not t.negate:
            return t.value
    return None


Matcher = Callable[[JSON], bool]


def make_matcher(label_selector: str | None, field_selector: str | None) -> Matcher:
    """One predicate for both selectors; raises 400 on malformed input."""
    labels = parse_label_selector(label_selector)
    fields = parse_field_selector(field_selector)
    if not labels and not fields:
        return lambda _obj: True
    return lambda obj: match_labels(labels, obj) and match_fields(fields, obj)
