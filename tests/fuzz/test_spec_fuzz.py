"""Fuzzing what `rollout lint FILE` runs (`rollout.lint.lint_report`: read, split, load, validate)
with mutations of the valid examples.

Properties, whatever the input:
- nothing escapes but our own problems: `lint_report` raises nothing (it collects SpecError);
- every problem names the file, has a well-formed field path and, when the text was readable,
  a line inside the file;
- a problem in a document that was changed at path P names P (`specs.related`): its own path is
  P, above or below it, or its reason names P relative to it; and no problem is reported in a
  document that was not changed;
- what cannot be invalid is accepted: the examples, rewritten in other YAML styles (flow,
  anchors, CRLF, a BOM, explicit markers), parse to the same Rollouts.
"""

from __future__ import annotations

import json
import os
import time
import tracemalloc
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, assume, example, given, note, settings
from hypothesis import strategies as st

from rollout.cli.main import main

try:
    from yaml import CSafeLoader as SafeLoader
except ImportError:  # pragma: no cover - PyYAML without libyaml
    from yaml import SafeLoader  # type: ignore[assignment]
from rollout.documents import MAX_DEPTH, MAX_VALUES, scan_documents
from rollout.errors import SpecProblem
from rollout.lint import LintReport, lint_report
from tests.fuzz.specs import (
    Digits,
    Mutation,
    Seed,
    alias_bomb,
    depth,
    dump,
    example_files,
    forbids,
    get,
    load_seeds,
    model_at,
    mutations,
    paths,
    related,
    same,
    scalar_field,
    tokens,
    values,
)

# Random, not derandomized: each CI run explores new inputs. The example database is off so a
# run does not depend on what an earlier run on this machine found (CI must not be stateful);
# a failure prints the input and its seed (`@seed`/`@reproduce_failure`) to replay it.
# No deadline: timings on a shared 2-core machine vary too much for per-example limits; the
# alias-bomb test below asserts its own generous time bound instead.
# The budget: all of tests/fuzz in under 60 s on CI's 2 cores. FUZZ_SCALE=20 digs deeper.
SCALE = float(os.environ.get("FUZZ_SCALE", "1"))
FUZZ = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def fuzz(examples: int, *, fixtures: bool = False) -> settings:
    """FUZZ with this many examples, times $FUZZ_SCALE (default 1) for a longer run by hand."""
    checks = [HealthCheck.function_scoped_fixture] if fixtures else []
    return settings(
        FUZZ,
        max_examples=max(1, int(examples * SCALE)),
        suppress_health_check=[*FUZZ.suppress_health_check, *checks],
    )


SEEDS = load_seeds()
SEEDS_WITH_OURS = [s for s in SEEDS if s.ours]
DEMO = next(s for s in SEEDS if s.name == "rollout-demo.yaml")
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # Module-scoped: hypothesis runs many examples per test call, and each writes the same file.
    return tmp_path_factory.mktemp("fuzz")


def lint(workdir: Path, content: str | bytes) -> tuple[str, LintReport]:
    """`rollout lint <file>` on this content; the label problems must carry."""
    path = workdir / "fuzz-input.yaml"
    if isinstance(content, str):
        content = content.encode("utf-8")
    path.write_bytes(content)
    report = lint_report([str(path)])  # raising anything at all fails the property
    label = str(path)
    for problem in report.problems:
        note(problem.render())
    check_problems(report.problems, label, content)
    return label, report


def check_problems(problems: list[SpecProblem], label: str, content: bytes) -> None:
    """What every problem carries, whatever the input."""
    try:
        lines: int | None = len(content.decode("utf-8-sig").splitlines()) + 1
    except UnicodeDecodeError:
        lines = None
    for p in problems:
        shown = p.render()
        assert p.file == label and shown.startswith(label), shown
        assert p.reason.strip(), shown
        assert "Traceback" not in shown, shown
        assert tokens(p.path) is not None, f"not a field path: {p.path!r} in {shown}"
        if lines is not None and p.document:  # readable text: the problem says where
            assert p.line is not None, shown
            # splitlines() breaks at more characters than YAML does, so it bounds from above.
            assert 1 <= p.line <= lines, shown


