"""Seeds, mutations and the "names the field" check of the spec fuzzer.

Seeds are the documents of `examples/` (all of which pass `rollout lint`), so a mutation starts
from a realistic, valid spec and changes one thing at a known field path. Whether the result
is still valid is mostly not known in advance; what is known is *where* the change is, and so
where a rejection must point (`related`).
"""

from __future__ import annotations

import json
import math
import re
import types
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import yaml
from hypothesis import strategies as st
from pydantic import BaseModel

from rollout.documents import load_documents
from rollout.errors import SpecProblem
from rollout.models import Rollout
from rollout.models.resource import AnalysisTemplate

EXAMPLES = Path(__file__).parents[2] / "examples"
OUR_KINDS = ("Rollout", "AnalysisTemplate", "ClusterAnalysisTemplate")

# A key of a mapping (any YAML scalar: str, int, bool, None, float) or a list index.
Key = Any
FieldPath = tuple[Key, ...]


class Seed:
    """One example file: all its documents, decoded, and which of them are ours. (Not a
    dataclass: hypothesis prints a failing input's dataclasses field by field.)"""

    def __init__(self, name: str, documents: tuple[Any, ...], ours: tuple[int, ...]) -> None:
        self.name = name  # relative to examples/, for messages
        self.documents = documents
        self.ours = ours  # 0-based indexes of the Rollouts and analysis templates

    def __repr__(self) -> str:
        return f"Seed({self.name!r})"


def example_files() -> list[Path]:
    return sorted(EXAMPLES.rglob("*.yaml"))


def load_seeds() -> list[Seed]:
    seeds = []
    for path in example_files():
        decoded = [data for _, data in load_documents(path.read_text(), file=str(path))]
        ours = tuple(i for i, d in enumerate(decoded) if _kind(d) in OUR_KINDS)
        seeds.append(Seed(str(path.relative_to(EXAMPLES)), tuple(decoded), ours))
    return seeds


def _kind(data: object) -> object:
    return data.get("kind") if isinstance(data, dict) else None


@dataclass(frozen=True)
class Digits:
    """A decimal integer of `count` digits, as YAML text. Python refuses to turn an int of more
    than 4,300 digits into text (or back), so such a value cannot be held and dumped as an int;
    it can still be in a file."""

    count: int


class _Dumper(yaml.SafeDumper):
    pass


def _digits(dumper: yaml.SafeDumper, value: Digits) -> yaml.Node:
    return dumper.represent_scalar("tag:yaml.org,2002:int", "7" * value.count)


_Dumper.add_representer(Digits, _digits)


def dump(documents: list[Any], **options: Any) -> str:
    """YAML text of the documents. `sort_keys=False` keeps the examples' order (kind first)."""
    options.setdefault("sort_keys", False)
    options.setdefault("allow_unicode", True)
    text: str = yaml.dump_all(documents, Dumper=_Dumper, **options)
    return text


# ---- walking documents --------------------------------------------------------------------


def paths(node: Any, prefix: FieldPath = ()) -> Iterator[FieldPath]:
    """Every node's path, the root's (`()`) first."""
    yield prefix
    if isinstance(node, dict):
        for key, value in node.items():
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from paths(value, (*prefix, index))


def get(node: Any, path: FieldPath) -> Any:
    for key in path:
        node = node[key]
    return node


def exists(node: Any, path: FieldPath) -> bool:
    for key in path:
        in_list = isinstance(node, list) and type(key) is int and 0 <= key < len(node)
        if not (in_list or (isinstance(node, dict) and key in node)):
            return False
        node = node[key]
    return True


def depth(node: Any) -> int:
    """Collections nested in one another, the root counting 1 (as the parser's limit counts)."""
    deepest, stack = 0, [(node, 1)]
    while stack:  # not recursive: the nodes we build on purpose go past Python's stack
        item, level = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, level)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, level + 1) for child in children)
    return deepest


