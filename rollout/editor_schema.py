"""JSON Schemas of our spec files, for editors (yaml-language-server: VS Code, Neovim, ...).

Built from the same pydantic models as the CRD (rollout/crd.py), so hover docs are the models'
docstrings and completion offers the models' fields, enums and defaults. One schema per kind
(Rollout, AnalysisTemplate, ClusterAnalysisTemplate) and one for any of our files, which picks
by `kind`. The committed copies under deploy/schema/ are regenerated with
`python -m rollout.editor_schema` and printed by `rollout schema`; a test fails on drift.

Decisions (why the output looks the way it does):
- JSON Schema draft-07: the newest draft yaml-language-server validates with. So pydantic's
  `$defs` become `definitions`, and a `$ref` with keywords beside it (a field's description or
  default) is wrapped in `allOf`, because draft-07 ignores everything next to a `$ref`.
- Unknown fields are errors (`additionalProperties: false`, the models' extra="forbid"), as
  `rollout lint` reports them; the CRD cannot say so (the API server prunes them silently).
- Durations and int-or-percent values: integer or string, with a pattern for the string form
  that accepts what the models' validators accept (a test holds the two together).
- `status` is the controller's: any object is accepted there and nothing is described.
- The combined schema judges only documents of our group (or of kind Rollout without an
  apiVersion of another group): a file may hold a Rollout beside its Services.
- What no JSON schema says: the models' validators (exactly one field per step, setWeight never
  going down, a selector matching the template, DNS names, CEL syntax, undeclared args, ...).
  `rollout lint` checks those; the schema is for the editor, lint is the gate.
"""

from __future__ import annotations

import copy
import functools
import json
import sys
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

from rollout.crd import crd_documents
from rollout.models import API_VERSION, GROUP, KIND, VERSION, Rollout
from rollout.models.base import Duration, IntOrPercent
from rollout.models.resource import AnalysisTemplate

SCHEMA_DIR = Path(__file__).resolve().parents[1] / "deploy" / "schema"
DRAFT = "http://json-schema.org/draft-07/schema#"
KINDS = (KIND, "AnalysisTemplate", "ClusterAnalysisTemplate")
COMBINED_FILE = f"{GROUP}.json"
_COMMENT = (
    "Generated from rollout/models by `python -m rollout.editor_schema`; do not edit by hand "
    "(tests/install/test_editor_schema.py fails on drift)."
)

# The string forms parse_duration and the int-or-percent validator accept (rollout/models/base.py).
DURATION_PATTERN = r"^\s*(\d+|(?=\d)(\d+d)?(\d+h)?(\d+m)?(\d+s)?)\s*$"
PERCENT_PATTERN = r"^(\d{1,2}|0\d\d|100)%$"


def _validator_of(annotated: object) -> object:
    """The BeforeValidator function inside an Annotated alias such as Duration."""
    for extra in typing.get_args(annotated)[1:]:
        func = getattr(extra, "func", None)
        if func is not None:
            return func
    raise TypeError(f"{annotated!r} has no BeforeValidator")


_PATTERNS = {
    _validator_of(Duration): DURATION_PATTERN,
    _validator_of(IntOrPercent): PERCENT_PATTERN,
}


class _EditorSchema(GenerateJsonSchema):
    """Pydantic's generator, with durations and percentages said in plain JSON Schema.

    The models mark them `x-kubernetes-int-or-string` for the CRD, which a JSON Schema tool
    ignores (so it would accept anything); recognised here by their validator function."""

    def generate_inner(self, schema: CoreSchema) -> JsonSchemaValue:
        out = super().generate_inner(schema)
        if schema.get("type") == "function-before":
            function = schema.get("function", {}).get("function")
            if function in _PATTERNS:
                # The model's own wording stays (its description, when it has one).
                out = {
                    **{k: v for k, v in out.items() if k == "description"},
                    "type": ["integer", "string"],
                    "minimum": 0,
                    "pattern": _PATTERNS[function],
                }
        return out


@functools.cache
def _model_schema(model: type[BaseModel]) -> dict[str, Any]:
    # Cached (generation is the slow part); callers get deep copies to change freely.
    raw = model.model_json_schema(by_alias=True, mode="validation", schema_generator=_EditorSchema)
    return _draft7(raw)  # type: ignore[no-any-return]


def _draft7(node: Any, *, in_properties: bool = False) -> Any:
    """pydantic's 2020-12 output as draft-07 (see the module docstring)."""
    if isinstance(node, list):
        return [_draft7(item) for item in node]
    if not isinstance(node, dict):
        return node
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "$defs":
            out["definitions"] = {name: _draft7(sub) for name, sub in value.items()}
        elif key == "$ref":
            out[key] = value.replace("#/$defs/", "#/definitions/")
        elif key == "properties":
            out[key] = {name: _draft7(sub, in_properties=True) for name, sub in value.items()}
        elif key.startswith("x-kubernetes-"):
            continue  # CRD-only annotations; they mean nothing to a JSON Schema tool
        elif key == "title" and in_properties:
            continue  # pydantic's title of a field is its name capitalised: noise in hover
        else:
            out[key] = _draft7(value)
    if "$ref" in out and len(out) > 1:
        ref = out.pop("$ref")
        out = {"allOf": [{"$ref": ref}], **out}
    return out


