"""parse_rollout and the YAML loading around it: every problem named, nothing but SpecError."""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rollout.documents import MAX_DEPTH, load_documents, read_spec_file, scan_documents
from rollout.errors import SpecError, SpecProblem
from rollout.models import Rollout
from rollout.parsing import parse_document, parse_rollout

EXAMPLE = Path(__file__).parents[2] / "examples" / "rollout-demo.yaml"


def valid() -> dict[str, Any]:
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "demo"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "demo"}},
            "template": {
                "metadata": {"labels": {"app": "demo"}},
                "spec": {"containers": [{"name": "demo", "image": "demo:1"}]},
            },
            "strategy": {
                "canary": {"steps": [{"setWeight": 20}, {"pause": {}}, {"setWeight": 50}]}
            },
        },
    }


def problems_of(doc: object) -> list[SpecProblem]:
    with pytest.raises(SpecError) as caught:
        parse_rollout(doc, file="f.yaml", document=2)
    return caught.value.problems


def one_problem(doc: object) -> SpecProblem:
    problems = problems_of(doc)
    assert len(problems) == 1, [p.render() for p in problems]
    return problems[0]


def test_a_valid_document_parses() -> None:
    rollout = parse_rollout(valid())
    assert isinstance(rollout, Rollout)
    assert [s.set_weight for s in rollout.spec.strategy.canary.steps] == [20, None, 50]  # type: ignore[union-attr]


def test_the_example_lints_clean() -> None:
    documents = load_documents(EXAMPLE.read_text(), file=str(EXAMPLE))
    kinds = [data["kind"] for _, data in documents]  # type: ignore[index]
    assert kinds == ["Rollout", "Service", "Service", "Service"]
    rollout = parse_rollout(documents[0][1])
    assert rollout.metadata.name == "demo"
    canary = rollout.spec.strategy.canary
    assert canary is not None
    assert (canary.stable_service, canary.canary_service) == ("demo-stable", "demo-canary")
    steps = [s.to_dict() for s in canary.steps]
    assert steps == [
        {"setWeight": 20},
        {"pause": {"duration": 30}},
        {"setWeight": 50},
        {"pause": {}},
    ]


def at(doc: dict[str, Any], path: str) -> Any:
    node: Any = doc
    for part in path.split(".") if path else []:
        node = node[int(part)] if part.isdigit() else node[part]
    return node


def set_at(path: str, value: object) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        parent, _, key = path.rpartition(".")
        target: Any = at(doc, parent)
        if key.isdigit():
            target[int(key)] = value
        else:
            target[key] = value

    return mutate


def drop(path: str) -> Callable[[dict[str, Any]], None]:
    def mutate(doc: dict[str, Any]) -> None:
        parent, _, key = path.rpartition(".")
        del at(doc, parent)[key]

    return mutate


CANARY = "spec.strategy.canary"
STEPS = f"{CANARY}.steps"

