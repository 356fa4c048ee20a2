"""The editor JSON Schemas (deploy/schema/): valid draft-07, not drifted, true to the models.

"True to the models" has two sides, both tested against `rollout lint` itself: everything our
examples hold is accepted, and documents lint rejects for a reason a schema can state (a
missing field, a wrong type, a value outside an enum or a range, an unknown field, a malformed
duration) are rejected by the schema too. Lint's semantic rules (the models' validators) are
beyond any JSON schema; the last cases pin that boundary down instead of pretending otherwise.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from rollout.cli.main import main
from rollout.editor_schema import (
    COMBINED_FILE,
    DRAFT,
    KINDS,
    SCHEMA_DIR,
    combined_schema,
    file_name,
    kind_schema,
    schema_files,
    write_schemas,
)
from rollout.lint import lint_report
from rollout.models import Rollout, RolloutSpec
from rollout.models.analysis import AnalysisTemplateSpec
from rollout.models.resource import AnalysisTemplate

ROOT = Path(__file__).parents[2]
EXAMPLES = ROOT / "examples"

Doc = dict[str, Any]


def validator(schema: dict[str, Any]) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(
        schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER
    )


FILES = schema_files()
COMBINED = validator(combined_schema())
BY_KIND = {kind: validator(kind_schema(kind)) for kind in KINDS}


def documents(path: Path) -> list[Doc]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d is not None]


def example_documents() -> Iterator[tuple[str, Doc]]:
    for path in sorted(EXAMPLES.rglob("*.yaml")):
        for index, doc in enumerate(documents(path)):
            yield f"{path.relative_to(ROOT)}#{index}", doc


def base_rollout() -> Doc:
    return next(d for d in documents(EXAMPLES / "rollout-demo.yaml") if d["kind"] == "Rollout")


def base_template() -> Doc:
    return documents(EXAMPLES / "analysis" / "templates.yaml")[0]


# ---- the files ------------------------------------------------------------------------------


def test_committed_files_match_the_models() -> None:
    committed = {
        str(path.relative_to(SCHEMA_DIR)): path.read_text(encoding="utf-8")
        for path in SCHEMA_DIR.rglob("*.json")
    }
    assert committed == FILES, (
        "deploy/schema/ is out of date with rollout/models: run "
        "`python -m rollout.editor_schema` and commit the result"
    )


def test_the_layout(tmp_path: Path) -> None:
    assert sorted(FILES) == [
        COMBINED_FILE,
        "rollout.dev/analysistemplate_v1alpha1.json",
        "rollout.dev/clusteranalysistemplate_v1alpha1.json",
        "rollout.dev/rollout_v1alpha1.json",
    ]
    written = write_schemas(tmp_path)
    assert {str(p.relative_to(tmp_path)): p.read_text(encoding="utf-8") for p in written} == FILES


def test_the_schema_command_prints_them(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == (SCHEMA_DIR / COMBINED_FILE).read_text(encoding="utf-8")
    for kind in KINDS:
        assert main(["schema", "--kind", kind]) == 0
        assert capsys.readouterr().out == (SCHEMA_DIR / file_name(kind)).read_text(encoding="utf-8")


# ---- valid draft-07, for yaml-language-server -----------------------------------------------

# Draft-07's keywords (core and validation vocabularies, plus the annotations editors read).
DRAFT7_KEYWORDS = {
    "$schema", "$id", "$ref", "$comment", "title", "description", "default", "examples",
    "readOnly", "writeOnly", "definitions", "type", "enum", "const", "multipleOf", "maximum",
    "exclusiveMaximum", "minimum", "exclusiveMinimum", "maxLength", "minLength", "pattern",
    "items", "additionalItems", "maxItems", "minItems", "uniqueItems", "contains",
    "maxProperties", "minProperties", "required", "properties", "patternProperties",
    "additionalProperties", "dependencies", "propertyNames", "if", "then", "else", "allOf",
    "anyOf", "oneOf", "not", "format", "contentMediaType", "contentEncoding",
}  # fmt: skip


def keywords(node: Any) -> Iterator[tuple[str, str]]:
    """(keyword, where) for every keyword of every schema node (not property names)."""
    stack: list[tuple[Any, str]] = [(node, "#")]
    while stack:
        current, where = stack.pop()
        if not isinstance(current, dict):
            continue
        for key, value in current.items():
            yield key, where
            if key in ("properties", "definitions", "patternProperties"):
                stack.extend((sub, f"{where}/{key}/{name}") for name, sub in value.items())
            elif key in ("allOf", "anyOf", "oneOf") or (key == "items" and isinstance(value, list)):
                stack.extend((sub, f"{where}/{key}/{i}") for i, sub in enumerate(value))
            elif key in ("not", "if", "then", "else", "items", "additionalProperties", "contains"):
                stack.append((value, f"{where}/{key}"))


@pytest.mark.parametrize("name", sorted(FILES))
def test_each_file_is_a_valid_draft7_schema(name: str) -> None:
    schema = json.loads(FILES[name])
    assert schema["$schema"] == DRAFT
    jsonschema.Draft7Validator.check_schema(schema)
    # A keyword of a later draft ($defs, prefixItems, unevaluatedProperties, ...) would pass
    # the metaschema and be ignored by the editor: none may be left.
    unknown = {(k, w) for k, w in keywords(schema) if k not in DRAFT7_KEYWORDS}
    assert not unknown, sorted(unknown)[:5]
    # Draft-07 ignores whatever sits beside a $ref: a description there would be lost.
    beside_ref = [w for k, w in keywords(schema) if k == "$ref"]
    for where in beside_ref:
        node: Any = schema
        for part in where.split("/")[1:]:
            node = node[int(part)] if isinstance(node, list) else node[part]
        assert set(node) == {"$ref"}, where
    # Every reference resolves inside the file.
    text = FILES[name]
    for ref in {json.loads(f'"{r}"') for r in _refs_in(text)}:
        assert ref.startswith("#/definitions/"), ref
        assert ref.rsplit("/", 1)[-1] in schema["definitions"], ref


def _refs_in(text: str) -> set[str]:
    refs: set[str] = set()
    for line in text.splitlines():
        if '"$ref": "' in line:
            refs.add(line.split('"$ref": "', 1)[1].rsplit('"', 1)[0])
    return refs


def field_descriptions(node: object) -> Iterator[str]:
    if isinstance(node, dict):
        for sub in node.get("properties", {}).values():
            if isinstance(sub, dict) and isinstance(sub.get("description"), str):
                yield sub["description"]
        for value in node.values():
            yield from field_descriptions(value)
    elif isinstance(node, list):
        for value in node:
            yield from field_descriptions(value)


@pytest.mark.parametrize(
    ("kind", "model"), [("Rollout", RolloutSpec), ("AnalysisTemplate", AnalysisTemplateSpec)]
)
def test_every_field_docstring_is_there_for_hover(kind: str, model: type[Any]) -> None:
    raw = set(field_descriptions(model.model_json_schema(by_alias=True)))
    assert raw
    assert not raw - set(field_descriptions(kind_schema(kind)))


def test_hover_and_completion_details_come_from_the_models() -> None:
    definitions = kind_schema("Rollout")["definitions"]
    step = definitions["CanaryStep"]["properties"]
    set_weight = step["setWeight"]
    assert set_weight["description"] == "Send this percentage of traffic to the canary (0-100)."
    assert {"type": "integer", "minimum": 0, "maximum": 100} in set_weight["anyOf"]
    assert definitions["CanaryStep"]["additionalProperties"] is False
    spec = definitions["RolloutSpec"]["properties"]
    assert spec["replicas"]["default"] == 1
    assert definitions["WorkloadRef"]["properties"]["kind"]["const"] == "Deployment"
    assert set(definitions["RolloutSpec"]["required"]) == {"selector", "strategy"}
    assert "title" not in spec["replicas"]  # pydantic's "Replicas" says nothing


# ---- what the schema accepts ----------------------------------------------------------------


def test_every_example_document_validates() -> None:
    ours = 0
    for where, doc in example_documents():
        errors = [e.message for e in COMBINED.iter_errors(doc)]
        assert errors == [], f"{where}: {errors}"
        if doc.get("kind") in KINDS and str(doc.get("apiVersion", "")).startswith("rollout.dev/"):
            ours += 1
            errors = [e.message for e in BY_KIND[doc["kind"]].iter_errors(doc)]
            assert errors == [], f"{where}: {errors}"
    assert ours == 15  # every Rollout and template of examples/ (update when adding one)
    assert lint_report([str(EXAMPLES)]).ok  # and lint agrees they are valid


def test_documents_of_other_groups_are_left_alone() -> None:
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"}, "spec": {}}
    argo = {"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout", "spec": {"anything": 1}}
    assert COMBINED.is_valid(service) and COMBINED.is_valid(argo)
    typo = {**base_rollout(), "kind": "Rolout"}
    assert not COMBINED.is_valid(typo)
    assert not COMBINED.is_valid({k: v for k, v in base_rollout().items() if k != "apiVersion"})


def test_a_status_from_kubectl_get_is_accepted() -> None:
    doc = {**base_rollout(), "status": {"phase": "Healthy", "observedGeneration": 2}}
    assert COMBINED.is_valid(doc) and BY_KIND["Rollout"].is_valid(doc)


# ---- what lint rejects and the schema rejects too --------------------------------------------

# pydantic error types a JSON schema states: required, type, enum/const, range, size, unknown.
STRUCTURAL = {
    "missing", "extra_forbidden", "int_type", "int_parsing", "string_type", "bool_type",
    "bool_parsing", "list_type", "dict_type", "model_type", "model_attributes_type",
    "literal_error", "enum", "greater_than_equal", "less_than_equal", "greater_than",
    "less_than", "too_short", "too_long", "string_too_short", "string_too_long",
}  # fmt: skip
# The duration and int-or-percent validators raise value_error; the schema's patterns say it.
FORMAT_MESSAGES = ("must be a duration", "percentage", "must not be negative")


def edit(base: Callable[[], Doc], change: Callable[[Doc], object]) -> Doc:
    doc = copy.deepcopy(base())
    change(doc)
    return doc


def _canary(doc: Doc) -> Doc:
    canary: Doc = doc["spec"]["strategy"]["canary"]
    return canary


def _pause(doc: Doc) -> Doc:
    pause: Doc = _canary(doc)["steps"][1]["pause"]  # examples/rollout-demo.yaml: pause 30s
    return pause


def _labels(doc: Doc) -> Doc:
    labels: Doc = doc["spec"]["selector"]["matchLabels"]
    return labels


def _metric(doc: Doc) -> Doc:
    metric: Doc = doc["spec"]["metrics"][0]
    return metric


def _workload_ref(doc: Doc, kind: str) -> None:
    del doc["spec"]["template"]
    doc["spec"]["workloadRef"] = {"apiVersion": "apps/v1", "kind": kind, "name": "demo"}


def _cluster_template(doc: Doc) -> None:
    doc["kind"] = "ClusterAnalysisTemplate"
    doc["spec"]["args"] = [{"value": "checkout"}]


R, T = base_rollout, base_template
REJECTED_BY_BOTH: list[tuple[str, Doc]] = [
    ("no selector", edit(R, lambda d: d["spec"].pop("selector"))),
    ("no strategy", edit(R, lambda d: d["spec"].pop("strategy"))),
    ("no metadata.name", edit(R, lambda d: d["metadata"].pop("name"))),
    ("no spec", edit(R, lambda d: d.pop("spec"))),
    ("replicas a word", edit(R, lambda d: d["spec"].update(replicas="five"))),
    ("replicas negative", edit(R, lambda d: d["spec"].update(replicas=-1))),
    ("setWeight over 100", edit(R, lambda d: _canary(d)["steps"][0].update(setWeight=150))),
    ("unknown top-level field", edit(R, lambda d: d.update(labels={"app": "demo"}))),
    ("unknown spec field", edit(R, lambda d: d["spec"].update(replica=3))),
    ("typo in a step", edit(R, lambda d: _canary(d)["steps"].__setitem__(0, {"setWeigth": 20}))),
    ("a step not a mapping", edit(R, lambda d: _canary(d)["steps"].__setitem__(0, 20))),
    ("steps not a list", edit(R, lambda d: _canary(d).update(steps={"setWeight": 20}))),
    ("a flag not a boolean", edit(R, lambda d: d["spec"].update(progressDeadlineAbort="maybe"))),
    ("a label value a number", edit(R, lambda d: _labels(d).update(app=5))),
    ("workloadRef of a StatefulSet", edit(R, lambda d: _workload_ref(d, "StatefulSet"))),
    ("another apiVersion", edit(R, lambda d: d.update(apiVersion="rollout.dev/v1"))),
    (
        "nginx without stableIngress",
        edit(R, lambda d: _canary(d).update(trafficRouting={"nginx": {"weightTotal": 100}})),
    ),
    ("pause duration a word", edit(R, lambda d: _pause(d).update(duration="soon"))),
    ("pause duration negative", edit(R, lambda d: _pause(d).update(duration=-5))),
    ("pause duration out of order", edit(R, lambda d: _pause(d).update(duration="5s1m"))),
    ("maxSurge not a percentage", edit(R, lambda d: _canary(d).update(maxSurge="lots"))),
    ("maxSurge over 100%", edit(R, lambda d: _canary(d).update(maxSurge="150%"))),
    ("metric without name", edit(T, lambda d: _metric(d).pop("name"))),
    ("metric without provider", edit(T, lambda d: _metric(d).pop("provider"))),
    ("noData not a policy", edit(T, lambda d: _metric(d).update(noData="Maybe"))),
    ("unknown metric field", edit(T, lambda d: _metric(d).update(intervall="1m"))),
    ("count a word", edit(T, lambda d: _metric(d).update(count="three"))),
    ("count zero", edit(T, lambda d: _metric(d).update(count=0))),
    ("no metrics", edit(T, lambda d: d["spec"].update(metrics=[]))),
    ("metric name too long", edit(T, lambda d: _metric(d).update(name="m" * 64))),
    ("interval not a duration", edit(T, lambda d: _metric(d).update(interval="every minute"))),
    ("cluster template arg without name", edit(T, _cluster_template)),
]  # fmt: skip


def lint_problems(doc: Doc, tmp_path: Path) -> list[str]:
    path = tmp_path / "case.yaml"
    path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    return [f"{p.path}: {p.reason}" for p in lint_report([str(path)]).problems]


def pydantic_errors(doc: Doc) -> list[tuple[str, str]]:
    model = AnalysisTemplate if doc.get("kind") in KINDS[1:] else Rollout
    try:
        model.model_validate(doc)
    except ValidationError as err:
        return [(e["type"], e["msg"]) for e in err.errors()]
    return []


def schema_paths(doc: Doc) -> list[str]:
    """Where the per-kind schema complains, as lint writes paths (spec.steps[0].setWeight)."""
    found = []
    for error in BY_KIND[doc["kind"]].iter_errors(doc):
        path = ""
        for part in error.absolute_path:
            path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
        found.append(path)
    return found


@pytest.mark.parametrize(("case", "doc"), REJECTED_BY_BOTH, ids=[c for c, _ in REJECTED_BY_BOTH])
def test_what_lint_rejects_for_a_schema_reason_the_schema_rejects(
    case: str, doc: Doc, tmp_path: Path
) -> None:
    problems = lint_problems(doc, tmp_path)
    assert problems, f"{case}: lint accepts it"
    errors = pydantic_errors(doc)
    assert errors
    for kind, message in errors:  # the case is of the kind a schema can state
        assert kind in STRUCTURAL or (
            kind == "value_error" and any(m in message for m in FORMAT_MESSAGES)
        ), (case, kind, message)
    assert not COMBINED.is_valid(doc), case
    assert not BY_KIND[doc["kind"]].is_valid(doc), case
    # ... and it points at the same place as lint (or at the object holding it, which is where
    # JSON Schema reports a missing or an unknown field).
    lint_paths = [p.split(": ", 1)[0] for p in problems]
    assert any(
        holds(where, lint_path) for lint_path in lint_paths for where in schema_paths(doc)
    ), (
        case,
        lint_paths,
        schema_paths(doc),
    )


def holds(where: str, lint_path: str) -> bool:
    """The schema's error at `where` is lint's at `lint_path`, or at the object holding it."""
    if not where:
        return "." not in lint_path and "[" not in lint_path
    return lint_path == where or lint_path.startswith((f"{where}.", f"{where}["))


# ---- what only lint can say ------------------------------------------------------------------


def _steps(doc: Doc, steps: list[Doc]) -> None:
    _canary(doc)["steps"] = steps


LINT_ONLY: list[tuple[str, Doc]] = [
    ("two fields in one step", edit(R, lambda d: _steps(d, [{"setWeight": 20, "pause": {}}]))),
    ("a step with no field", edit(R, lambda d: _steps(d, [{}]))),
    ("setWeight going down", edit(R, lambda d: _steps(d, [{"setWeight": 50}, {"setWeight": 20}]))),
    ("an empty selector", edit(R, lambda d: d["spec"]["selector"].update(matchLabels={}))),
    ("selector not matching the pods", edit(R, lambda d: _labels(d).update(app="x"))),
    ("template and workloadRef", edit(R, lambda d: d["spec"].update(workloadRef={"name": "demo"}))),
    ("neither template nor workloadRef", edit(R, lambda d: d["spec"].pop("template"))),
    ("a Service name not a DNS name", edit(R, lambda d: _canary(d).update(stableService="A_B"))),
    ("a CEL typo", edit(T, lambda d: _metric(d).update(successCondition="result >="))),
    ("two metrics of one name", edit(T, lambda d: d["spec"]["metrics"].append(_metric(d)))),
    ("count above 1 without interval", edit(T, lambda d: _metric(d).pop("interval"))),
]  # fmt: skip


@pytest.mark.parametrize(("case", "doc"), LINT_ONLY, ids=[c for c, _ in LINT_ONLY])
def test_lints_semantic_rules_are_beyond_the_schema(case: str, doc: Doc, tmp_path: Path) -> None:
    """Lint rejects these through the models' validators; a JSON schema cannot say them, so
    the editor accepts them. Run `rollout lint` (CI does) for the full check."""
    assert lint_problems(doc, tmp_path), f"{case}: lint accepts it"
    assert {kind for kind, _ in pydantic_errors(doc)} == {"value_error"}, case
    assert COMBINED.is_valid(doc), case


# ---- the patterns say what the validators accept ----------------------------------------------


def _accepts_model(doc: Doc) -> bool:
    return not pydantic_errors(doc)


EDGES: list[object] = [
    *("30", "30s", " 5m ", "1h30m", "28d", "1d2h3m4s", "5s1m", "", "30 s", "1.5h", "1h-5m"),
    *("25%", "100%", "007%", "0%", "101%", "150%", "999%", " 25%", "25 %", "%", "-5%"),
    *(0, 7, -1, True, False, None),
]
# Floats are left out: JSON Schema calls 30.0 an integer, the models do not (a YAML oddity).
VALUES = st.one_of(
    st.integers(-3, 300), st.booleans(), st.text(alphabet="0123456789dhms% -", max_size=7)
)


def duration_agrees(value: object) -> None:
    doc = edit(R, lambda d: _pause(d).update(duration=value))
    assert BY_KIND["Rollout"].is_valid(doc) == _accepts_model(doc), value


def percentage_agrees(value: object) -> None:
    doc = edit(R, lambda d: _canary(d).update(maxSurge=value, maxUnavailable=1))
    assert BY_KIND["Rollout"].is_valid(doc) == _accepts_model(doc), value


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_the_patterns_agree_with_the_validators_on_the_edges(value: object) -> None:
    duration_agrees(value)
    percentage_agrees(value)


@settings(max_examples=150, deadline=None)
@given(value=VALUES)
def test_the_duration_pattern_agrees_with_the_validator(value: object) -> None:
    duration_agrees(value)


@settings(max_examples=150, deadline=None)
@given(value=VALUES)
def test_the_percentage_pattern_agrees_with_the_validator(value: object) -> None:
    percentage_agrees(value)
