"""CustomResourceDefinition handling: CRD objects in, served resource types out.

Owns validating a CRD well enough to serve it, computing its status (the
real apiextensions controllers set NamesAccepted/Established asynchronously;
we set them in the same write so the CRD is usable as soon as create
returns), and turning it into :class:`ResourceType` rows (one per served
version, sharing storage; no conversion between versions is done).
"""

from __future__ import annotations

from typing import Any

from .errors import invalid
from .objects import now_rfc3339
from .resources import ResourceType, ScalePaths

JSON = dict[str, Any]

CRD_STORAGE_KEY = "customresourcedefinitions.apiextensions.k8s.io"


def _fail(name: str, field: str, message: str) -> Exception:
    return invalid("apiextensions.k8s.io", "CustomResourceDefinition", name, [(field, message)])


def validate_crd(obj: JSON) -> None:
    name = obj["metadata"]["name"]
    spec = obj.get("spec")
    if not isinstance(spec, dict):
        raise _fail(name, "spec", "Required value")
    group = spec.get("group")
    names = spec.get("names") or {}
    plural, kind = names.get("plural"), names.get("kind")
    if not group or not isinstance(group, str):
        raise _fail(name, "spec.group", "Required value")
    if not plural or not kind:
        raise _fail(name, "spec.names", "Required value: plural and kind are required")
    if name != f"{plural}.{group}":
        raise _fail(
            name,
            "metadata.name",
            f'Invalid value: "{name}": must be spec.names.plural+"."+spec.group',
        )
    if spec.get("scope") not in ("Namespaced", "Cluster"):
        raise _fail(
            name, "spec.scope", 'Unsupported value: supported values: "Cluster", "Namespaced"'
        )
    versions = spec.get("versions")
    if not isinstance(versions, list) or not versions:
        raise _fail(
            name,
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        )
    storage = [v for v in versions if isinstance(v, dict) and v.get("storage")]
    if len(storage) != 1:
        raise _fail(
            name,
            "spec.versions",
            "Invalid value: must have exactly one version marked as storage version",
        )


def crd_status(obj: JSON, old_status: JSON | None) -> JSON:
    """Status as the apiextensions controllers would converge it: names accepted, Established."""
    spec = obj["spec"]
    names = dict(spec["names"])
    names.setdefault("singular", names["kind"].lower())
    names.setdefault("listKind", names["kind"] + "List")
    storage = next(v["name"] for v in spec["versions"] if v.get("storage"))
    stored = list((old_status or {}).get("storedVersions") or [])
    if storage not in stored:
        stored.append(storage)
    previous = {c.get("type"): c for c in (old_status or {}).get("conditions") or []}

    def condition(type_: str, reason: str, message: str) -> JSON:
        # Keep lastTransitionTime stable across updates: the status did not transition.
        prior = previous.get(type_)
        since = (
            prior["lastTransitionTime"]
            if prior and prior.get("status") == "True"
            else now_rfc3339()
        )
        return {
            "type": type_,
            "status": "True",
            "lastTransitionTime": since,
            "reason": reason,
            "message": message,
        }

    return {
        "acceptedNames": names,
        "conditions": [
            condition("NamesAccepted", "NoConflicts", "no conflicts found for the names"),
            condition(
                "Established", "InitialNamesAccepted", "the initial names have been accepted"
            ),
        ],
        "storedVersions": stored,
    }


def crd_types(obj: JSON) -> list[ResourceType]:
    spec = obj["spec"]
    names = spec["names"]
    out: list[ResourceType] = []
    for v in spec["versions"]:
        if not isinstance(v, dict) or not v.get("served", True):
            continue
        subs = v.get("subresources") or spec.get("subresources") or {}
        scale_spec = subs.get("scale")
        scale = None
        if isinstance(scale_spec, dict):
            scale = ScalePaths(
                spec_replicas=scale_spec.get("specReplicasPath", ".spec.replicas"),
                status_replicas=scale_spec.get("statusReplicasPath", ".status.replicas"),
                label_selector=scale_spec.get("labelSelectorPath"),
            )
        out.append(
            ResourceType(
                group=spec["group"],
                version=v["name"],
                plural=names["plural"],
                kind=names["kind"],
                namespaced=spec["scope"] == "Namespaced",
                short_names=tuple(names.get("shortNames") or ()),
                status="status" in subs,
                scale=scale,
                categories=tuple(names.get("categories") or ()),
                strategic_merge=False,
                delete_returns_object=True,
                crd=True,
                singular=names.get("singular") or names["kind"].lower(),
            )
        )
    return out


def storage_key_of(obj: JSON) -> str:
    spec = obj["spec"]
    return f"{spec['names']['plural']}.{spec['group']}"
