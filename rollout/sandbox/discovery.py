"""Discovery documents: ``/version``, ``/api``, ``/apis``, per-group and per-version lists.

Owns rendering the registry as the legacy (non-aggregated) discovery format,
which every client understands; kubectl asks for aggregated discovery first
and falls back to this when the response is a plain APIGroupList.

OpenAPI: ``/openapi/v2`` is an *empty* document (zero-length protobuf, or a
swagger stub as JSON). kubectl must be able to download it to validate
manifests, and with no schema for a kind it skips client-side validation and
computes apply patches from its compiled-in types. ``/openapi/v3`` is 404,
which kubectl treats as "no server-side field validation" and falls back.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .resources import ALL_VERBS, SUBRESOURCE_VERBS, Registry, ResourceType
from .routing import Discovery, not_found_path

JSON = dict[str, Any]

SERVER_VERSION: JSON = {
    "major": "1",
    "minor": "32",
    "gitVersion": "v1.32.0-sandbox",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2025-01-01T00:00:00Z",
    "goVersion": "go1.23.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}

_VERSION_RE = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int]:
    """Kubernetes version ordering: GA > beta > alpha, then by number (higher first)."""
    m = _VERSION_RE.match(version)
    if not m:
        return (-1, 0, 0)
    stability = {"alpha": 0, "beta": 1, None: 2}[m[2]]
    return (stability, int(m[1]), int(m[3] or 0))


def _group_doc(group: str, versions: list[str]) -> JSON:
    ordered = sorted(versions, key=version_priority, reverse=True)
    entries = [{"groupVersion": f"{group}/{v}", "version": v} for v in ordered]
    return {"name": group, "versions": entries, "preferredVersion": entries[0]}


def _resource_entries(rt: ResourceType) -> list[JSON]:
    main: JSON = {
        "name": rt.plural,
        "singularName": rt.singular_name,
        "namespaced": rt.namespaced,
        "kind": rt.kind,
        "verbs": list(ALL_VERBS),
    }
    if rt.short_names:
        main["shortNames"] = list(rt.short_names)
    if rt.categories:
        main["categories"] = list(rt.categories)
    out = [main]
    if rt.status:
        out.append(
            {
                "name": f"{rt.plural}/status",
                "singularName": "",
                "namespaced": rt.namespaced,
                "kind": rt.kind,
                "verbs": list(SUBRESOURCE_VERBS),
            }
        )
    if rt.scale is not None:
        out.append(
            {
                "name": f"{rt.plural}/scale",
                "singularName": "",
                "namespaced": rt.namespaced,
                "group": "autoscaling",
                "version": "v1",
                "kind": "Scale",
                "verbs": list(SUBRESOURCE_VERBS),
            }
        )
    return out


# kube-openapi answers protobuf requests as octet-stream (the "@" in the spec
# media type is not parseable by Go's mime package).
OPENAPI_V2_PROTOBUF = "application/octet-stream"


def openapi(doc: Discovery, accept: str) -> tuple[str, bytes]:
    """(content type, body) for ``/openapi/v2``; anything else is 404."""
    if doc.version != "v2":
        raise not_found_path()
    if "protobuf" in accept:
        return OPENAPI_V2_PROTOBUF, b""  # an empty openapi_v2.Document message
    stub = {
        "swagger": "2.0",
        "info": {"title": "Kubernetes", "version": SERVER_VERSION["gitVersion"]},
        "paths": {},
        "definitions": {},
    }
    return "application/json", json.dumps(stub).encode()


def render(doc: Discovery, registry: Registry, host: str) -> JSON:
    """The JSON body for a discovery request (raises 404 for unknown documents)."""
    if doc.doc == "version":
        return dict(SERVER_VERSION)
    if doc.doc == "api":
        return {
            "kind": "APIVersions",
            "versions": ["v1"],
            "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": host}],
        }
    groups = registry.group_versions()
    if doc.doc == "apis":
        return {
            "kind": "APIGroupList",
            "apiVersion": "v1",
            "groups": [_group_doc(g, vs) for g, vs in groups.items() if g],
        }
    if doc.doc == "group":
        return {"kind": "APIGroup", "apiVersion": "v1", **_group_doc(doc.group, groups[doc.group])}
    if doc.doc == "resources":
        types = sorted(
            (rt for rt in registry.all() if rt.group == doc.group and rt.version == doc.version),
            key=lambda rt: rt.plural,
        )
        return {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": f"{doc.group}/{doc.version}" if doc.group else doc.version,
            "resources": [entry for rt in types for entry in _resource_entries(rt)],
        }
    raise not_found_path()