def written(documents: list[Any]) -> str:
    """YAML text of the documents, where PyYAML reads back what it was given: its emitter
    writes a few strings in ways its reader takes otherwise (a key of one NEL, U+0085, comes
    back as a space). Such an input would test the harness, not lint, so it is skipped."""
    text = dump(documents)
    try:
        back = list(yaml.load_all(text, Loader=SafeLoader))
    except ValueError:  # an int over Python's 4,300 digits, written on purpose (Digits)
        return text
    assume(same(back, documents))
    return text


def readable(text: str) -> bool:
    """Whether every document of the text loads as YAML (and so is validated at all)."""
    return not scan_documents(text, file="-")[1]


def with_document(seed: Seed, index: int, doc: Any) -> list[Any]:
    docs = list(seed.documents)
    docs[index] = doc
    return docs


# ---- the examples are valid, however they are written -------------------------------------


@pytest.mark.parametrize("path", example_files(), ids=lambda p: p.name)
def test_every_example_lints_clean(path: Path) -> None:
    report = lint_report([str(path)])
    assert report.ok, [p.render() for p in report.problems]
    assert report.rollouts_valid + report.templates_valid >= 1


def _share_equal_subtrees(node: Any, seen: dict[str, Any]) -> Any:
    """Equal mappings and lists become one object, which PyYAML writes as an anchor and
    aliases (`&id001` / `*id001`): the same document, written with aliases."""
    if isinstance(node, dict | list):
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in list(items):
            node[key] = _share_equal_subtrees(value, seen)
        if node:
            return seen.setdefault(json.dumps(node, sort_keys=False, default=str), node)
    return node


styles = st.fixed_dictionaries(
    {
        "default_flow_style": st.sampled_from([False, True, None]),
        "indent": st.integers(2, 9),
        "width": st.sampled_from([20, 80, 10**6]),
        "explicit_start": st.booleans(),
        "explicit_end": st.booleans(),
        "canonical": st.booleans(),
        "line_break": st.sampled_from(["\n", "\r\n", "\r"]),
        "allow_unicode": st.booleans(),
    }
)


@fuzz(40)
@given(
    seed=st.sampled_from(SEEDS),
    style=styles,
    aliases=st.booleans(),
    bom=st.booleans(),
    comment=st.booleans(),
)
def test_the_examples_in_any_yaml_style_are_the_same_rollouts(  # noqa: PLR0917
    workdir: Path, seed: Seed, style: dict[str, Any], aliases: bool, bom: bool, comment: bool
) -> None:
    _, original = lint(workdir, dump(list(seed.documents)))
    assert original.ok
    docs = [_share_equal_subtrees(d, {}) if aliases else d for d in load_seeds_again(seed)]
    text = dump(docs, **style)
    if comment:
        text = "# a comment before everything\n" + text
    _, report = lint(workdir, ("\ufeff" if bom else "") + text)
    assert report.ok
    assert [r for r, _, _ in report.rollouts] == [r for r, _, _ in original.rollouts]
    assert (report.templates_valid, report.skipped) == (original.templates_valid, original.skipped)


def load_seeds_again(seed: Seed) -> list[Any]:
    """Fresh copies (sharing subtrees changes the objects in place)."""
    (fresh,) = [s for s in load_seeds() if s.name == seed.name]
    return list(fresh.documents)


# ---- one change to one document ------------------------------------------------------------


@st.composite
def mutated(draw: st.DrawFn) -> tuple[Seed, int, Mutation]:
    """One change to one document: mostly ours, sometimes another kind (the Services that
    lint reads to check a Rollout's Service fields)."""
    seed = draw(st.sampled_from(SEEDS_WITH_OURS))
    others = [i for i in range(len(seed.documents)) if i not in seed.ours]
    pick = st.sampled_from(seed.ours)
    index = draw(pick | st.sampled_from(others) if others else pick)
    return seed, index, draw(mutations(seed.documents[index]))