def same(a: Any, b: Any) -> bool:
    """Equal as data, NaN equal to NaN, and True not equal to 1 (YAML tells them apart)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


# ---- mutations ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Mutation:
    """One change to a document at `path`: the node deleted or replaced, or the key or list
    index inserted."""

    op: Literal["delete", "replace", "insert"]
    path: FieldPath
    value: Any = None

    @property
    def shifts_list(self) -> bool:
        """A list item was removed or inserted at path[-1]: the items after it moved, so a
        problem at a later index of that list is about this change too."""
        return self.op in ("delete", "insert") and bool(self.path) and type(self.path[-1]) is int

    def apply(self, doc: Any) -> Any:
        if not self.path:
            return self.value  # only "replace" reaches the root
        doc = _copy(doc)
        parent, key = get(doc, self.path[:-1]), self.path[-1]
        if self.op == "delete":
            del parent[key]
        elif self.op == "insert" and isinstance(parent, list):
            parent.insert(key, self.value)
        else:
            parent[key] = self.value
        return doc

    def __str__(self) -> str:
        value = "" if self.op == "delete" else f" = {_short(self.value)}"
        return f"{self.op} {list(self.path)}{value}"


def _copy(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _copy(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_copy(v) for v in node]
    return node


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:60]}... ({len(text)} chars)"


LONG_STRING = "long-" * 4000  # 20,000 characters: far past any name or label limit
# Decimal integers past Python's 4,300-digit str/int conversion limit are a trap of their own.
HUGE_INTS = [2**63, -(2**63) - 1, 2**64, 10**30, 10**400, Digits(4301), Digits(100_000)]

odd_scalars = st.sampled_from(
    [
        None,
        True,
        False,
        0,
        -1,
        *HUGE_INTS,
        math.nan,
        math.inf,
        -math.inf,
        -0.0,
        1e308,
        0.5,
        "",
        " ",
        "0",
        "-1",
        "true",
        "null",
        "~",
        "yes",
        ".nan",
        "1e3",
        "30s",
        "25%",
        "101%",
        "=",
        "2026-01-02T15:04:05Z",
        "ünïcødé ✓ 日本",
        "\u202eevil",
        "a\x00b",
        "tab\there",
        LONG_STRING,
        b"\x00\xffbytes",  # dumped as !!binary, read back as bytes
    ]
)
generated_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=12)
    | st.from_regex(r"[a-z][a-zA-Z0-9-]{0,15}", fullmatch=True)
)
values = st.recursive(
    odd_scalars | generated_scalars,
    lambda inner: (
        st.lists(inner, max_size=3)
        | st.dictionaries(st.text(max_size=10) | st.integers() | st.booleans(), inner, max_size=3)
    ),
    max_leaves=8,
)

TYPOS = ["replica", "setweight", "stableservice", "Spec", "metdata", "apiversion", "stpes"]
new_keys = (
    st.sampled_from(TYPOS)
    | st.from_regex(r"[a-zA-Z][a-zA-Z0-9]{0,12}", fullmatch=True)
    | st.text(min_size=1, max_size=10)
    | st.sampled_from([0, 1, -5, True, False, None, 1.5])  # keys that are not strings
)


@st.composite
def mutations(draw: st.DrawFn, doc: Any) -> Mutation:
    """delete / replace / insert at a random path of `doc`."""
    every = list(paths(doc))
    op = draw(st.sampled_from(["delete", "replace", "replace", "insert"]))
    if op == "delete":
        return Mutation("delete", draw(st.sampled_from(every[1:])))
    if op == "replace":
        return Mutation("replace", draw(st.sampled_from(every)), draw(values))
    containers = [p for p in every if isinstance(get(doc, p), dict | list)]
    where = draw(st.sampled_from(containers))
    node = get(doc, where)
    if isinstance(node, list):
        index = draw(st.integers(0, len(node)))
        return Mutation("insert", (*where, index), draw(values))
    key = draw(new_keys.filter(lambda k: k not in node))
    return Mutation("insert", (*where, key), draw(values))


# ---- which model a path is in (for "unknown field" expectations) ---------------------------


def _unwrap(tp: Any) -> Any:
    """Annotated[X, ...] and X | None down to X; None for a real union (member unknown)."""
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            tp = get_args(tp)[0]
        elif origin in (Union, types.UnionType):
            inner = [a for a in get_args(tp) if a is not type(None)]
            if len(inner) != 1:
                return None
            tp = inner[0]
        else:
            return tp


def model_at(doc: Any, path: FieldPath) -> type[BaseModel] | None:
    """The pydantic model that validates the mapping at `path`, if it is plainly known."""
    tp: Any = AnalysisTemplate if _kind(doc) in OUR_KINDS[1:] else Rollout
    for key in path:
        tp = _unwrap(tp)
        if isinstance(tp, type) and issubclass(tp, BaseModel) and isinstance(key, str):
            found = [f for n, f in tp.model_fields.items() if key in (n, f.alias)]
            if not found:
                return None
            tp = found[0].annotation
        elif get_origin(tp) is list and type(key) is int:
            tp = get_args(tp)[0]
        elif get_origin(tp) is dict:
            tp = get_args(tp)[1]
        else:
            return None
    tp = _unwrap(tp)
    return tp if isinstance(tp, type) and issubclass(tp, BaseModel) else None


def scalar_field(doc: Any, path: FieldPath) -> bool:
    """Is `path` a field of a model whose type is plainly one scalar type (an int, a string, a
    boolean, a number or one of some literals)? A list or a mapping is never one of those."""
    if not path or not isinstance(path[-1], str):
        return False
    model = model_at(doc, path[:-1])
    if model is None:
        return False
    found = [f for n, f in model.model_fields.items() if path[-1] in (n, f.alias)]
    tp = _unwrap(found[0].annotation) if found else None
    return tp in (int, str, bool, float) or get_origin(tp) is Literal


def forbids(model: type[BaseModel], key: Key) -> bool:
    """Would this model refuse `key` as an unknown field?"""
    if model.model_config.get("extra") != "forbid" or not isinstance(key, str):
        return False
    return all(key not in (name, f.alias) for name, f in model.model_fields.items())


# ---- "the rejection names the field" ------------------------------------------------------

_IDENT = r"[A-Za-z_][A-Za-z0-9_-]*"
_QUOTED = r'"(?:[^"\\]|\\.)*"'
_INDEX = rf"\[(?:\d+|{_QUOTED})\]"
_PATH = re.compile(rf"(?:{_IDENT}|{_INDEX})(?:\.{_IDENT}|{_INDEX})*")
_TOKEN = re.compile(rf"({_IDENT})|\[(\d+)\]|\[({_QUOTED})\]")


def tokens(path: str) -> FieldPath | None:
    """A problem's field path as keys and indexes; None if it is not a well-formed path
    (`spec.steps[2].setWeight`, `metadata.labels["app.kubernetes.io/name"]`)."""
    if path and not _PATH.fullmatch(path):
        return None
    return tuple(
        name if name else int(index) if index else json.loads(quoted)
        for name, index, quoted in _TOKEN.findall(path)
    )


def _prefix(a: FieldPath, b: FieldPath) -> bool:
    return len(a) <= len(b) and all(same(x, y) for x, y in zip(a, b, strict=False))


def named_part(path: FieldPath, doc: Any) -> FieldPath:
    """The path up to its first mapping key that is not a string (which has no name of its
    own in a field path; an int there is a key, not a list index, hence the document)."""
    node = doc
    for i, key in enumerate(path):
        if isinstance(node, dict) and not isinstance(key, str):
            return path[:i]
        if not exists(node, (key,)):
            break  # the key an insert adds: its parent was checked above
        node = node[key]
    return path


def _near(q: FieldPath, mutation: Mutation, before: Any) -> bool:
    """q is the mutated path, above it or below it (or a later item of a list that shifted).

    A key that is not a string has no name of its own in a field path: a problem about it
    points at the mapping holding it, or below it at the key as YAML spells it (`null`)."""
    p, named = mutation.path, named_part(mutation.path, before)
    if named != p:
        return _prefix(q, named) or _prefix(named, q)
    if _prefix(q, p) or _prefix(p, q):
        return True
    if mutation.shifts_list:
        *above, index = p
        n = len(above)
        return len(q) > n and _prefix(tuple(above), q) and type(q[n]) is int and q[n] >= int(index)
    return False


# Field paths quoted in a reason ("does not match template.metadata.labels").
_NAMED = re.compile(
    r"(?<![\w.\[\"'-])[a-z][A-Za-z0-9]*(?:\[\d+\])*(?:\.[a-z][A-Za-z0-9]*(?:\[\d+\])*)*"
)


def related(problem: SpecProblem, mutation: Mutation, before: Any, after: Any) -> bool:
    """Does the problem name the mutated field?

    Either its own path is the mutated path, an ancestor or a descendant of it; or it is a rule
    across fields and its reason names the mutated field relative to one of the problem's
    ancestors (`spec.selector: does not match template.metadata.labels`), where the named path
    must really exist in the document before or after the change (so an English word that
    happens to be a field name elsewhere does not count)."""
    q = tokens(problem.path)
    if q is None:
        return False
    if not named_part(mutation.path, before):  # the document itself was changed (or a key of it
        return True  # that is not a string): the problem is about the document
    if not q:
        return False  # a field was changed, so a field must be named
    if _near(q, mutation, before):
        return True
    for named in _NAMED.findall(problem.reason):
        rel = tokens(named)
        if not rel:
            continue
        for cut in range(1, len(q) + 1):
            candidate = (*q[:cut], *rel)
            real = exists(before, candidate) or exists(after, candidate)
            if real and _near(candidate, mutation, before):
                return True
    return False


# ---- YAML that is hostile as text ---------------------------------------------------------


def alias_bomb(width: int, levels: int) -> tuple[str, int]:
    """Billion laughs: each level is a list of `width` aliases of the level below. Returns the
    text and how many values it expands to."""
    lines = ['l0: &l0 ["lol"]']
    for level in range(1, levels + 1):
        items = ", ".join([f"*l{level - 1}"] * width)
        lines.append(f"l{level}: &l{level} [{items}]")
    # Every level's list node counts, plus its items, expanded: 1 + width * size(below).
    size = 2  # l0: the list and its one scalar
    total = 1 + size  # the root mapping and l0 (keys are scalars, counted below)
    for _ in range(levels):
        size = 1 + width * size
        total += size
    total += levels + 1  # the keys l0..lN
    return "\n".join(lines) + "\n", total


def nest(levels: int, leaf: Any, *, flow_lists: bool) -> Any:
    """`levels` collections nested in one another around `leaf`."""
    node = leaf
    for i in range(levels):
        node = [node] if flow_lists or i % 2 else {"k": node}
    return node
