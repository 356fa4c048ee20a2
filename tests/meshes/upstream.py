"""Real upstream CRD schemas (tests/data/upstream) for validating what routers write, and for
installing those CRDs into the sandbox so routing objects can exist there.

Kubernetes' OpenAPI dialect needs two mappings before plain JSON-Schema validation:
`x-kubernetes-int-or-string` (integer or string) and `nullable` (null allowed). Istio's schema
covers only `spec`/`status`, so apiVersion/kind/metadata are checked separately.
"""

from __future__ import annotations

import contextlib
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema  # type: ignore[import-untyped, unused-ignore]
import yaml

from rollout.errors import ConflictError
from rollout.kube import CRDS, Kube

DATA = Path(__file__).resolve().parents[1] / "data" / "upstream"

FILES = {
    ("networking.istio.io", "VirtualService"): "virtualservices.networking.istio.io.yaml",
    ("networking.istio.io", "DestinationRule"): "destinationrules.networking.istio.io.yaml",
    ("gateway.networking.k8s.io", "HTTPRoute"): "gateway.networking.k8s.io_httproutes.yaml",
    ("gateway.networking.k8s.io", "GRPCRoute"): "gateway.networking.k8s.io_grpcroutes.yaml",
    ("policy.linkerd.io", "HTTPRoute"): "httproutes.policy.linkerd.io.yaml",
    ("split.smi-spec.io", "TrafficSplit"): "split.yaml",  # v1alpha2..v1alpha4
}
LINKERD_SMI = "trafficsplits.split.smi-spec.io.linkerd-smi.yaml"  # v1alpha1, v1alpha2


@cache
def crd(file: str) -> dict[str, Any]:
    docs = [d for d in yaml.safe_load_all((DATA / file).read_text()) if d]
    (doc,) = [d for d in docs if d.get("kind") == "CustomResourceDefinition"]
    return dict(doc)


def _to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [_to_json_schema(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _to_json_schema(v)
        for k, v in node.items()
        if k not in ("x-kubernetes-int-or-string", "nullable")
    }
    if node.get("x-kubernetes-int-or-string"):
        out.pop("type", None)
        out["anyOf"] = [{"type": "integer"}, {"type": "string"}]
    if node.get("nullable"):
        kind = out.get("type")
        if isinstance(kind, str):
            out["type"] = [kind, "null"]
    return out


def schema(group: str, kind: str, version: str, *, file: str | None = None) -> dict[str, Any]:
    definition = crd(file or FILES[(group, kind)])
    for v in definition["spec"]["versions"]:
        if v["name"] == version:
            return dict(_to_json_schema(v["schema"]["openAPIV3Schema"]))
    raise KeyError(f"{kind}.{group} has no version {version}")


def validate(obj: dict[str, Any], *, file: str | None = None) -> None:
    """Raise jsonschema.ValidationError if `obj` does not fit its upstream CRD schema."""
    group, _, version = obj["apiVersion"].rpartition("/")
    assert obj.get("metadata", {}).get("name"), "metadata.name is required"
    body = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    full = schema(group, obj["kind"], version, file=file)
    props = {
        k: v
        for k, v in full.get("properties", {}).items()
        if k not in ("apiVersion", "kind", "metadata")
    }
    jsonschema.validate(body, {**full, "properties": props})


def install(kube: Kube, group: str, kind: str, *, file: str | None = None) -> None:
    """Install the upstream CRD into a (sandbox) cluster."""
    definition = crd(file or FILES[(group, kind)])
    body = {k: definition[k] for k in ("apiVersion", "kind", "spec")}
    body["metadata"] = {"name": definition["metadata"]["name"]}
    with contextlib.suppress(ConflictError):
        kube.create(CRDS, body)