def check_names_the_field(report: LintReport, index: int, mutation: Mutation, before: Any) -> None:
    """Every problem is in the changed document (the 0-based `index`) and names the change."""
    after = mutation.apply(before)
    for p in report.problems:
        if p.document != index + 1 and (no_rollout_left(report, p) or names_service(p, before)):
            continue
        assert p.document == index + 1, f"a document that was not changed: {p.render()}"
        assert related(p, mutation, before, after), f"{mutation} but {p.render()}"


def names_service(problem: SpecProblem, service: Any) -> bool:
    """The Service check: a changed Service is reported at the Rollout field naming it."""
    if not isinstance(service, dict) or service.get("kind") != "Service":
        return False
    name = (service.get("metadata") or {}).get("name")
    return problem.path.endswith("Service") and f"Service {name} " in problem.reason


def no_rollout_left(report: LintReport, problem: SpecProblem) -> bool:
    """lint's rule for a file named explicitly: without any Rollout, every document is the wrong
    kind (or the file is empty). A change that took away the file's only Rollout triggers it."""
    if report.rollouts_valid or report.rollouts_invalid:
        return False
    return problem.path == "kind" or (problem.document == 0 and "no documents" in problem.reason)


@fuzz(350)
@given(mutated())
# Found by this fuzzer: decimal integers over Python's 4,300-digit limit raised ValueError.
@example((DEMO, 0, Mutation("replace", ("spec", "replicas"), Digits(4400))))
# Found by this fuzzer: non-string keys were named "labels.None[key]" / "labels[1][key]".
@example((DEMO, 0, Mutation("insert", ("metadata", "labels", None), "x")))
@example((DEMO, 0, Mutation("insert", ("metadata", "labels", True), "x")))
def test_a_change_is_rejected_at_its_field_or_accepted(
    workdir: Path, case: tuple[Seed, int, Mutation]
) -> None:
    seed, index, mutation = case
    before = seed.documents[index]
    after = mutation.apply(before)
    note(f"{seed.name} document {index + 1}: {mutation}")
    text = written(with_document(seed, index, after))
    _, report = lint(workdir, text)
    if same(before, after):
        assert report.ok
    check_names_the_field(report, index, mutation, before)
    inserted_key = mutation.op == "insert" and isinstance(get(before, mutation.path[:-1]), dict)
    if index in seed.ours and inserted_key:
        model = model_at(before, mutation.path[:-1])
        if model is not None and forbids(model, mutation.path[-1]):
            # Refused, at exactly that path; as unknown unless its value could not be read.
            wanted = [p for p in report.problems if tokens(p.path) == mutation.path]
            if readable(text):  # else the YAML problem is all there is (checked above)
                assert wanted and wanted[0].reason.startswith("unknown field"), mutation


@st.composite
def unknown_fields(draw: st.DrawFn) -> tuple[Seed, int, Mutation]:
    """A new key in a mapping that a model validates and that forbids unknown fields."""
    seed = draw(st.sampled_from(SEEDS_WITH_OURS))
    index = draw(st.sampled_from(seed.ours))
    doc = seed.documents[index]
    strict = [
        (p, m)
        for p in paths(doc)
        if isinstance(get(doc, p), dict) and (m := model_at(doc, p)) is not None
    ]
    where, model = draw(st.sampled_from(strict))
    key = draw(
        st.from_regex(r"[a-zA-Z][a-zA-Z0-9_-]{0,15}", fullmatch=True)
        | st.text(min_size=1, max_size=12)
    )
    assume(forbids(model, key) and key not in get(doc, where))
    return seed, index, Mutation("insert", (*where, key), draw(st.integers() | st.text()))


@fuzz(100)
@given(unknown_fields())
def test_an_unknown_field_is_named_exactly(workdir: Path, case: tuple[Seed, int, Mutation]) -> None:
    seed, index, mutation = case
    before = seed.documents[index]
    note(f"{seed.name} document {index + 1}: {mutation}")
    _, report = lint(workdir, written(with_document(seed, index, mutation.apply(before))))
    check_names_the_field(report, index, mutation, before)
    assert [(tokens(p.path), p.reason.split(" (")[0]) for p in report.problems] == [
        (mutation.path, "unknown field")
    ]


IDENTITY = [("apiVersion",), ("kind",)]


