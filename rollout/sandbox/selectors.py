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

from .errors import ApiError, bad_request

JSON = dict[str, Any]

_SPECIAL = set(" \t,()!=<>")


def _tokens(text: str) -> list[str]:
    out: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch in " \t":
            i += 1
        elif ch in "(),":
            out.append(ch)
            i += 1
        elif ch in "!=<>":
            two = text[i : i + 2]
            if two in ("==", "!="):
                out.append(two)
                i += 2
            else:
                out.append(ch)
                i += 1
        else:
            j = i
            while j < len(text) and text[j] not in _SPECIAL:
                j += 1
            out.append(text[i:j])
            i = j
    return out


@dataclass(frozen=True)
class Requirement:
    key: str
    op: str  # "=", "!=", "in", "notin", "exists", "!", "<", ">"
    values: tuple[str, ...] = ()

    def matches(self, labels: dict[str, str]) -> bool:
        present = self.key in labels
        value = labels.get(self.key)
        if self.op == "exists":
            return present
        if self.op == "!":
            return not present
        if self.op in ("=", "in"):
            return present and value in self.values
        if self.op in ("!=", "notin"):
            # Kubernetes: != and notin also select objects that lack the label.
            return not present or value not in self.values
        try:
            have, want = int(value or ""), int(self.values[0])
        except ValueError:
            return False
        return have < want if self.op == "<" else have > want


def _is_ident(tok: str) -> bool:
    return bool(tok) and tok not in ("(", ")", ",", "!", "=", "==", "!=", "<", ">")


def parse_label_selector(text: str | None) -> list[Requirement]:
    """Parse ``a=b,c in (x,y),!d``; an empty selector selects everything."""
    if not text or not text.strip():
        return []
    toks = _tokens(text)
    reqs: list[Requirement] = []
    pos = 0

    def fail(why: str) -> ApiError:
        return bad_request(f"unable to parse requirement: {why} in {text!r}")

    def take() -> str:
        nonlocal pos
        if pos >= len(toks):
            raise fail("unexpected end of selector")
        pos += 1
        return toks[pos - 1]

    while True:
        tok = take()
        if tok == "!":
            key = take()
            if not _is_ident(key):
                raise fail(f"found {key!r}, expected: identifier after '!'")
            reqs.append(Requirement(key, "!"))
        elif _is_ident(tok):
            key = tok
            nxt = toks[pos] if pos < len(toks) else ","
            if nxt == ",":
                reqs.append(Requirement(key, "exists"))
            elif nxt in ("=", "==", "!="):
                pos += 1
                val = toks[pos] if pos < len(toks) and _is_ident(toks[pos]) else ""
                pos += 1 if val else 0
                reqs.append(Requirement(key, "!=" if nxt == "!=" else "=", (val,)))
            elif nxt in ("<", ">"):
                pos += 1
                val = take()
                if not val.lstrip("-").isdigit():
                    raise fail(f"for '{nxt}' operator, the value must be an integer, got {val!r}")
                reqs.append(Requirement(key, nxt, (val,)))
            elif nxt in ("in", "notin"):
                pos += 1
                if take() != "(":
                    raise fail("found no '(', expected: '('")
                values: list[str] = []
                while True:
                    t = take()
                    if t == ")":
                        break
                    if t == ",":
                        continue
                    if not _is_ident(t):
                        raise fail(f"found {t!r}, expected: value")
                    values.append(t)
                reqs.append(Requirement(key, nxt, tuple(values)))
            else:
                raise fail(f"found {nxt!r}, expected: in, notin, =, ==, !=, gt, lt")
        else:
            raise fail(f"found {tok!r}, expected: !, identifier, or 'end of string'")
        if pos >= len(toks):
            return reqs
        if take() != ",":
            raise fail("expected ','")


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