INVALID = {
    # wrong types
    "replicas-string": (
        set_at("spec.replicas", "abc"),
        "spec.replicas",
        "must be an integer (got string 'abc')",
    ),
    "weight-float": (
        set_at(f"{STEPS}.0.setWeight", 1.5),
        "spec.strategy.canary.steps[0].setWeight",
        "must be an integer (got number 1.5)",
    ),
    "label-int": (
        set_at("metadata.labels", {"version": 2}),
        "metadata.labels.version",
        "must be a string (got integer 2); put it in quotes",
    ),
    "steps-mapping": (set_at(f"{STEPS}", {"a": 1}), STEPS, "must be a list (got a mapping)"),
    "selector-list": (set_at("spec.selector", ["app"]), "spec.selector", "must be a mapping"),
    "paused-string": (
        set_at("spec.paused", "sometimes"),
        "spec.paused",
        "must be true or false (got string 'sometimes')",
    ),
    # unknown fields, at every level
    "unknown-top": (
        set_at("extra", 1),
        "extra",
        "unknown field (allowed here: apiVersion, kind, metadata, spec, status)",
    ),
    "unknown-nested": (
        set_at(f"{CANARY}.blueGreen", {}),
        f"{CANARY}.blueGreen",
        "unknown field (allowed here: steps, maxSurge,",
    ),
    "unknown-in-step": (
        set_at(f"{STEPS}.1", {"pause": {}, "setWeigth": 3}),
        "spec.strategy.canary.steps[1].setWeigth",
        "unknown field (allowed here: setWeight, pause, setCanaryScale, analysis, "
        "setHeaderRoute, setMirrorRoute, confirm); "
        "did you mean setWeight?",
    ),
    # weights
    "weight-negative": (
        set_at(f"{STEPS}.0.setWeight", -10),
        "spec.strategy.canary.steps[0].setWeight",
        "must be at least 0 (got integer -10)",
    ),
    "weight-over-100": (
        set_at(f"{STEPS}.2.setWeight", 150),
        "spec.strategy.canary.steps[2].setWeight",
        "must be at most 100 (got integer 150)",
    ),
    "weights-decrease": (
        set_at(f"{STEPS}.2.setWeight", 10),
        "spec.strategy.canary.steps[2].setWeight",
        "10 is below the earlier setWeight 20",
    ),
    # steps
    "step-two-actions": (
        set_at(f"{STEPS}.1", {"setWeight": 30, "pause": {}}),
        "spec.strategy.canary.steps[1]",
        "found: setWeight, pause",
    ),
    "step-no-action": (
        set_at(f"{STEPS}.1", {}),
        "spec.strategy.canary.steps[1]",
        "a step has exactly one of setWeight, pause, setCanaryScale, analysis, "
        "setHeaderRoute, setMirrorRoute or confirm (found: none)",
    ),
    "pause-duration": (
        set_at(f"{STEPS}.1", {"pause": {"duration": "soon"}}),
        "spec.strategy.canary.steps[1].pause.duration",
        "must be a duration such as 30",
    ),
    "max-surge": (
        set_at(f"{CANARY}.maxSurge", "lots"),
        f"{CANARY}.maxSurge",
        "must be a whole number or a percentage",
    ),
    "service-name": (
        set_at(f"{CANARY}.stableService", "Demo_Stable"),
        f"{CANARY}.stableService",
        "must be a DNS-1123 label",
    ),
    "no-strategy": (
        set_at("spec.strategy", {}),
        "spec.strategy",
        "give exactly one strategy: canary or blueGreen",
    ),
    # template / workloadRef
    "template-and-workload": (
        set_at("spec.workloadRef", {"name": "demo"}),
        "spec",
        "give exactly one of template and workloadRef",
    ),
    "neither-template-nor-workload": (
        drop("spec.template"),
        "spec",
        "give exactly one of template and workloadRef",
    ),
    "empty-selector": (
        set_at("spec.selector", {}),
        "spec.selector",
        "an empty selector would select every pod",
    ),
    "selector-mismatch": (
        set_at("spec.selector.matchLabels", {"app": "other"}),
        "spec.selector",
        "does not match template.metadata.labels",
    ),
    "bad-operator": (
        set_at("spec.selector.matchExpressions", [{"key": "app", "operator": "Near"}]),
        "spec.selector.matchExpressions[0].operator",
        "must be one of 'In', 'NotIn', 'Exists' or 'DoesNotExist' (got string 'Near')",
    ),
    "no-containers": (
        set_at("spec.template.spec", {"containers": []}),
        "spec.template.spec.containers",
        "a pod needs at least one container",
    ),
    "container-without-image": (
        set_at("spec.template.spec.containers.0", {"name": "demo"}),
        "spec.template.spec.containers[0].image",
        "required (a non-empty string)",
    ),
    # required fields
    "no-selector": (drop("spec.selector"), "spec.selector", "required field is missing"),
    "no-name": (set_at("metadata", {}), "metadata.name", "required field is missing"),
    # what kind of object
    "deployment": (
        set_at("kind", "Deployment"),
        "kind",
        "expected kind Rollout (apiVersion rollout.dev/v1alpha1), got Deployment",
    ),
    "no-kind": (drop("kind"), "kind", "required field is missing"),
    "argo-rollout": (
        set_at("apiVersion", "argoproj.io/v1alpha1"),
        "apiVersion",
        "expected apiVersion rollout.dev/v1alpha1 for kind Rollout, got argoproj.io/v1alpha1",
    ),
}


@pytest.mark.parametrize("case", INVALID)
def test_invalid_documents_name_the_field_and_why(case: str) -> None:
    mutate, path, reason = INVALID[case]
    doc = valid()
    mutate(doc)
    problem = one_problem(doc)
    assert problem.path == path
    assert reason in problem.reason
    assert (problem.file, problem.document) == ("f.yaml", 2)
    assert "Value error" not in problem.reason and "Input should" not in problem.reason


@pytest.mark.parametrize("doc", [None, [], "Rollout", 3, [valid()]])
def test_a_document_that_is_not_a_mapping(doc: object) -> None:
    problem = one_problem(doc)
    assert problem.path == ""
    assert "a document must be a mapping" in problem.reason