def _refs(node: Any) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"].rsplit("/", 1)[-1]} if "$ref" in node else set()
        for value in node.values():
            found |= _refs(value)
        return found
    if isinstance(node, list):
        return set().union(*(_refs(item) for item in node)) if node else set()
    return set()


def _reachable(root: Any, definitions: dict[str, Any]) -> dict[str, Any]:
    """Only the definitions `root` refers to (directly or through others), sorted by name."""
    seen: set[str] = set()
    todo = _refs(root)
    while todo:
        name = todo.pop()
        if name not in seen:
            seen.add(name)
            todo |= _refs(definitions[name]) - seen
    return {name: definitions[name] for name in sorted(seen)}


@functools.cache
def _crd_description(kind: str) -> str:
    crd = next(c for c in crd_documents() if c["spec"]["names"]["kind"] == kind)
    description: str = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["description"]
    return description


def _kind_body(kind: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the object schema of one kind without definitions, the definitions it may use)."""
    model: type[BaseModel] = Rollout if kind == KIND else AnalysisTemplate
    raw = copy.deepcopy(_model_schema(model))
    definitions: dict[str, Any] = raw.pop("definitions", {})
    properties = raw["properties"]
    properties["apiVersion"] = {
        "description": f"The API group and version of this controller: {API_VERSION}.",
        "const": API_VERSION,
    }
    properties["kind"] = {"description": f"{kind}.", "const": kind}
    if "status" in properties:
        properties["status"] = {
            "description": "Written by the controller; a spec file in Git has none.",
            "type": "object",
        }
    body: dict[str, Any] = {
        "title": kind,
        "description": _crd_description(kind),
        "type": "object",
        "properties": properties,
        "required": ["apiVersion", "kind", "metadata", "spec"],
        "additionalProperties": False,
    }
    return body, definitions


def kind_schema(kind: str) -> dict[str, Any]:
    """The standalone schema of one kind."""
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    body, definitions = _kind_body(kind)
    return {
        "$schema": DRAFT,
        "$comment": _COMMENT,
        **body,
        "definitions": _reachable(body, definitions),
    }


def combined_schema() -> dict[str, Any]:
    """One schema for any of our files: each document is judged by its kind."""
    definitions: dict[str, Any] = {}
    branches: list[dict[str, Any]] = []
    ours = {"type": "string", "pattern": f"^{GROUP.replace('.', '[.]')}/"}
    for kind in KINDS:
        body, used = _kind_body(kind)
        for name, sub in [*_reachable(body, used).items(), (kind, body)]:
            if name in definitions and definitions[name] != sub:
                raise ValueError(f"two different definitions named {name}")
            definitions[name] = sub
        branches.append(
            {
                # Ours by kind, unless the apiVersion names another group (Argo Rollouts'
                # Rollout is argoproj.io/v1alpha1): that document is not judged here.
                "if": {
                    "properties": {"kind": {"const": kind}, "apiVersion": ours},
                    "required": ["kind"],
                },
                "then": {"$ref": f"#/definitions/{kind}"},
            }
        )
    branches.append(
        {
            # Our group with a kind we do not have (a typo such as `Rolout`).
            "if": {"properties": {"apiVersion": ours}, "required": ["apiVersion"]},
            "then": {"properties": {"kind": {"enum": list(KINDS)}}, "required": ["kind"]},
        }
    )
    return {
        "$schema": DRAFT,
        "$comment": _COMMENT,
        "title": f"{GROUP} ({', '.join(KINDS)})",
        "description": (
            f"Any document of {GROUP}, checked by its kind; documents of other groups (the "
            "Services beside a Rollout, say) are left alone."
        ),
        "type": "object",
        "properties": {
            # Offered by completion on an empty document; restricting them here would reject
            # the other kinds a GitOps file holds.
            "apiVersion": {"examples": [API_VERSION]},
            "kind": {"examples": list(KINDS)},
        },
        "allOf": branches,
        "definitions": dict(sorted(definitions.items())),
    }


def file_name(kind: str) -> str:
    """`rollout.dev/rollout_v1alpha1.json`: the layout of the CRDs-catalog editors know."""
    return f"{GROUP}/{kind.lower()}_{VERSION}.json"


def render(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def schema_files() -> dict[str, str]:
    """Relative path under deploy/schema/ -> content, for every schema file."""
    files = {COMBINED_FILE: render(combined_schema())}
    files.update({file_name(kind): render(kind_schema(kind)) for kind in KINDS})
    return files


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    written = []
    for name, text in schema_files().items():
        target = directory / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


if __name__ == "__main__":
    for path in write_schemas(Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR):
        print(f"wrote {path}")
