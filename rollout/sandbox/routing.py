"""URL routing: map a request path onto discovery documents or a resource target.

Owns the Kubernetes path grammar (``/api/v1/namespaces/{ns}/{resource}/{name}/{sub}``,
``/apis/{group}/{version}/...``, the legacy ``/watch/`` segment, discovery
paths with or without a trailing slash) and the Kubernetes verb of a request,
which the request log and fault injector key on.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote

from .errors import ApiError
from .resources import Registry, ResourceType


def not_found_path() -> ApiError:
    return ApiError(404, "the server could not find the requested resource", details={})


@dataclass(frozen=True)
class Discovery:
    """A discovery document: ``doc`` is one of version, api, apis, group, resources, openapi."""

    doc: str
    group: str = ""
    version: str = ""


@dataclass(frozen=True)
class Target:
    rt: ResourceType
    namespace: str | None
    name: str | None
    subresource: str | None
    watch_segment: bool = False

    def verb(self, method: str, watch_param: bool) -> str:
        method = method.upper()
        if method == "GET":
            if watch_param or self.watch_segment:
                return "watch"
            return "get" if self.name else "list"
        if method == "POST":
            return "create"
        if method == "PUT":
            return "update"
        if method == "PATCH":
            return "patch"
        if method == "DELETE":
            return "delete" if self.name else "deletecollection"
        return method.lower()


def route(path: str, registry: Registry) -> Discovery | Target:
    segs = [unquote(s) for s in path.split("/") if s]
    if segs == ["version"]:
        return Discovery("version")
    if segs and segs[0] == "openapi":
        return Discovery("openapi", version="/".join(segs[1:]))
    if not segs or segs[0] not in ("api", "apis"):
        raise not_found_path()
    if segs[0] == "api":
        if len(segs) == 1:
            return Discovery("api")
        group, version, rest = "", segs[1], segs[2:]
    else:
        if len(segs) == 1:
            return Discovery("apis")
        if len(segs) == 2:
            if not registry.group_versions().get(segs[1]):
                raise not_found_path()
            return Discovery("group", group=segs[1])
        group, version, rest = segs[1], segs[2], segs[3:]
    if not registry.has_group_version(group, version):
        raise not_found_path()
    if not rest:
        return Discovery("resources", group=group, version=version)
    watch_segment = rest[0] == "watch"
    if watch_segment:
        rest = rest[1:]
    namespace: str | None = None
    if len(rest) >= 3 and rest[0] == "namespaces":
        candidate = registry.lookup(group, version, rest[2])
        if candidate is not None and candidate.namespaced:
            namespace, rest = rest[1], rest[2:]
    if not rest or len(rest) > 3:
        raise not_found_path()
    rt = registry.lookup(group, version, rest[0])
    if rt is None:
        raise not_found_path()
    name = rest[1] if len(rest) > 1 else None
    sub = rest[2] if len(rest) > 2 else None
    if rt.namespaced and namespace is None and name is not None:
        raise not_found_path()
    if sub is not None and sub not in rt.subresources:
        raise not_found_path()
    return Target(rt, namespace, name, sub, watch_segment)