@st.composite
def wrong_types(draw: st.DrawFn) -> tuple[Seed, int, Mutation]:
    """A field typed as one scalar (`replicas: int`) given a list or a mapping."""
    seed = draw(st.sampled_from(SEEDS_WITH_OURS))
    index = draw(st.sampled_from(seed.ours))
    doc = seed.documents[index]
    # Not apiVersion or kind: they say whose document it is, and lint skips other people's
    # (an AnalysisTemplate of another API group is someone else's, as an Argo one is).
    typed = [p for p in paths(doc) if scalar_field(doc, p) and p not in IDENTITY]
    where = draw(st.sampled_from(typed))
    value = draw(st.lists(values, max_size=2) | st.dictionaries(st.text(max_size=5), values))
    return seed, index, Mutation("replace", where, value)


@fuzz(100)
@given(wrong_types())
def test_a_wrong_type_is_named_exactly(workdir: Path, case: tuple[Seed, int, Mutation]) -> None:
    """Not only "somewhere above": at the field itself, and nowhere else."""
    seed, index, mutation = case
    before = seed.documents[index]
    note(f"{seed.name} document {index + 1}: {mutation}")
    text = written(with_document(seed, index, mutation.apply(before)))
    _, report = lint(workdir, text)
    check_names_the_field(report, index, mutation, before)
    if readable(text):
        assert [tokens(p.path) for p in report.problems] == [mutation.path]


@fuzz(60)
@given(data=st.data(), seed=st.sampled_from(SEEDS_WITH_OURS))
def test_a_broken_document_hides_no_other(workdir: Path, data: st.DataObject, seed: Seed) -> None:
    """Several documents changed at once, one of them maybe replaced by a YAML syntax error:
    each problem is in a changed document and names its change, and every unchanged Rollout
    is still read as valid."""
    changed: dict[int, Mutation] = {}
    for index in data.draw(st.sets(st.sampled_from(seed.ours), min_size=1)):
        changed[index] = data.draw(mutations(seed.documents[index]))
    docs = [changed[i].apply(d) if i in changed else d for i, d in enumerate(seed.documents)]
    text_docs = [written([d]) for d in docs]
    garbage = data.draw(st.none() | st.integers(0, len(docs)))
    if garbage is not None:
        text_docs.insert(garbage, "key: [unclosed, {flow\n")
    text = "---\n".join(text_docs)
    _, report = lint(workdir, text)
    position = {i: i + 1 + (garbage is not None and garbage <= i) for i in range(len(docs))}
    for p in report.problems:
        if garbage is not None and p.document == garbage + 1:
            assert p.reason.startswith("invalid YAML"), p.render()
            continue
        if no_rollout_left(report, p):
            continue
        (index,) = [i for i, n in position.items() if n == p.document]
        assert index in changed, f"an unchanged document: {p.render()}"
        assert related(p, changed[index], seed.documents[index], docs[index]), p.render()
    valid = {doc.index for _, doc, _ in report.rollouts}
    for index in seed.ours:
        if index not in changed and seed.documents[index]["kind"] == "Rollout":
            assert position[index] in valid


# ---- hostile YAML text ---------------------------------------------------------------------

SENTINEL = "zzsentinelzz"


@st.composite
def duplicated_keys(draw: st.DrawFn) -> tuple[Seed, int, tuple[Any, ...], str]:
    seed = draw(st.sampled_from(SEEDS_WITH_OURS))
    index = draw(st.sampled_from(seed.ours))
    doc = seed.documents[index]
    mappings = [p for p in paths(doc) if isinstance(get(doc, p), dict) and get(doc, p)]
    where = draw(st.sampled_from(mappings))
    key = draw(st.sampled_from(sorted(get(doc, where))))
    return seed, index, where, key