def test_every_problem_is_listed_not_only_the_first() -> None:
    doc = valid()
    doc["spec"]["replicas"] = -1
    doc["spec"]["strategy"]["canary"]["steps"] = [{"setWeight": 200}, {"pauze": {}}]
    doc["spec"]["template"]["spec"] = {"containers": [{"name": "demo"}]}
    paths = [p.path for p in problems_of(doc)]
    assert paths == [
        "spec.replicas",
        "spec.template.spec.containers[0].image",
        "spec.strategy.canary.steps[0].setWeight",
        "spec.strategy.canary.steps[1].pauze",
    ]


def test_non_string_keys_are_named() -> None:
    doc = valid()
    doc["spec"][True] = 1
    problem = one_problem(doc)
    assert problem.path == "spec"
    assert "keys must be strings, got boolean true" in problem.reason


# ---- YAML text -----------------------------------------------------------------------------

GOOD_YAML = yaml.safe_dump(valid(), sort_keys=False)


def test_multi_document_file_reports_every_bad_document() -> None:
    bad_kind = GOOD_YAML.replace("kind: Rollout", "kind: Deployment")
    bad_weight = GOOD_YAML.replace("setWeight: 50", "setWeight: 500")
    text = f"{GOOD_YAML}---\n{bad_kind}---\n{bad_weight}"
    documents, problems = scan_documents(text, file="m.yaml")
    assert problems == []
    results: dict[int, list[str]] = {}
    for doc in documents:
        try:
            parse_document(doc, file="m.yaml")
            results[doc.index] = []
        except SpecError as err:
            results[doc.index] = [p.render() for p in err.problems]
    lines = GOOD_YAML.count("\n")
    weight_line = next(i for i, ln in enumerate(bad_weight.splitlines()) if "500" in ln)
    assert results == {
        1: [],
        2: [
            f"m.yaml:{lines + 3} (document 2): kind: expected kind Rollout "
            "(apiVersion rollout.dev/v1alpha1), got Deployment"
        ],
        3: [
            f"m.yaml:{2 * lines + 3 + weight_line} "
            "(document 3): spec.strategy.canary.steps[2].setWeight: "
            "must be at most 100 (got integer 500)"
        ],
    }


def test_syntax_errors_carry_the_line_and_do_not_hide_other_documents() -> None:
    text = "a: 1\n---\nkind: Rollout\nspec: [1, 2\n---\nb: : c\n---\nkind: Service\n"
    documents, problems = scan_documents(text, file="s.yaml")
    assert [(p.document, p.line) for p in problems] == [(2, 4), (3, 6)]
    assert all(p.reason.startswith("invalid YAML: ") for p in problems)
    assert "flow sequence" in problems[0].reason
    assert [d.index for d in documents] == [1, 4]
    with pytest.raises(SpecError) as caught:
        load_documents(text, file="s.yaml")
    assert caught.value.problems == problems


def test_empty_documents_are_skipped_but_counted() -> None:
    documents, problems = scan_documents("---\n---\n# nothing\n---\nkind: A\n", file="e.yaml")
    assert problems == []
    assert [(d.index, d.data) for d in documents] == [(3, {"kind": "A"})]
    assert scan_documents("", file="e.yaml") == ([], [])


def test_duplicate_keys_are_problems() -> None:
    documents, problems = scan_documents("spec:\n  replicas: 1\n  replicas: 2\n", file="d.yaml")
    assert [(p.path, p.line) for p in problems] == [("spec.replicas", 3)]
    assert "duplicate key (first at line 2)" in problems[0].reason
    assert documents[0].data == {"spec": {"replicas": 2}}


def test_timestamps_and_equals_signs_stay_strings_as_in_kubectl() -> None:
    ((_, data),) = load_documents("restartAt: 2026-01-02T15:04:05Z\nx: =\n", file="t.yaml")
    assert data == {"restartAt": "2026-01-02T15:04:05Z", "x": "="}


def test_unsafe_tags_are_refused() -> None:
    _, problems = scan_documents("a: !!python/object/apply:os.system [echo]\n", file="u.yaml")
    assert [p.line for p in problems] == [1]
    assert "could not determine a constructor" in problems[0].reason


DEEP = {
    "flow sequences": "[" * 10_000 + "]" * 10_000,
    "unclosed flow sequences": "[" * 10_000,
    "flow mappings": "{a: " * 10_000 + "1" + "}" * 10_000,
    "block sequences": "- " * 10_000 + "x\n",
    "block mappings": "".join(" " * i + "a:\n" for i in range(2_000)),
    "aliases": "a: &a " + "[" * 60 + "]" * 60 + "\nb: " + "[" * 60 + "*a" + "]" * 60 + "\n",
}


