"""Resource request handling: one Kubernetes verb on one target, HTTP-agnostic.

Owns turning (method, target, query, content type, body) into a reply: list
and get rendering, create/replace/patch/delete dispatch, patch-type selection
by Content-Type, the ``/status``, ``/scale`` and (Pods) ``/log`` subresources, and parsing
watch parameters into a :class:`WatchPlan` for the HTTP layer to stream.

Simplifications: ``limit``/``continue`` are ignored (lists are never
paginated and carry no continue token); ``resourceVersion`` on get/list is
ignored (reads are always current); server-side apply
(``application/apply-patch+yaml``) is answered with 415.
"""

from __future__ import annotations

import copy
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml

from rollout import jsonwire

from . import lifecycle, pod_logs
from .errors import bad_request, invalid, method_not_allowed, unsupported_media_type
from .lifecycle import DeleteOptions
from .objects import get_path, set_path
from .patch import apply_json_patch, apply_merge_patch
from .resources import ResourceType
from .routing import Target
from .selectors import Matcher, label_selector_to_string, make_matcher
from .store import Store
from .strategic import apply_strategic_merge_patch
from .tables import to_table, wants_table

JSON = dict[str, Any]

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC_PATCH = "application/strategic-merge-patch+json"
APPLY_PATCH = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Reply:
    code: int
    body: JSON
    text: str | None = None  # a text/plain answer instead of ``body`` (pods/log)


@dataclass(frozen=True)
class WatchPlan:
    rt: ResourceType
    namespace: str | None
    name: str | None
    matcher: Matcher
    since: int | None  # None: start with synthetic ADDED events for current objects
    timeout: float | None
    bookmarks: bool
    # kubectl get -w asks for Tables: each event's object is rendered as one.
    render: Callable[[JSON], JSON] | None = None


def _truthy(value: str | None) -> bool:
    return value is not None and value.lower() in ("true", "1")


