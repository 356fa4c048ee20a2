"""Label selectors in the query syntax (`a=b,c in (x,y),!d`): the grammar of
k8s.io/apimachinery/pkg/labels, with its checks of every key and value.

The sandbox API server parses `labelSelector` with it (and answers 400 with the message); the
CLI checks a selector given on the command line with it before anything runs, so a typo in
`--rollout-selector` is a usage error naming the option, not a controller whose every list
fails.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


class SelectorError(ValueError):
    """Not a label selector; the message is the one the API server gives."""


_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_PREFIX = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_NAME_RULE = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character"
)


def key_problem(key: str) -> str:
    """Why `key` is not a label key (a qualified name: [DNS-subdomain prefix/]name), or ""."""
    prefix, slash, name = key.rpartition("/")
    if slash and not prefix:
        return "prefix part must be non-empty"
    if slash and (len(prefix) > 253 or not _PREFIX.fullmatch(prefix)):
        return (
            "prefix part a lowercase RFC 1123 subdomain must consist of lower case "
            "alphanumeric characters, '-' or '.', and must start and end with an alphanumeric "
            "character"
        )
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _NAME.fullmatch(name):
        return f"name part {_NAME_RULE}"
    return ""


def value_problem(value: str) -> str:
    """Why `value` is not a label value (empty, or a name of at most 63 characters), or ""."""
    if len(value) > 63:
        return "must be no more than 63 characters"
    if value and not _NAME.fullmatch(value):
        return "a valid label must be an empty string or " + _NAME_RULE.removeprefix("must ")
    return ""


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

    def fail(why: str) -> SelectorError:
        return SelectorError(f"unable to parse requirement: {why} in {text!r}")

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
            for req in reqs:  # as labels.NewRequirement checks them
                if why := key_problem(req.key):
                    raise fail(f"key: Invalid value: {req.key!r}: {why}")
                for i, value in enumerate(req.values if req.op not in ("<", ">") else ()):
                    if why := value_problem(value):
                        raise fail(f"values[{i}][{req.key}]: Invalid value: {value!r}: {why}")
            return reqs
        if take() != ",":
            raise fail("expected ','")
