"""The CustomResourceDefinitions, generated from the pydantic models.

Owns two things: `structural_schema`, which turns any pydantic model's JSON schema into the
*structural* OpenAPI v3 schema Kubernetes requires of a CRD (no `$ref`, a `type` on every node,
Optional[X] collapsed to X, no titles, ...), and the CRD documents themselves (`crd_documents`).
The committed YAML under `rollout/crds/` is regenerated with `python -m rollout.crd` (`make crd`);
a test fails when it has drifted from the models.

Schema decisions (why the output looks the way it does):
- `additionalProperties: false` (pydantic's extra="forbid") is dropped: Kubernetes forbids it next
  to `properties`; the API server prunes unknown fields instead and `rollout lint` names them.
- Optional fields lose their `null` branch. Kubernetes prunes `null` from non-nullable fields
  before validation, and for our models a missing field means the same as `None`. A field is
  marked `nullable: true` only if it is Optional *and* has a non-null default (then null differs
  from absent).
- Defaults are kept only for scalar spec fields with a non-null default that passes the node's
  own validation, so `kubectl explain` and the stored object show the values the controller
  uses. Empty-list / empty-map defaults are left to the models (materialising them server-side
  is noise), and the status schema carries no defaults at all: the controller owns it.
- `dict[str, Any]` / `Any` become `x-kubernetes-preserve-unknown-fields: true`.
"""

from __future__ import annotations

import copy
import sys
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from rollout.models import GROUP, KIND, PLURAL, VERSION, RolloutSpec, RolloutStatus
from rollout.models.analysis import AnalysisTemplateSpec

CRD_DIR = Path(__file__).parent / "crds"
HEADER = (
    "# Generated from rollout/models by `python -m rollout.crd` (make crd). Do not edit by hand:\n"
    "# tests/models/test_crd.py fails when this file and the models disagree.\n"
)

# Keywords that may appear in a converted node. Anything else pydantic emits is either rewritten
# below or rejected, so a new kind of field fails loudly here instead of in `kubectl apply`.
_PASSTHROUGH = (
    "format",
    "enum",
    "minimum",
    "exclusiveMinimum",
    "maximum",
    "exclusiveMaximum",
    "multipleOf",
    "minLength",
    "maxLength",
    "pattern",
    "minItems",
    "maxItems",
    "minProperties",
    "maxProperties",
)
_DROPPED = ("title", "examples", "additionalProperties", "$defs")
# Formats Kubernetes understands the way pydantic means them. ("duration" is the notable
# mismatch: ISO 8601 in pydantic, Go's "1h30m" in Kubernetes.)
_FORMATS = frozenset(
    {"date-time", "date", "int32", "int64", "float", "double", "byte", "uuid", "email", "uri"}
)
_KEY_ORDER = (
    "description",
    "type",
    "format",
    "enum",
    "default",
    "nullable",
    *_PASSTHROUGH[2:],
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "items",
    "additionalProperties",
    "properties",
    "required",
)


class SchemaConversionError(ValueError):
    """A model uses a construct a structural schema cannot express (a generator bug, not user's)."""