def parse_body(raw: bytes, content_type: str) -> Any:
    if not raw:
        return None
    if "protobuf" in content_type or "cbor" in content_type:
        # Typed Go clients (e.g. `kubectl create namespace x`) send protobuf;
        # decoding it needs the Go schemas, so only JSON/YAML bodies are accepted.
        raise unsupported_media_type(content_type, ["application/json", "application/yaml"])
    try:
        if "yaml" in content_type:
            return yaml.safe_load(raw.decode())
        return jsonwire.loads(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise bad_request(f"error decoding request body: {exc}") from exc


def scale_of(rt: ResourceType, obj: JSON) -> JSON:
    """The autoscaling/v1 Scale view of an object."""
    paths = rt.scale
    assert paths is not None
    meta = obj["metadata"]
    selector: Any = get_path(obj, paths.label_selector) if paths.label_selector else None
    if paths.selector_from_spec:
        selector = label_selector_to_string(selector if isinstance(selector, dict) else None)
    status: JSON = {"replicas": int(get_path(obj, paths.status_replicas) or 0)}
    if isinstance(selector, str) and selector:
        status["selector"] = selector
    scale_meta = {
        k: meta[k]
        for k in ("name", "namespace", "uid", "resourceVersion", "creationTimestamp")
        if k in meta
    }
    return {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": scale_meta,
        "spec": {"replicas": int(get_path(obj, paths.spec_replicas) or 0)},
        "status": status,
    }


def _success_status(rt: ResourceType, obj: JSON) -> JSON:
    meta = obj["metadata"]
    details: JSON = {"name": meta["name"], "kind": rt.plural, "uid": meta["uid"]}
    if rt.group:
        details["group"] = rt.group
    return {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": details,
    }


class Api:
    def __init__(self, store: Store) -> None:
        self.store = store

    def handle(
        self,
        method: str,
        target: Target,
        query: dict[str, str],
        content_type: str,
        raw: bytes,
        *,
        accept: str = "",
    ) -> Reply | WatchPlan:
        method = method.upper()
        verb = target.verb(method, _truthy(query.get("watch")))
        rt, ns, name, sub = target.rt, target.namespace, target.name, target.subresource
        dry_run = bool(query.get("dryRun"))
        if sub == "log":
            if verb != "get":
                raise method_not_allowed()
            assert name is not None
            return Reply(200, {}, text=pod_logs.read_log(self.store, rt, ns, name, query))
        if verb == "watch":
            plan = self._watch_plan(target, query)
            if wants_table(accept):

                def render(obj: JSON) -> JSON:
                    rv = str((obj.get("metadata") or {}).get("resourceVersion", ""))
                    return self._table(rt, [obj], rv, query)

                return dataclasses.replace(plan, render=render)
            return plan
        if verb == "list":
            matcher = make_matcher(query.get("labelSelector"), query.get("fieldSelector"))
            items, rv = self.store.select(rt, ns, matcher)
            if wants_table(accept):
                return Reply(200, self._table(rt, items, str(rv), query))
            return Reply(200, self._list(rt, items, rv))
        if verb == "deletecollection":
            matcher = make_matcher(query.get("labelSelector"), query.get("fieldSelector"))
            opts = DeleteOptions.parse(
                parse_body(raw, content_type), query, default=lifecycle.default_propagation(rt)
            )
            deleted = lifecycle.delete_collection(self.store, rt, ns, matcher, opts)
            return Reply(200, self._list(rt, deleted, self.store.resource_version))
        if verb == "create":
            if name is not None:
                raise method_not_allowed()
            return Reply(
                201, self.store.create(rt, ns, parse_body(raw, content_type), dry_run=dry_run)
            )
        assert name is not None
        if verb == "get":
            obj = self.store.get(rt, ns, name)
            if sub == "scale":
                return Reply(200, scale_of(rt, obj))
            if wants_table(accept):
                return Reply(200, self._table(rt, [obj], obj["metadata"]["resourceVersion"], query))
            return Reply(200, obj)
        if verb == "delete":
            if sub is not None:
                raise method_not_allowed()
            opts = DeleteOptions.parse(
                parse_body(raw, content_type), query, default=lifecycle.default_propagation(rt)
            )
            obj, removed = lifecycle.delete(self.store, rt, ns, name, opts)
            if removed and not rt.delete_returns_object:
                return Reply(200, _success_status(rt, obj))
            return Reply(200, obj)
        if verb == "update":
            body = parse_body(raw, content_type)
            if sub == "scale":
                return Reply(200, self._write_scale(rt, ns, name, lambda _scale: body, dry_run))
            return Reply(
                200, self.store.update(rt, ns, name, body, subresource=sub, dry_run=dry_run)
            )
        if verb == "patch":
            patcher = self._patcher(rt, sub, content_type, parse_body(raw, content_type))
            if sub == "scale":
                return Reply(200, self._write_scale(rt, ns, name, patcher, dry_run))
            return Reply(
                200, self.store.mutate(rt, ns, name, patcher, subresource=sub, dry_run=dry_run)
            )
        raise method_not_allowed()

    @staticmethod
    def _list(rt: ResourceType, items: list[JSON], rv: int) -> JSON:
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": {"resourceVersion": str(rv)},
            "items": items,
        }

    def _table(self, rt: ResourceType, items: list[JSON], rv: str, query: dict[str, str]) -> JSON:
        crd = None
        if rt.crd:
            crd_type = self.store.registry.lookup(
                "apiextensions.k8s.io", "v1", "customresourcedefinitions"
            )
            if crd_type is not None:
                crd = self.store.find(crd_type, None, f"{rt.plural}.{rt.group}")
        return to_table(rt, items, rv, query.get("includeObject", "Metadata"), crd)

    def _watch_plan(self, target: Target, query: dict[str, str]) -> WatchPlan:
        raw_rv = query.get("resourceVersion") or ""
        since: int | None = None
        if raw_rv not in ("", "0"):
            try:
                since = int(raw_rv)
            except ValueError:
                raise bad_request(f'invalid resource version "{raw_rv}"') from None
        timeout: float | None = None
        if query.get("timeoutSeconds"):
            try:
                timeout = float(query["timeoutSeconds"])
            except ValueError:
                raise bad_request("timeoutSeconds must be a number") from None
        return WatchPlan(
            rt=target.rt,
            namespace=target.namespace,
            name=target.name,
            matcher=make_matcher(query.get("labelSelector"), query.get("fieldSelector")),
            since=since,
            timeout=timeout,
            bookmarks=_truthy(query.get("allowWatchBookmarks")),
        )

    def _patcher(
        self, rt: ResourceType, sub: str | None, content_type: str, patch: Any
    ) -> Callable[[JSON], JSON]:
        media = content_type.split(";", maxsplit=1)[0].strip().lower()
        # Scale is a built-in type, so strategic merge works on /scale even for CRs.
        smp_ok = rt.strategic_merge or sub == "scale"
        accepted = [JSON_PATCH, MERGE_PATCH] + ([STRATEGIC_PATCH] if smp_ok else [])
        if media == JSON_PATCH:
            return lambda obj: apply_json_patch(obj, patch)
        if media == MERGE_PATCH:
            if not isinstance(patch, dict):
                raise bad_request("merge patch must be a JSON object")
            return lambda obj: apply_merge_patch(obj, patch)
        if media == STRATEGIC_PATCH and smp_ok:
            return lambda obj: apply_strategic_merge_patch(obj, patch)
        raise unsupported_media_type(media, accepted)

    def _write_scale(
        self,
        rt: ResourceType,
        ns: str | None,
        name: str,
        change: Callable[[JSON], Any],
        dry_run: bool,
    ) -> JSON:
        paths = rt.scale
        assert paths is not None

        def apply(current: JSON) -> JSON:
            scale = change(scale_of(rt, current))
            replicas = (
                (scale.get("spec") or {}).get("replicas") if isinstance(scale, dict) else None
            )
            if not isinstance(replicas, int) or isinstance(replicas, bool) or replicas < 0:
                raise invalid(
                    "autoscaling", "Scale", name, [("spec.replicas", "Invalid value: must be >= 0")]
                )
            new = copy.deepcopy(current)
            set_path(new, paths.spec_replicas, replicas)
            wanted = (scale.get("metadata") or {}).get("resourceVersion")
            if wanted:
                new["metadata"]["resourceVersion"] = wanted  # the store turns a mismatch into 409
            return new

        obj = self.store.mutate(rt, ns, name, apply, dry_run=dry_run)
        return scale_of(rt, obj)
