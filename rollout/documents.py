"""From untrusted text to YAML documents, naming every problem by line.

Owns: reading spec files (size checked before reading), splitting multi-document YAML so one
broken document does not hide the others, and refusing hostile YAML (deep nesting, alias bombs)
before anything recursive walks it. `rollout.parsing` validates the documents it yields.
"""

from __future__ import annotations

import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rollout.errors import SpecError, SpecProblem

try:  # libyaml is several times faster; the pure-Python loader behaves the same.
    from yaml import CSafeLoader as _SafeLoader
except ImportError:  # pragma: no cover - depends on how PyYAML was built
    from yaml import SafeLoader as _SafeLoader  # type: ignore[assignment]

MIB = 1024 * 1024
MAX_FILE_BYTES = 10 * MIB
MAX_DEPTH = 100
MAX_VALUES = 1_000_000  # after expanding aliases; a real Rollout has a few hundred


class _Loader(_SafeLoader):
    """Safe, and read the way kubectl reads YAML: unquoted timestamps stay strings."""


def _as_string(loader: _Loader, node: yaml.Node) -> str:
    return str(node.value)


_Loader.add_constructor("tag:yaml.org,2002:timestamp", _as_string)
# A bare `=` is the YAML 1.1 "value" type, which PyYAML cannot construct; kubectl reads a string.
_Loader.add_constructor("tag:yaml.org,2002:value", _as_string)


class _TooLong(yaml.constructor.ConstructorError):
    """A value this reader refuses although it is valid YAML."""


def _as_int(loader: _Loader, node: yaml.ScalarNode) -> int:
    """YAML's int. Python refuses to convert a decimal of more than 4,300 digits (conversion
    takes quadratic time); that is a problem at the value, not a ValueError."""
    try:
        return loader.construct_yaml_int(node)
    except ValueError:
        digits = sum(c.isdigit() for c in str(node.value))
        limit = sys.get_int_max_str_digits()
        reason = f"an integer of {digits:,} digits is too long (at most {limit:,})"
        raise _TooLong(None, None, reason, node.start_mark) from None


_Loader.add_constructor("tag:yaml.org,2002:int", _as_int)


@dataclass(frozen=True)
class Document:
    """One YAML document of a file: its 1-based index, decoded data, and where it starts."""

    index: int
    data: object
    line: int  # 1-based line in the file where the document's content starts
    node: yaml.Node | None = field(default=None, repr=False, compare=False)
    offset: int = field(default=0, repr=False)  # lines of the file before this document's text

    def line_of(self, path: str) -> int:
        """The line a field path points at, or the nearest enclosing node's line."""
        node = self.node
        if node is None:
            return self.line
        line = node.start_mark.line + 1
        for token in path_tokens(path):
            child: yaml.Node | None = None
            if isinstance(node, yaml.MappingNode) and isinstance(token, str):
                for key, value in node.value:
                    if isinstance(key, yaml.ScalarNode) and key.value == token:
                        child, line = value, key.start_mark.line + 1
            elif (
                isinstance(node, yaml.SequenceNode)
                and isinstance(token, int)
                and token < len(node.value)
            ):
                child = node.value[token]
                line = child.start_mark.line + 1
            if child is None:
                break
            node = child
        return line + self.offset


# ---- reading and splitting ---------------------------------------------------------------


def display_path(path: str | Path) -> str:
    """A path as printable text: the bytes of a file name that are not UTF-8 (which Python
    holds as lone surrogates, and a UTF-8 terminal refuses) shown as `\\xff`, as `ls -b` does."""
    return os.fsencode(path).decode("utf-8", "backslashreplace")