def structural_schema(model: type[BaseModel], *, keep_defaults: bool = True) -> dict[str, Any]:
    """The model's validation schema (camelCase names) as a Kubernetes structural schema."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    defs: dict[str, Any] = raw.pop("$defs", {})
    return _Converter(defs, keep_defaults=keep_defaults).convert(raw, model.__name__)


class _Converter:
    def __init__(self, defs: dict[str, Any], *, keep_defaults: bool) -> None:
        self.defs = defs
        self.keep_defaults = keep_defaults
        self.resolving: list[str] = []  # $refs being inlined, to refuse recursive models

    def convert(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        node = dict(node)
        if "$ref" in node:
            return self._inline_ref(node, where)
        for junctor in ("anyOf", "oneOf", "allOf"):
            if junctor in node:
                return self._collapse(node, junctor, where)
        if "const" in node:
            node.setdefault("enum", [node.pop("const")])
        if "enum" in node and "type" not in node:
            node["type"] = _type_of_values(node["enum"], where)
        if isinstance(node.get("exclusiveMinimum"), int | float):
            # JSON Schema 2020 style (a number) -> OpenAPI 3.0 style (a flag next to minimum).
            node["minimum"], node["exclusiveMinimum"] = node["exclusiveMinimum"], True
        if isinstance(node.get("exclusiveMaximum"), int | float):
            node["maximum"], node["exclusiveMaximum"] = node["exclusiveMaximum"], True
        return self._emit(node, where)

    def _inline_ref(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        name = node.pop("$ref").rsplit("/", 1)[-1]
        if name in self.resolving:
            raise SchemaConversionError(f"{where}: recursive model {name} cannot be inlined")
        # The referring field's own keys (its docstring, its default) win over the model's.
        merged = {**self.defs[name], **node}
        self.resolving.append(name)
        try:
            return self.convert(merged, where)
        finally:
            self.resolving.pop()

    def _collapse(self, node: dict[str, Any], junctor: str, where: str) -> dict[str, Any]:
        branches: list[dict[str, Any]] = node.pop(junctor)
        typed = [b for b in branches if b.get("type") != "null"]
        nullable = len(typed) < len(branches)
        if len(typed) == 1:
            merged = {**typed[0], **node}
            if nullable and merged.get("default") is not None:
                merged["nullable"] = True
            return self.convert(merged, where)
        if sorted(b.get("type", "") for b in typed) == ["integer", "string"]:
            return self._emit({**node, "x-kubernetes-int-or-string": True}, where)
        raise SchemaConversionError(
            f"{where}: {junctor} of {len(typed)} types cannot be expressed in a structural schema"
            " (only Optional[X] and int | str can)"
        )

    def _emit(self, node: dict[str, Any], where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if node.get("description"):
            out["description"] = node["description"]
        kind = node.get("type")
        if isinstance(kind, list):
            raise SchemaConversionError(f"{where}: a list of types {kind} is not structural")
        if kind == "null":
            raise SchemaConversionError(f"{where}: type null (use an Optional field instead)")
        if kind is not None:
            out["type"] = kind
        for key in _PASSTHROUGH:
            if key in node:
                out[key] = node[key]
        if "format" in out and out["format"] not in _FORMATS:
            raise SchemaConversionError(f"{where}: format {out['format']!r} means something else")
        if node.get("nullable"):
            out["nullable"] = True
        for ext in ("x-kubernetes-int-or-string", "x-kubernetes-preserve-unknown-fields"):
            if node.get(ext):
                out[ext] = True

        extra = node.get("additionalProperties")
        if isinstance(extra, dict) and extra:
            if node.get("properties"):
                raise SchemaConversionError(f"{where}: both properties and a map of values")
            out["additionalProperties"] = self.convert(extra, f"{where}.*")
        elif extra is True or extra == {}:
            # dict[str, Any], or a model with extra="allow": keep whatever is written.
            out["x-kubernetes-preserve-unknown-fields"] = True
        if kind is None and "x-kubernetes-int-or-string" not in out:
            out["x-kubernetes-preserve-unknown-fields"] = True  # Any
        if "x-kubernetes-preserve-unknown-fields" in out and kind not in (None, "object"):
            raise SchemaConversionError(f"{where}: preserve-unknown-fields on a {kind}")

        if "properties" in node:
            out["type"] = "object"
            out["properties"] = {
                name: self.convert(sub, f"{where}.{name}")
                for name, sub in node["properties"].items()
            }
            if node.get("required"):
                out["required"] = list(node["required"])
        if kind == "array":
            out["items"] = self.convert(node.get("items") or {}, f"{where}[]")

        if self.keep_defaults and _default_fits(node.get("default"), out):
            out["default"] = node["default"]

        unknown = set(node) - set(out) - {"default", "required", "properties", *_DROPPED}
        if unknown:
            raise SchemaConversionError(f"{where}: unsupported keywords {sorted(unknown)}")
        order = {key: i for i, key in enumerate(_KEY_ORDER)}
        return dict(sorted(out.items(), key=lambda kv: order.get(kv[0], len(order))))


def _type_of_values(values: list[Any], where: str) -> str:
    for name, kinds in (("boolean", bool), ("string", str), ("integer", int), ("number", float)):
        # bool before int: True is an int to Python but not to Kubernetes.
        if all(isinstance(v, kinds) for v in values) and (
            name == "boolean" or not any(isinstance(v, bool) for v in values)
        ):
            return name
    raise SchemaConversionError(f"{where}: an enum of mixed types {values!r}")


def _default_fits(value: object, node: dict[str, Any]) -> bool:
    """A default worth materialising server-side: a scalar the node itself accepts."""
    if value is None or isinstance(value, list | dict):
        return False
    kind = node.get("type")
    if kind is None:
        return isinstance(value, int | str) and not isinstance(value, bool)
    expected: dict[str, tuple[type, ...]] = {
        "string": (str,),
        "integer": (int,),
        "number": (int, float),
        "boolean": (bool,),
    }
    if kind not in expected or not isinstance(value, expected[kind]):
        return False
    if kind != "boolean" and isinstance(value, bool):
        return False
    if "enum" in node and value not in node["enum"]:
        return False
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in node and value < node["minimum"]:
            return False
        if "maximum" in node and value > node["maximum"]:
            return False
    return True


def custom_resource_definition(
    *,
    kind: str,
    plural: str,
    singular: str,
    spec_model: type[BaseModel],
    status_model: type[BaseModel] | None,
    description: str,
    short_names: list[str] | None = None,
    categories: list[str] | None = None,
    printer_columns: list[dict[str, Any]] | None = None,
    scale: dict[str, str] | None = None,
    namespaced: bool = True,
) -> dict[str, Any]:
    """An apiextensions.k8s.io/v1 CRD in our group, one served+storage version."""
    spec = structural_schema(spec_model)
    properties: dict[str, Any] = {
        "apiVersion": {
            "description": "APIVersion defines the versioned schema of this representation.",
            "type": "string",
        },
        "kind": {"description": "Kind is the type of this object.", "type": "string"},
        # Kubernetes validates metadata itself and allows nothing here beyond its type.
        "metadata": {"type": "object"},
        "spec": spec,
    }
    subresources: dict[str, Any] = {}
    if status_model is not None:
        properties["status"] = structural_schema(status_model, keep_defaults=False)
        subresources["status"] = {}
    if scale is not None:
        subresources["scale"] = dict(scale)
    names: dict[str, Any] = {
        "kind": kind,
        "listKind": f"{kind}List",
        "plural": plural,
        "singular": singular,
    }
    if short_names:
        names["shortNames"] = list(short_names)
    if categories:
        names["categories"] = list(categories)
    version: dict[str, Any] = {
        "name": VERSION,
        "served": True,
        "storage": True,
        "schema": {
            "openAPIV3Schema": {
                "description": description,
                "type": "object",
                "properties": properties,
                "required": ["spec"],
            }
        },
    }
    if subresources:
        version["subresources"] = subresources
    if printer_columns:
        version["additionalPrinterColumns"] = copy.deepcopy(printer_columns)
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{GROUP}"},
        "spec": {
            "group": GROUP,
            "names": names,
            "scope": "Namespaced" if namespaced else "Cluster",
            "versions": [version],
        },
    }


def _column(name: str, path: str, kind: str, description: str) -> dict[str, Any]:
    return {"name": name, "type": kind, "jsonPath": path, "description": description}


ROLLOUT_COLUMNS = [
    _column("Desired", ".spec.replicas", "integer", "Replicas of the stable revision"),
    _column("Available", ".status.availableReplicas", "integer", "Available pods, all revisions"),
    _column("Phase", ".status.phase", "string", "Progressing, Paused, Healthy or Degraded"),
    _column("Step", ".status.currentStepIndex", "integer", "Index of the current canary step"),
    _column(
        "Weight", ".status.canary.weights.canary.weight", "integer", "Traffic to the canary, %"
    ),
    _column("Stable", ".status.stableRevision", "string", "Revision taking production traffic"),
    _column("Canary", ".status.currentRevision", "string", "Revision being rolled out"),
    _column("Age", ".metadata.creationTimestamp", "date", "Time since creation"),
]


def crd_documents() -> list[dict[str, Any]]:
    """Every CRD this project installs, in the order they should be applied."""
    rollout = custom_resource_definition(
        kind=KIND,
        plural=PLURAL,
        singular="rollout",
        spec_model=RolloutSpec,
        status_model=RolloutStatus,
        description=(
            "A Rollout releases new revisions of a service progressively (a canary moved "
            "step by step) and rolls back automatically when a step fails."
        ),
        short_names=["ro"],
        categories=["rollouts"],
        printer_columns=ROLLOUT_COLUMNS,
        scale={
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        },
    )
    templates = [
        custom_resource_definition(
            kind=kind,
            plural=f"{kind.lower()}s",
            singular=kind.lower(),
            spec_model=AnalysisTemplateSpec,
            status_model=None,
            description=(
                f"{'A cluster-wide' if not namespaced else 'An'} analysis template: the metrics "
                "(provider, schedule, CEL conditions, limits) a Rollout's analysis steps and "
                "background analysis are judged by."
            ),
            categories=["rollouts"],
            namespaced=namespaced,
        )
        for kind, namespaced in (
            ("AnalysisTemplate", True),
            ("ClusterAnalysisTemplate", False),
        )
    ]
    return [rollout, *templates]


class _Dumper(yaml.SafeDumper):
    """Block style; multi-line descriptions as `|` literals, so they read like the docstrings."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    # A literal block cannot carry trailing spaces; such strings fall back to quoting.
    literal = "\n" in value and all(line == line.rstrip() for line in value.split("\n"))
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style="|" if literal else None)


