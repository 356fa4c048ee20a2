"""Just enough PromQL to find the metric names (and label names) an expression uses.

Not a parser of the whole language: strings, label matchers, ranges and grouping clauses are
cut out first, then every identifier that is not a function, an aggregation or a keyword is a
metric name. Unbalanced brackets or an empty result fail loudly."""

from __future__ import annotations

import re

KEYWORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "atan2",
    "inf",
    "nan",
}
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_MATCHERS = re.compile(r"\{[^{}]*\}")
_RANGE = re.compile(r"\[[^\[\]]*\]")
_GROUPING = re.compile(r"\b(by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
_IDENT = re.compile(r"(?<![\w.$])[A-Za-z_:][\w:]*")
_SELECTOR = re.compile(r"(?<![\w.$])([A-Za-z_:][\w:]*)\s*\{([^{}]*)\}")
_MATCHER_LABEL = re.compile(r"([A-Za-z_]\w*)\s*(?:=~|!~|!=|=)")


def _balanced(expr: str) -> None:
    pairs = {")": "(", "]": "[", "}": "{"}
    stack: list[str] = []
    for char in _STRING.sub('""', expr):
        if char in "([{":
            stack.append(char)
        elif char in pairs and (not stack or stack.pop() != pairs[char]):
            raise ValueError(f"unbalanced {char!r} in {expr!r}")
    if stack:
        raise ValueError(f"unclosed {stack[-1]!r} in {expr!r}")


def metric_names(expr: str) -> set[str]:
    _balanced(expr)
    text = _STRING.sub(" ", expr)
    text = _MATCHERS.sub(" ", text)
    text = _RANGE.sub(" ", text)
    text = _GROUPING.sub(" ", text)
    names = set()
    for match in _IDENT.finditer(text):
        rest = text[match.end() :].lstrip()
        if rest.startswith("(") or match.group(0) in KEYWORDS:
            continue  # a function or aggregation, or a keyword
        names.add(match.group(0))
    if not names:
        raise ValueError(f"no metric name in {expr!r}")
    return names


def label_names(expr: str) -> dict[str, set[str]]:
    """metric -> the labels its selectors match on ({a="b"}), plus those in grouping clauses
    (by / without / on / ignoring), which apply to the metrics of the whole expression."""
    text = _STRING.sub('""', expr)
    used: dict[str, set[str]] = {name: set() for name in metric_names(expr)}
    for selector in _SELECTOR.finditer(text):
        used.setdefault(selector.group(1), set()).update(_MATCHER_LABEL.findall(selector.group(2)))
    grouped = {
        label.strip()
        for clause in _GROUPING.finditer(text)
        for label in clause.group(2).split(",")
        if label.strip()
    }
    for labels in used.values():
        labels.update(grouped)
    return used
