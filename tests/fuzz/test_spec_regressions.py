"""What the spec fuzzer found, pinned as plain tests (each failed before its fix)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rollout.documents import scan_documents
from rollout.errors import SpecError
from rollout.lint import lint_report
from rollout.parsing import parse_document

HEAD = "apiVersion: rollout.dev/v1alpha1\nkind: Rollout\n"
DEMO = Path(__file__).parents[2] / "examples" / "rollout-demo.yaml"


def problems(text: str) -> list[tuple[str, int | None, str]]:
    """(path, line, reason) of every problem lint would report for one file's text."""
    documents, found = scan_documents(text, file="f.yaml")
    for doc in documents:
        try:
            parse_document(doc, file="f.yaml")
        except SpecError as err:
            found.extend(err.problems)
    return [(p.path, p.line, p.reason) for p in found]


def test_an_integer_too_long_for_python_is_a_problem_at_its_field() -> None:
    # Was: ValueError (Python converts at most 4,300 decimal digits), a traceback out of lint.
    text = HEAD + "metadata: {name: x}\nspec:\n  replicas: " + "7" * 4400 + "\n"
    assert problems(text) == [
        ("spec.replicas", 5, "an integer of 4,400 digits is too long (at most 4,300)")
    ]


def test_an_integer_key_too_long_is_a_problem_at_its_mapping() -> None:
    text = HEAD + "metadata:\n  name: x\n  labels:\n    ? " + "7" * 5000 + "\n    : x\n"
    ((path, line, reason),) = problems(text)
    assert (path, line) == ("metadata.labels", 6)
    assert reason.startswith("an integer of 5,000 digits")


@pytest.mark.parametrize(
    ("key", "shown"),
    [("true", "boolean true"), ("null", "null"), ("1", "integer 1"), ("1.5", "number 1.5")],
)
def test_a_key_that_is_not_a_string_is_named_at_its_mapping(key: str, shown: str) -> None:
    # Was: `metadata.labels.None[key]`, `metadata.labels[1][key]`: neither a YAML path.
    text = HEAD + f"metadata:\n  name: x\n  labels: {{{key}: v}}\n"
    found = problems(text)
    assert ("metadata.labels", 5, f"keys must be strings, got {shown}") in found


@pytest.mark.parametrize(("key", "path"), [("'['", '["["]'), ("'[0]'", '["[0]"]')])
def test_a_key_starting_with_a_bracket_is_quoted_in_the_path(key: str, path: str) -> None:
    # Was: the key pasted as it is (`[`, `[0]`), which reads as a broken path or a list index.
    found = problems(HEAD + f"metadata: {{name: x}}\n{key}: 1\n")
    assert any(p == path and r.startswith("unknown field") for p, _, r in found), found


@pytest.mark.parametrize(
    "where",
    [
        "spec: &a [*a]\n",
        "spec:\n  template:\n    spec: &s {containers: [{name: a, image: b}], x: *s}\n",
    ],
)
def test_an_alias_inside_its_own_anchor_is_refused(where: str) -> None:
    # Was: PyYAML built a structure holding itself; in the free-form pod spec lint called it
    # valid, although nothing else (kubectl, JSON) can represent it.
    found = problems(HEAD + "metadata: {name: x}\n" + where)
    assert len(found) == 1
    assert found[0][2].startswith("nested more than 100 levels deep (*")


def test_yaml_constructor_errors_name_the_field() -> None:
    text = HEAD + "metadata:\n  name: x\n  labels:\n    a: !!python/name:os.system b\n"
    ((path, line, reason),) = problems(text)
    assert (path, line) == ("metadata.labels.a", 6)
    assert "could not determine a constructor" in reason
    # A bad merge: PyYAML has taken the `<<` entry out of the tree when it complains.
    ((path, _, reason),) = problems(HEAD + "metadata:\n  <<: 5\n  name: x\n")
    assert path == "metadata" and "merging" in reason


@pytest.mark.parametrize(
    "service_spec",
    ["spec: oops\n", "spec:\n  selector: [app]\n", "spec:\n  selector: {'': x, 0: y}\n"],
)
def test_a_malformed_service_next_to_a_rollout_is_not_a_traceback(
    tmp_path: Path, service_spec: str
) -> None:
    # Was: AttributeError / TypeError from the check that a Rollout's Services select its pods.
    text = DEMO.read_text()
    start = text.index("  name: demo-stable\n") + len("  name: demo-stable\n")
    end = text.index("---", start)
    path = tmp_path / "f.yaml"
    path.write_text(text[:start] + service_spec + text[end:])
    report = lint_report([str(path)])
    assert report.ok and report.rollouts_valid == 1
