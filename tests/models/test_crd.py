"""The generated CRD: structural as Kubernetes requires, valid upstream, and not drifted."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import kubernetes_validate
import pytest
import yaml
from pydantic import BaseModel, ConfigDict, Field

from rollout.cli.main import main
from rollout.crd import (
    CRD_DIR,
    SchemaConversionError,
    committed_crds_text,
    crd_documents,
    file_name,
    render_crd,
    structural_schema,
)
from rollout.models import RolloutSpec, RolloutStatus
from rollout.models.status import (
    CanaryStatus,
    Condition,
    ConditionType,
    HistoryEntry,
    Phase,
    RevisionWeight,
    TrafficWeights,
)
from rollout.models.time import parse_time

EXAMPLE = Path(__file__).parents[2] / "examples" / "rollout-demo.yaml"

# Keys a structural schema node must not carry (anything a junctor or a reference would need).
FORBIDDEN = {
    "$ref",
    "$defs",
    "definitions",
    "anyOf",
    "oneOf",
    "allOf",
    "not",
    "title",
    "const",
    "patternProperties",
    "dependencies",
    "additionalItems",
    "id",
    "uniqueItems",
}


def rollout_crd() -> dict[str, Any]:
    (crd,) = [c for c in crd_documents() if c["spec"]["names"]["kind"] == "Rollout"]
    return crd


def root_schema() -> dict[str, Any]:
    schema: dict[str, Any] = rollout_crd()["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema node with its path: properties, items and map values."""
    yield path, node
    for name, sub in node.get("properties", {}).items():
        yield from walk(sub, f"{path}.{name}")
    if isinstance(node.get("items"), dict):
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}.*")


def structural_violations(root: dict[str, Any]) -> list[str]:
    """The rules of
    https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#specifying-a-structural-schema
    plus the API server's own checks on CRD schemas."""
    found = []
    if root.get("type") != "object" or "additionalProperties" in root:
        found.append("root: must be type object without additionalProperties")
    meta = root.get("properties", {}).get("metadata")
    if meta is not None and meta != {"type": "object"}:
        found.append(f"metadata: only {{type: object}} is allowed here, got {meta}")
    for key in ("apiVersion", "kind"):
        if root.get("properties", {}).get(key, {}).get("type", "string") != "string":
            found.append(f"{key}: must be a string")
    for path, node in walk(root):
        where = path or "<root>"
        bad = FORBIDDEN & set(node)
        if bad:
            found.append(f"{where}: forbidden keys {sorted(bad)}")
        kind = node.get("type")
        int_or_string = node.get("x-kubernetes-int-or-string") is True
        preserve = node.get("x-kubernetes-preserve-unknown-fields") is True
        if kind is None and not (int_or_string or preserve):
            found.append(f"{where}: no type")
        if not isinstance(kind, str | None) or kind == "null":
            found.append(f"{where}: type must be one name, not {kind!r}")
        if int_or_string and (kind is not None or preserve):
            found.append(f"{where}: int-or-string takes no type and no preserve-unknown-fields")
        if preserve and kind not in (None, "object"):
            found.append(f"{where}: preserve-unknown-fields on a {kind}")
        if "x-kubernetes-preserve-unknown-fields" in node and not preserve:
            found.append(f"{where}: preserve-unknown-fields must be true or absent")
        if kind == "array" and not isinstance(node.get("items"), dict):
            found.append(f"{where}: an array needs one items schema")
        if "properties" in node and kind != "object":
            found.append(f"{where}: properties on a {kind}")
        if "additionalProperties" in node:
            if "properties" in node:
                found.append(f"{where}: properties and additionalProperties are exclusive")
            if not isinstance(node["additionalProperties"], dict):
                found.append(f"{where}: additionalProperties must be a schema, not a boolean")
        for name in node.get("required", []):
            if name not in node.get("properties", {}):
                found.append(f"{where}: required {name!r} is not a property")
        if (
            "enum" in node
            and kind == "string"
            and not all(isinstance(v, str) for v in node["enum"])
        ):
            found.append(f"{where}: enum values must be strings")
        if "description" in node and not node["description"].strip():
            found.append(f"{where}: empty description")
        if "default" in node and not bad:
            if node["default"] is None:
                found.append(f"{where}: null default")
            checked = {k: v for k, v in node.items() if k != "default"}
            if not jsonschema.Draft4Validator(checked).is_valid(node["default"]):
                found.append(f"{where}: default {node['default']!r} fails its own schema")
    return found