@fuzz(60)
@given(case=duplicated_keys(), flow=st.sampled_from([False, True, None]))
def test_a_duplicate_key_is_named_with_its_line(
    workdir: Path, case: tuple[Seed, int, tuple[Any, ...], str], flow: bool | None
) -> None:
    seed, index, where, key = case
    doc = Mutation("insert", (*where, SENTINEL), get(seed.documents[index], (*where, key)))
    text = dump(
        with_document(seed, index, doc.apply(seed.documents[index])), default_flow_style=flow
    )
    assert text.count(SENTINEL) == 1
    line = _line_of(text, SENTINEL)
    # The same key again, after the first: a double-quoted scalar is the same string key.
    text = text.replace(SENTINEL, json.dumps(key))
    _, report = lint(workdir, text)
    assert [(p.document, tokens(p.path)) for p in report.problems] == [(index + 1, (*where, key))]
    (problem,) = report.problems
    assert problem.reason.startswith("duplicate key")
    assert problem.line == line


def _line_of(text: str, needle: str) -> int:
    return text[: text.index(needle)].count("\n") + 1


# Bytes that mean something to a YAML reader, or to nothing at all.
TRICKY_BYTES = [
    *(b"\t", b"\x00", b"\x7f", b"\x1b[31m", b"\xef\xbb\xbf", b"\x85", b"\xe2\x80\xa8"),
    *(b"{", b"]", b"&a ", b"*a ", b"*nope ", b"!!python/object:os.system ", b"? ", b"- ", b": "),
    *(b"'", b'"', b"---\n", b"...\n", b"%YAML 1.1\n", b"%TAG ! tag:x,2000:\n", b"!<tag:x> "),
    *(b"|\n", b">-\n", b"\xff", b"\xc3("),
]
garbage_bytes = st.binary(min_size=1, max_size=16) | st.sampled_from(TRICKY_BYTES)


@st.composite
def garbled(draw: st.DrawFn) -> bytes:
    seed = draw(st.sampled_from(SEEDS))
    text = dump(list(seed.documents), default_flow_style=draw(st.sampled_from([False, None])))
    raw = text.encode("utf-8")
    for _ in range(draw(st.integers(1, 3))):
        how = draw(st.sampled_from(["insert", "tab", "truncate", "delete"]))
        at = draw(st.integers(0, len(raw)))
        if how == "insert":
            raw = raw[:at] + draw(garbage_bytes) + raw[at:]
        elif how == "tab":  # indentation with a tab, which YAML forbids
            start = raw.rfind(b"\n", 0, at) + 1
            raw = raw[:start] + b"\t" + raw[start:].lstrip(b" ")
        elif how == "truncate":
            raw = raw[:at]
        else:
            raw = raw[:at] + raw[at + draw(st.integers(1, 40)) :]
    return raw


@fuzz(200)
@given(garbled())
def test_garbled_text_gives_problems_not_tracebacks(workdir: Path, raw: bytes) -> None:
    _, report = lint(workdir, raw)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        assert [p.reason.split(":")[0] for p in report.problems] == ["not a text file"]


@fuzz(50)
@given(
    data=st.data(),
    seed=st.sampled_from(SEEDS_WITH_OURS),
    levels=st.integers(1, 3 * MAX_DEPTH) | st.integers(5_000, 50_000),
    shape=st.sampled_from(["lists", "mappings", "recursive"]),
)
def test_deep_nesting_is_refused_past_the_limit_only(
    workdir: Path, data: st.DataObject, seed: Seed, levels: int, shape: str
) -> None:
    """A value replaced by `levels` nested collections: refused exactly when the document
    then nests deeper than MAX_DEPTH, quickly, and without a RecursionError, however deep.
    A collection holding an alias of itself nests without end: always refused."""
    index = data.draw(st.sampled_from(seed.ours))
    before = seed.documents[index]
    where = data.draw(st.sampled_from(list(paths(before))[1:]))
    placeholder = Mutation("replace", where, SENTINEL).apply(before)
    nested = {
        "lists": "[" * levels + "x" + "]" * levels,
        "mappings": "{k: " * levels + "x" + "}" * levels,
        "recursive": "&self [x, {k: *self}]",
    }[shape]
    text = dump(with_document(seed, index, placeholder)).replace(SENTINEL, nested)
    deepest = max(depth(placeholder), len(where) + levels)
    if shape == "recursive":
        deepest = MAX_DEPTH + 1  # and more: without end
    _, report = lint(workdir, text)
    too_deep = [p for p in report.problems if p.reason.startswith("nested more than")]
    assert bool(too_deep) == (deepest > MAX_DEPTH), (deepest, [p.render() for p in too_deep])
    if too_deep:
        assert [p.document for p in report.problems] == [index + 1]
        assert too_deep[0].line == _line_of(text, nested[:5])
    else:
        mutation = Mutation("replace", where, None)
        check_names_the_field(report, index, mutation, before)