@pytest.mark.parametrize("shape", DEEP)
def test_deep_nesting_is_refused_before_anything_recurses(shape: str) -> None:
    started = time.monotonic()
    documents, problems = scan_documents(DEEP[shape], file="deep.yaml")
    assert documents == []
    assert [p.reason for p in problems] == [f"nested more than {MAX_DEPTH} levels deep"]
    assert problems[0].line is not None
    assert time.monotonic() - started < 2


def test_nesting_up_to_the_limit_is_fine() -> None:
    ((_, data),) = load_documents("[" * MAX_DEPTH + "]" * MAX_DEPTH, file="ok.yaml")
    assert isinstance(data, list)


def test_alias_bombs_are_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    _, problems = scan_documents("\n".join(lines), file="bomb.yaml")
    assert len(problems) == 1
    assert "values once aliases are expanded" in problems[0].reason


def test_a_50_mib_file_is_refused_without_being_read(tmp_path: Path) -> None:
    big = tmp_path / "big.yaml"
    with big.open("w") as stream:
        stream.write(GOOD_YAML)  # valid, so only the size can make it fail
        stream.write(("# " + "x" * 1022 + "\n") * (50 * 1024 - 4))
    started = time.monotonic()
    with pytest.raises(SpecError) as caught:
        read_spec_file(big)
    assert time.monotonic() - started < 1
    (problem,) = caught.value.problems
    assert problem.reason.startswith("file is 50.0 MiB; the limit is 10 MiB")


def test_binary_garbage_is_not_text(tmp_path: Path) -> None:
    junk = tmp_path / "junk.yaml"
    junk.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(SpecError) as caught:
        read_spec_file(junk)
    assert "not a text file" in caught.value.problems[0].reason
    _, problems = scan_documents("kind: \x00\x01", file="nul.yaml")
    assert "is not allowed" in problems[0].reason


def test_unreadable_paths_are_problems(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.yaml", tmp_path):
        with pytest.raises(SpecError) as caught:
            read_spec_file(path)
        assert caught.value.problems[0].reason.startswith("cannot read: ")


# ---- fuzzing: nothing but SpecError, whatever comes in ---------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
step_keys = st.sampled_from(["setWeight", "pause", "setCanaryScale", "analysis", "x", "duration"])
nearly_valid = st.fixed_dictionaries(
    {
        "apiVersion": st.just("rollout.dev/v1alpha1"),
        "kind": st.just("Rollout"),
        "metadata": st.just({"name": "x"}) | json_values,
        "spec": st.fixed_dictionaries(
            {},
            optional={
                "replicas": json_values,
                "selector": st.just({"matchLabels": {"a": "b"}}) | json_values,
                "template": st.just(valid()["spec"]["template"]) | json_values,
                "workloadRef": json_values,
                "strategy": st.fixed_dictionaries(
                    {
                        "canary": st.fixed_dictionaries(
                            {},
                            optional={
                                "steps": st.lists(
                                    st.dictionaries(step_keys, json_values, max_size=2), max_size=4
                                )
                                | json_values,
                                "maxSurge": json_values,
                                "stableService": json_values,
                                "analysis": json_values,
                            },
                        )
                    }
                )
                | json_values,
            },
        ),
    }
)


def only_spec_errors(doc: object) -> None:
    try:
        parse_rollout(copy.deepcopy(doc))
    except SpecError as err:
        assert err.problems
        assert all(isinstance(p.path, str) and p.reason for p in err.problems)


@settings(max_examples=300, deadline=None)
@given(json_values | nearly_valid)
def test_fuzz_structures_raise_only_spec_error(doc: object) -> None:
    only_spec_errors(doc)


yamlish = st.lists(
    st.sampled_from(
        [
            "apiVersion: rollout.dev/v1alpha1\n",
            "kind: Rollout\n",
            "spec:\n",
            "  ",
            "- ",
            "setWeight: ",
            "[",
            "]",
            "{",
            "}",
            ": ",
            ",",
            "\n",
            "---\n",
            "...\n",
            "&a ",
            "*a ",
            "!!str ",
            "!!binary ",
            "? ",
            "|\n",
            "'",
            '"',
            "# c\n",
            "%YAML 1.1\n",
            "\t",
            "50",
            "2026-01-01",
            "\x00",
            "\ufeff",
        ]
    )
    | st.text(max_size=5),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(yamlish)
def test_fuzz_yamlish_text_raises_nothing_but_spec_error(text: str) -> None:
    documents, problems = scan_documents(text, file="fuzz.yaml")
    assert all(p.file == "fuzz.yaml" and p.reason for p in problems)
    for doc in documents:
        try:
            parse_document(doc, file="fuzz.yaml")
        except SpecError as err:
            assert all(p.line is not None for p in err.problems)