def test_the_rollout_schema_is_structural() -> None:
    assert structural_violations(root_schema()) == []


def test_the_checker_catches_what_pydantic_emits_unconverted() -> None:
    raw = RolloutSpec.model_json_schema(by_alias=True)
    problems = structural_violations({"type": "object", "properties": {"spec": raw}})
    assert any("forbidden keys" in p and "$defs" in p for p in problems)
    assert any("properties and additionalProperties" in p for p in problems)


def test_top_level_shape() -> None:
    root = root_schema()
    assert list(root["properties"]) == ["apiVersion", "kind", "metadata", "spec", "status"]
    assert root["required"] == ["spec"]
    assert root["properties"]["metadata"] == {"type": "object"}


def test_schema_details_come_from_the_models() -> None:
    spec = root_schema()["properties"]["spec"]
    status = root_schema()["properties"]["status"]
    canary = spec["properties"]["strategy"]["properties"]["canary"]
    step = canary["properties"]["steps"]["items"]
    assert step["properties"]["setWeight"] == {
        "description": "Send this percentage of traffic to the canary (0-100).",
        "type": "integer",
        "minimum": 0,
        "maximum": 100,
    }
    assert canary["properties"]["maxSurge"]["x-kubernetes-int-or-string"] is True
    assert step["properties"]["pause"]["properties"]["duration"]["x-kubernetes-int-or-string"]
    assert spec["properties"]["selector"]["properties"]["matchLabels"] == {
        "type": "object",
        "additionalProperties": {"type": "string"},
    }
    template_spec = spec["properties"]["template"]["properties"]["spec"]
    assert template_spec["x-kubernetes-preserve-unknown-fields"] is True
    assert status["properties"]["phase"]["enum"] == [p.value for p in Phase]
    conditions = status["properties"]["conditions"]["items"]["properties"]
    assert conditions["lastTransitionTime"] == {"type": "string", "format": "date-time"}
    assert spec["properties"]["workloadRef"]["properties"]["kind"]["enum"] == ["Deployment"]
    assert set(spec["required"]) == {"selector", "strategy"}


def test_every_field_docstring_becomes_a_description() -> None:
    """A field's docstring wins over its model's class docstring; none is lost."""

    def field_descriptions(node: object) -> Iterator[str]:
        if isinstance(node, dict):
            for sub in node.get("properties", {}).values():
                if isinstance(sub.get("description"), str):
                    yield sub["description"]
            for value in node.values():
                yield from field_descriptions(value)
        elif isinstance(node, list):
            for value in node:
                yield from field_descriptions(value)

    converted = set(field_descriptions(root_schema()))
    for model in (RolloutSpec, RolloutStatus):
        raw = set(field_descriptions(model.model_json_schema(by_alias=True)))
        assert raw, model
        assert not raw - converted, f"{model.__name__}: descriptions lost: {raw - converted}"


def test_defaults_only_where_they_say_something() -> None:
    defaults = {path: node["default"] for path, node in walk(root_schema()) if "default" in node}
    assert defaults[".spec.replicas"] == 1
    assert defaults[".spec.strategy.canary.maxSurge"] == "25%"
    assert not [path for path in defaults if path.startswith(".status")]
    assert all(not isinstance(value, list | dict) for value in defaults.values())