@fuzz(25)
@given(
    width=st.integers(2, 60),
    levels=st.integers(1, 25),
    inside=st.sampled_from(["alone", "template", "steps"]),
)
@example(width=10, levels=9, inside="template")  # the classic: 10^9 "lol"s
@example(width=1000, levels=1, inside="template")  # under the limit: read normally
@example(width=24, levels=4, inside="steps")  # under the limit alone (708k), over when used (1.4M)
@example(width=24, levels=4, inside="alone")
def test_alias_bombs_do_not_hang_or_eat_memory(
    workdir: Path, width: int, levels: int, inside: str
) -> None:
    bomb, expanded = alias_bomb(width, levels)
    if inside == "alone":
        text, low, high = bomb, expanded, expanded
    else:
        # The anchors first (as an unknown top-level field of a Rollout), then the last level
        # used once more: in the pod spec, which is free-form, or as the canary's steps.
        top = f"*l{levels}"
        body = dump([DEMO.documents[0]])
        if inside == "template":
            at = "    spec:\n      containers:"
            body = body.replace(at, f"    spec:\n      x: {top}\n      containers:", 1)
        else:
            at = "      steps:\n"
            body = body[: body.index(at)] + f"      steps: {top}\n" + _after_steps(body, at)
        assert top in body
        text = "bombs:\n" + "".join(f"  {line}\n" for line in bomb.splitlines()) + body
        # The alias adds the last level's size again; the Rollout's own values are a few
        # hundred at most, which only matters right at the limit (skipped below).
        used = _level_size(width, levels)
        low, high = expanded + used, expanded + used + 500
    started = time.monotonic()
    tracemalloc.start()
    try:
        _, report = lint(workdir, text)
        peak = tracemalloc.get_traced_memory()[1] / MIB
    finally:
        tracemalloc.stop()
    elapsed = time.monotonic() - started
    # Generous bounds (a shared machine, tracing on): a bomb that went off takes minutes and
    # gigabytes; one that is refused, or read without expanding, takes milliseconds.
    assert elapsed < 15, f"{elapsed:.1f} s"
    assert peak < 200, f"{peak:.0f} MiB"
    refused = [p for p in report.problems if "once aliases are expanded" in p.reason]
    if low > MAX_VALUES:
        assert refused, [p.render() for p in report.problems]
    elif high <= MAX_VALUES:
        assert not refused, [p.render() for p in report.problems]


def _level_size(width: int, levels: int) -> int:
    size = 2
    for _ in range(levels):
        size = 1 + width * size
    return size


def _after_steps(body: str, at: str) -> str:
    """The text after the `steps:` block (its items are indented deeper than `steps:`)."""
    rest = body[body.index(at) + len(at) :].splitlines(keepends=True)
    while rest and rest[0].startswith("      -"):
        rest.pop(0)
        while rest and rest[0].startswith("        "):
            rest.pop(0)
    return "".join(rest)


# ---- the same through the command line --------------------------------------------------------


@fuzz(30, fixtures=True)
@given(mutated())
def test_rollout_lint_prints_the_same_problems_and_exits_1(
    workdir: Path, capsys: pytest.CaptureFixture[str], case: tuple[Seed, int, Mutation]
) -> None:
    seed, index, mutation = case
    path = workdir / "cli-input.yaml"
    path.write_text(written(with_document(seed, index, mutation.apply(seed.documents[index]))))
    capsys.readouterr()
    code = main(["lint", str(path)])
    out, err = capsys.readouterr()
    report = lint_report([str(path)])
    assert "Traceback" not in err
    assert code == (0 if report.ok else 1)
    assert out.splitlines() == [p.render() for p in report.problems] + [report.summary]