def read_spec_file(path: str | Path) -> str:
    """The file's text. Refuses (SpecError) files over 10 MiB *before* reading them, and
    anything that is not UTF-8 text."""
    label = display_path(path)
    try:
        size = Path(path).stat().st_size
        if size > MAX_FILE_BYTES:
            raise SpecError([_too_big(size, label)])
        with open(path, "rb") as stream:
            # Read at most one byte past the limit: stat lies for pipes and devices.
            raw = stream.read(MAX_FILE_BYTES + 1)
    except OSError as err:
        reason = f"cannot read: {err.strerror or err}"
        raise SpecError([SpecProblem("", reason, file=label)]) from None
    except ValueError:  # no system call takes a path holding a NUL byte
        reason = "cannot read: a file name cannot hold a NUL byte"
        raise SpecError([SpecProblem("", reason, file=label.replace("\0", "\\x00"))]) from None
    if len(raw) > MAX_FILE_BYTES:
        raise SpecError([_too_big(None, label)])
    return decode_spec_bytes(raw, file=label)


def decode_spec_bytes(raw: bytes, *, file: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        reason = f"not a text file: byte {err.start} is not valid UTF-8"
        raise SpecError([SpecProblem("", reason, file=file)]) from None


def _too_big(size: int | None, file: str) -> SpecProblem:
    limit = f"the limit is {MAX_FILE_BYTES // MIB} MiB"
    reason = f"file is {size / MIB:.1f} MiB; {limit}" if size else f"file is too large; {limit}"
    return SpecProblem("", reason, file=file)


# Lines as YAML counts them (str.splitlines also breaks at \v, \f and more, which YAML does not).
_LINES = re.compile(
    r"[^\r\n\x85\u2028\u2029]*(?:\r\n|[\r\n\x85\u2028\u2029])|[^\r\n\x85\u2028\u2029]+\Z"
)


def _is_marker(line: str) -> bool:
    return line.startswith("---") and (len(line) == 3 or line[3] in " \t\r\n")


def _has_content(lines: list[str]) -> bool:
    return any(s and not s.startswith(("#", "%")) for s in (ln.strip() for ln in lines))


def _split(text: str) -> list[tuple[int, str]]:
    """(0-based first line, text) of each document. A `---` at the start of a line always starts
    a document in YAML (content may not contain one), so splitting on it is exact; it lets one
    document's syntax error leave the others readable."""
    chunks: list[tuple[int, list[str]]] = [(0, [])]
    for number, line in enumerate(_LINES.findall(text)):
        if _is_marker(line):
            chunks.append((number, []))
        chunks[-1][1].append(line)
    first_line, first = chunks[0]
    if len(chunks) > 1 and not _has_content(first):
        # Comments and directives before the first `---` belong to that document.
        chunks = [(first_line, first + chunks[1][1]), *chunks[2:]]
    return [(start, "".join(lines)) for start, lines in chunks]


def scan_documents(text: str, *, file: str) -> tuple[list[Document], list[SpecProblem]]:
    """Every readable document (empty ones skipped) and a problem for each unreadable one."""
    if len(text) > MAX_FILE_BYTES:
        return [], [_too_big(len(text.encode("utf-8", "replace")), file)]
    documents: list[Document] = []
    problems: list[SpecProblem] = []
    index = 0
    for offset, chunk in _split(text):
        index += 1
        where: dict[str, Any] = {"file": file, "document": index}
        try:
            shape = _shape_problem(chunk)
            if shape is not None:
                reason, line = shape
                problems.append(SpecProblem("", reason, line=offset + line + 1, **where))
                continue
            loaded = _compose_and_construct(chunk)
        except yaml.YAMLError as err:
            problems.append(_yaml_problem(err, chunk, offset, **where))
            continue
        except RecursionError:  # belt and braces: the shape check should make this unreachable
            reason = f"nested more than {MAX_DEPTH} levels deep"
            problems.append(SpecProblem("", reason, line=offset + 1, **where))
            continue
        for n, (node, data) in enumerate(loaded):
            if n:  # a chunk holds one document unless `...` ended one without a `---`
                index += 1
            doc = Document(index, data, offset + node.start_mark.line + 1, node, offset)
            problems.extend(_duplicate_keys(doc, file))
            if data is not None:
                documents.append(doc)
    return documents, problems


def load_documents(text: str, *, file: str) -> list[tuple[int, object]]:
    """(1-based index, data) of each non-empty document; SpecError if any is unreadable."""
    documents, problems = scan_documents(text, file=file)
    if problems:
        raise SpecError(problems)
    return [(doc.index, doc.data) for doc in documents]


def _shape_problem(chunk: str) -> tuple[str, int] | None:
    """(reason, 0-based line) if the chunk nests deeper than MAX_DEPTH or its aliases expand to
    more than MAX_VALUES values. Works on the event stream, which PyYAML produces without
    recursion, so a 100,000-level document cannot crash us here."""
    loader = _Loader(chunk)
    depth = values = 0
    frames: list[list[Any]] = []  # [anchor, values at start, depth at start, deepest below]
    extent: dict[str, tuple[int, int]] = {}  # anchor -> (values, levels)
    try:
        while loader.check_event():
            event = loader.get_event()
            reached = depth
            if isinstance(event, yaml.CollectionStartEvent):
                values += 1
                depth += 1
                reached = depth
                frames.append([event.anchor, values, depth, depth])
            elif isinstance(event, yaml.CollectionEndEvent):
                anchor, start, start_depth, deepest = frames.pop()
                if anchor is not None:
                    extent[anchor] = (values - start + 1, deepest - start_depth + 1)
                if frames:
                    frames[-1][3] = max(frames[-1][3], deepest)
                depth -= 1
            elif isinstance(event, yaml.ScalarEvent):
                values += 1
                if event.anchor is not None:
                    extent[event.anchor] = (1, 0)
            elif isinstance(event, yaml.AliasEvent):
                if any(frame[0] == event.anchor for frame in frames):
                    # An alias inside the collection it names: a structure that holds itself,
                    # nested without end (PyYAML builds it; nothing else reading it should).
                    name = event.anchor
                    reason = f"nested more than {MAX_DEPTH} levels deep (*{name} is inside &{name})"
                    return reason, _mark_line(event)
                size, levels = extent.get(event.anchor or "", (1, 0))
                values += size
                reached = depth + levels
                if frames:
                    frames[-1][3] = max(frames[-1][3], reached)
            if reached > MAX_DEPTH:
                return f"nested more than {MAX_DEPTH} levels deep", _mark_line(event)
            if values > MAX_VALUES:
                reason = f"more than {MAX_VALUES:,} values once aliases are expanded"
                return reason, _mark_line(event)
    except yaml.MarkedYAMLError as err:
        # PyYAML >= 6.0.3 refuses very deep flow collections in its scanner, which reads ahead
        # of the events above: the same problem, so the same words whichever PyYAML is there.
        if "nesting depth" not in (err.problem or ""):
            raise
        mark = err.problem_mark
        return f"nested more than {MAX_DEPTH} levels deep", mark.line if mark else 0
    finally:
        loader.dispose()
    return None


def _mark_line(event: yaml.Event | None) -> int:
    mark = getattr(event, "start_mark", None)
    return int(mark.line) if mark is not None else 0


class _AtPath(yaml.MarkedYAMLError):
    """A constructor error with the field path of the node it is about."""

    def __init__(self, err: yaml.MarkedYAMLError, path: str) -> None:
        super().__init__(err.context, err.context_mark, err.problem, err.problem_mark, err.note)
        self.path = path
        self.too_long = isinstance(err, _TooLong)


def _compose_and_construct(chunk: str) -> list[tuple[yaml.Node, object]]:
    loader = _Loader(chunk)
    try:
        out: list[tuple[yaml.Node, object]] = []
        while loader.check_node():
            node = loader.get_node()
            if node is not None:
                try:
                    out.append((node, loader.construct_document(node)))
                except yaml.constructor.ConstructorError as err:
                    raise _AtPath(err, _path_at(node, err.problem_mark)) from None
        return out
    finally:
        loader.dispose()


def _path_at(root: yaml.Node, mark: yaml.Mark | None) -> str:
    """The field path of the deepest node whose text holds `mark` (a key: the mapping holding
    it); "" when only the document does. By position, not by node: the constructor may have
    taken the failing node out of the tree (a bad `<<` merge) before it raised."""
    if mark is None:
        return ""
    node, path, seen = root, "", set[int]()
    while id(node) not in seen:  # a recursive alias (`&a [*a]`) holds itself
        seen.add(id(node))
        children: list[tuple[yaml.Node, str]] = []
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if _holds(key, mark):
                    return path
                named = isinstance(key, yaml.ScalarNode) and key.value != "<<"
                children.append((value, join_path(path, str(key.value)) if named else path))
        elif isinstance(node, yaml.SequenceNode):
            children = [(item, f"{path}[{i}]") for i, item in enumerate(node.value)]
        inner = [(child, where) for child, where in children if _holds(child, mark)]
        if not inner:
            break
        node, path = inner[0]
    return path


def _holds(node: yaml.Node, mark: yaml.Mark) -> bool:
    return bool(
        node.start_mark.index <= mark.index < max(node.end_mark.index, node.start_mark.index + 1)
    )


def _yaml_problem(
    err: yaml.YAMLError, chunk: str, offset: int, *, file: str, document: int
) -> SpecProblem:
    line, path = offset + 1, ""
    if isinstance(err, yaml.MarkedYAMLError):
        reason = f"invalid YAML: {err.problem or err}"
        if isinstance(err, _AtPath):
            path = err.path
            if err.too_long:
                reason = str(err.problem)
        if err.context:
            reason += f" ({err.context})"
        mark = err.problem_mark or err.context_mark
        at_end = mark is not None and mark.line >= chunk.count("\n")
        if at_end and err.context_mark is not None:
            mark = err.context_mark  # at end of input, where the unclosed thing began helps more
        if mark is not None:
            line = offset + mark.line + 1
    elif isinstance(err, yaml.reader.ReaderError):
        code = ord(err.character) if isinstance(err.character, str) else int(err.character)
        reason = f"invalid YAML: character #x{code:04x} is not allowed ({err.reason})"
        line = offset + chunk.count("\n", 0, max(err.position, 0)) + 1
    else:
        reason = f"invalid YAML: {err}"
    return SpecProblem(path, reason, file=file, document=document, line=line)


def _duplicate_keys(doc: Document, file: str) -> list[SpecProblem]:
    """kubectl refuses a mapping that repeats a key; PyYAML silently keeps the last one."""
    problems = []
    seen_nodes: set[int] = set()  # aliases share nodes: visit each once (alias bombs)
    stack: list[tuple[yaml.Node, str]] = [(doc.node, "")] if doc.node is not None else []
    while stack:
        node, path = stack.pop()
        if id(node) in seen_nodes:
            continue
        seen_nodes.add(id(node))
        if isinstance(node, yaml.MappingNode):
            first: dict[tuple[str, str], int] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode) or key.value == "<<":
                    stack.append((value, path))
                    continue
                child = join_path(path, key.value)
                line = key.start_mark.line + 1 + doc.offset
                if (key.tag, key.value) in first:
                    earlier = first[(key.tag, key.value)]
                    reason = f"duplicate key (first at line {earlier}); YAML keeps only the last"
                    problems.append(SpecProblem(child, reason, file, doc.index, line))
                first.setdefault((key.tag, key.value), line)
                stack.append((value, child))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend((item, f"{path}[{i}]") for i, item in enumerate(node.value))
    return sorted(problems, key=lambda p: p.line or 0)


# ---- field paths (as problems name them: spec.steps[2].setWeight, labels["a.b"]) ----------------


def join_path(path: str, key: str) -> str:
    """`path.key`, or `path["key"]` for a key that is not a plain name (`[`, `a.b`, `5`)."""
    if re.fullmatch(r"[A-Za-z_][A-Za-z0-9_-]*", key):
        return f"{path}.{key}" if path else key
    return f"{path}[{json.dumps(key)}]"


def path_tokens(path: str) -> list[str | int]:
    """The keys and indexes of a path that `join_path` built."""
    tokens: list[str | int] = []
    for name, index, quoted in re.findall(
        r'([A-Za-z_][\w-]*)|\[(\d+)\]|\[("(?:[^"\\]|\\.)*")\]', path
    ):
        tokens.append(name if name else int(index) if index else json.loads(quoted))
    return tokens