def test_crd_metadata() -> None:
    crd = rollout_crd()
    assert crd["metadata"]["name"] == "rollouts.rollout.dev"
    spec = crd["spec"]
    assert spec["group"] == "rollout.dev"
    assert spec["scope"] == "Namespaced"
    assert spec["names"] == {
        "kind": "Rollout",
        "listKind": "RolloutList",
        "plural": "rollouts",
        "singular": "rollout",
        "shortNames": ["ro"],
        "categories": ["rollouts"],
    }
    (version,) = spec["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {
        "status": {},
        "scale": {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    }
    columns = [(c["name"], c["jsonPath"], c["type"]) for c in version["additionalPrinterColumns"]]
    assert columns == [
        ("Desired", ".spec.replicas", "integer"),
        ("Available", ".status.availableReplicas", "integer"),
        ("Phase", ".status.phase", "string"),
        ("Step", ".status.currentStepIndex", "integer"),
        ("Weight", ".status.canary.weights.canary.weight", "integer"),
        ("Stable", ".status.stableRevision", "string"),
        ("Canary", ".status.currentRevision", "string"),
        ("Age", ".metadata.creationTimestamp", "date"),
    ]


@pytest.mark.parametrize("version", ["1.30", kubernetes_validate.latest_version()])
def test_the_crd_object_is_valid_upstream(version: str) -> None:
    for crd in crd_documents():
        kubernetes_validate.validate(crd, version, strict=True)


def test_the_schema_accepts_what_the_models_accept() -> None:
    """What lint passes, the API server must store; what the controller writes, too."""
    validator = jsonschema.Draft4Validator(root_schema())
    rollout = next(d for d in yaml.safe_load_all(EXAMPLE.read_text()) if d["kind"] == "Rollout")
    assert list(validator.iter_errors(rollout)) == []
    now = parse_time("2026-01-02T15:04:05Z")
    status = RolloutStatus(
        phase=Phase.PROGRESSING,
        current_step_index=1,
        canary=CanaryStatus(
            weights=TrafficWeights(
                stable=RevisionWeight(revision="a", weight=80),
                canary=RevisionWeight(revision="b", weight=20),
            )
        ),
        conditions=[
            Condition(
                type=ConditionType.AVAILABLE,
                status="True",
                reason="Ok",
                last_transition_time=now,
            )
        ],
        history=[HistoryEntry(time=now, reason="Deployed", message="v1")],
    )
    assert list(validator.iter_errors({**rollout, "status": status.to_dict()})) == []
    rollout["spec"]["strategy"]["canary"]["steps"][0]["setWeight"] = 150
    assert not validator.is_valid(rollout)


def test_committed_file_matches_the_models() -> None:
    expected = {file_name(crd): render_crd(crd) for crd in crd_documents()}
    committed = {path.name: path.read_text(encoding="utf-8") for path in CRD_DIR.glob("*.yaml")}
    assert committed == expected, (
        "rollout/crds/ is out of date with rollout/models: run `make crd` "
        "(python -m rollout.crd) and commit the result"
    )


def test_module_entry_point_writes_the_same_files(tmp_path: Path) -> None:
    subprocess.run([sys.executable, "-m", "rollout.crd", str(tmp_path)], check=True, timeout=60)
    for crd in crd_documents():
        assert (tmp_path / file_name(crd)).read_text(encoding="utf-8") == render_crd(crd)


def test_crds_command_prints_the_committed_file(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["crds"]) == 0
    out = capsys.readouterr().out
    assert out == committed_crds_text()
    documents = [d for d in yaml.safe_load_all(out) if d]
    assert {d["kind"] for d in documents} == {"CustomResourceDefinition"}
    assert sorted(d["spec"]["names"]["kind"] for d in documents) == [
        "AnalysisTemplate",
        "ClusterAnalysisTemplate",
        "Rollout",
    ]


# ---- the converter on its own, for the models later issues add ----------------------------


class Leaf(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True, extra="forbid")

    count: Annotated[int, Field(gt=0, le=10)] = 1
    """How many."""
    mode: Literal["fast", "slow"] | None = None
    labels: dict[str, str] = {}
    anything: dict[str, Any] | None = None
    either: int | str = 0
    nullable_with_default: str | None = "x"


class Tree(BaseModel):
    children: list[Tree] = []


class Mixed(BaseModel):
    value: int | bool | None = None


def test_converter_handles_the_common_shapes() -> None:
    schema = structural_schema(Leaf)
    props = schema["properties"]
    assert props["count"] == {
        "description": "How many.",
        "type": "integer",
        "default": 1,
        "minimum": 0,
        "exclusiveMinimum": True,
        "maximum": 10,
    }
    assert props["mode"] == {"type": "string", "enum": ["fast", "slow"]}
    assert props["labels"] == {"type": "object", "additionalProperties": {"type": "string"}}
    assert props["anything"] == {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    assert props["either"] == {"default": 0, "x-kubernetes-int-or-string": True}
    assert props["nullable_with_default"]["nullable"] is True
    assert structural_violations(schema) == []


@pytest.mark.parametrize("model", [Tree, Mixed])
def test_converter_refuses_what_kubernetes_cannot_express(model: type[BaseModel]) -> None:
    with pytest.raises(SchemaConversionError):
        structural_schema(model)