_Dumper.add_representer(str, _represent_str)


def file_name(crd: dict[str, Any]) -> str:
    """`<group>_<plural>.yaml`, as controller-gen names them."""
    spec = crd["spec"]
    return f"{spec['group']}_{spec['names']['plural']}.yaml"


def to_yaml(doc: Any) -> str:
    """Our house YAML: block style, key order kept, descriptions as literals."""
    return yaml.dump(doc, Dumper=_Dumper, sort_keys=False, width=100, allow_unicode=True)


def render_crd(crd: dict[str, Any]) -> str:
    return HEADER + "---\n" + to_yaml(crd)


def write_crds(directory: Path = CRD_DIR) -> list[Path]:
    """(Re)write one file per CRD into `directory`; returns the files written."""
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for crd in crd_documents():
        target = directory / file_name(crd)
        target.write_text(render_crd(crd), encoding="utf-8")
        written.append(target)
    return written


def committed_crds_text() -> str:
    """The committed CRD files, concatenated: what `rollout crds` prints."""
    files = sorted(CRD_DIR.glob("*.yaml"))
    return "".join(path.read_text(encoding="utf-8") for path in files)


if __name__ == "__main__":
    for path in write_crds(Path(sys.argv[1]) if len(sys.argv) > 1 else CRD_DIR):
        print(f"wrote {path}")
