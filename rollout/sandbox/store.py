"""The object store: every read and write of sandbox objects goes through here.

Owns the global resourceVersion counter, create/update/delete semantics
(optimistic concurrency, generation, status isolation, finalizers), and
publishing committed changes to the watch hub. One re-entrant lock guards
everything; stored dicts are never mutated after commit (each write builds a
new dict), so readers and watch streams can serialize them without copying.
Garbage collection and namespace teardown live in :mod:`.lifecycle`.
"""

from __future__ import annotations

import copy
import random
import threading
import uuid
from collections import Counter
from collections.abc import Callable, Iterable
from typing import Any

from . import crds, lifecycle, objects
from .errors import ApiError, already_exists, conflict, forbidden, internal, invalid, not_found
from .patch import json_equal
from .resources import Registry, ResourceType
from .watch import Watcher, WatchEvent, WatchHub

JSON = dict[str, Any]
ObjKey = tuple[str, str]  # (namespace or "", name)
Ref = tuple[str, str, str]  # (storage key, namespace or "", name)
Listener = Callable[[str, str, JSON], None]

_NAME_SUFFIX_CHARS = "bcdfghjklmnpqrstvwxz2456789"  # utilrand.String's alphabet
INITIAL_NAMESPACES = ("default", "kube-system", "kube-public", "kube-node-lease")


class Store:
    def __init__(self, registry: Registry, hub: WatchHub) -> None:
        self.lock = threading.RLock()
        self.registry = registry
        self.hub = hub
        self._rv = 0
        self._data: dict[str, dict[ObjKey, JSON]] = {}
        self._by_uid: dict[str, Ref] = {}
        self._dependents: dict[str, set[Ref]] = {}  # owner uid -> dependents
        self._ns_count: Counter[str] = Counter()
        self._listeners: list[Listener] = []
        ns_type = registry.lookup("", "v1", "namespaces")
        assert ns_type is not None
        for ns in INITIAL_NAMESPACES:
            self.create(ns_type, None, {"metadata": {"name": ns}})

    # ---- reads ---------------------------------------------------------
    @property
    def resource_version(self) -> int:
        with self.lock:
            return self._rv

    def add_listener(self, fn: Listener) -> None:
        """Call ``fn(storage_key, event_type, obj)`` after each commit.

        It runs under the store lock, so it must be tiny (e.g. set an Event).
        """
        self._listeners.append(fn)

    def find(self, rt: ResourceType, namespace: str | None, name: str) -> JSON | None:
        with self.lock:
            return self._data.get(rt.storage_key, {}).get((namespace or "", name))

    def get(self, rt: ResourceType, namespace: str | None, name: str) -> JSON:
        obj = self.find(rt, namespace, name)
        if obj is None:
            raise not_found(rt.group, rt.plural, name)
        return self.as_version(rt, obj)

    def select(
        self, rt: ResourceType, namespace: str | None, matcher: Callable[[JSON], bool]
    ) -> tuple[list[JSON], int]:
        with self.lock:
            items = [
                self.as_version(rt, o)
                for (ns, _), o in sorted(self._data.get(rt.storage_key, {}).items())
                if (namespace is None or ns == namespace) and matcher(o)
            ]
            return items, self._rv

    def objects_of(self, key: str) -> list[tuple[ObjKey, JSON]]:
        with self.lock:
            return sorted(self._data.get(key, {}).items())

    def lookup_uid(self, uid: str) -> tuple[ResourceType, JSON] | None:
        with self.lock:
            ref = self._by_uid.get(uid)
            if ref is None:
                return None
            rts = self.registry.by_storage_key(ref[0])
            obj = self._data.get(ref[0], {}).get((ref[1], ref[2]))
            return (rts[0], obj) if rts and obj is not None else None

    def dependents(self, uid: str) -> list[Ref]:
        with self.lock:
            return sorted(self._dependents.get(uid, ()))

    def namespace_count(self, namespace: str) -> int:
        with self.lock:
            return self._ns_count[namespace]

    @staticmethod
    def as_version(rt: ResourceType, obj: JSON) -> JSON:
        """Versions share storage; a CR read through another version just gets relabelled."""
        if obj.get("apiVersion") == rt.api_version:
            return obj
        return {**obj, "apiVersion": rt.api_version}

    # ---- writes --------------------------------------------------------
    def create(
        self, rt: ResourceType, namespace: str | None, body: Any, *, dry_run: bool = False
    ) -> JSON:
        obj = objects.require_object(copy.deepcopy(body))
        meta = obj["metadata"]
        with self.lock:
            self._place(rt, namespace, obj)
            if not meta.get("name"):
                if not meta.get("generateName"):
                    raise invalid(
                        rt.group,
                        rt.kind,
                        "",
                        [("metadata.name", "Required value: name or generateName is required")],
                    )
                meta["name"] = meta["generateName"] + "".join(
                    random.choices(_NAME_SUFFIX_CHARS, k=5)
                )
            objects.validate_name(rt, meta["name"])
            if meta.get("resourceVersion"):
                raise internal("resourceVersion should not be set on objects to be created")
            if self.find(rt, namespace, meta["name"]) is not None:
                raise already_exists(rt.group, rt.plural, meta["name"])
            if rt.namespaced:
                ns = self._data.get("namespaces", {}).get(("", namespace or ""))
                if ns is None:
                    raise not_found("", "namespaces", namespace or "")
                if ns["metadata"].get("deletionTimestamp"):
                    raise forbidden(
                        f'{rt.plural} "{meta["name"]}" is forbidden: '
                        "unable to create new content in "
                        f"namespace {namespace} because it is being terminated"
                    )
            for field in objects.SERVER_MANAGED:
                meta.pop(field, None)
            meta["uid"] = str(uuid.uuid4())
            meta["creationTimestamp"] = objects.now_rfc3339()
            meta["generation"] = 1
            if rt.status:
                obj.pop("status", None)  # status is reset on create when it is a subresource
            self._prepare(rt, None, obj)
            if dry_run:
                return obj
            created = self.commit(rt, "ADDED", obj, None)
            if rt.group == "" and rt.plural == "namespaces":
                self._default_service_account(meta["name"])
            return created

    def _default_service_account(self, namespace: str) -> None:
        """Kubernetes' service-account controller gives every namespace a `default`
        ServiceAccount (asynchronously there; at once here). Pods without serviceAccountName
        use it, so checks that a pod's ServiceAccount exists must find it."""
        sa_type = self.registry.lookup("", "v1", "serviceaccounts")
        if sa_type is not None:
            self.create(sa_type, namespace, {"metadata": {"name": "default"}})

    def update(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> JSON:
        with self.lock:
            old = self.find(rt, namespace, name)
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            return self._update(
                rt, old, objects.require_object(copy.deepcopy(body)), subresource, dry_run
            )

    def mutate(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        fn: Callable[[JSON], JSON],
        *,
        subresource: str | None = None,
        dry_run: bool = False,
    ) -> JSON:
        """Read-modify-write under the lock (PATCH, scale, controllers).

        ``fn`` gets the stored object and must return a new one without mutating it.
        """
        with self.lock:
            old = self.find(rt, namespace, name)
            if old is None:
                raise not_found(rt.group, rt.plural, name)
            new = objects.require_object(fn(self.as_version(rt, old)))
            return self._update(rt, old, new, subresource, dry_run)

    def _update(
        self, rt: ResourceType, old: JSON, new: JSON, subresource: str | None, dry_run: bool
    ) -> JSON:
        ometa, meta = old["metadata"], new["metadata"]
        name = ometa["name"]
        if meta.get("name", name) != name:
            raise ApiError(
                400,
                f"the name of the object ({meta.get('name')}) does not match "
                f"the name on the URL ({name})",
            )
        self._place(rt, ometa.get("namespace"), new)
        meta["name"] = name
        wanted = meta.get("resourceVersion")
        if wanted and str(wanted) != ometa["resourceVersion"]:
            raise conflict(rt.group, rt.plural, name)
        if meta.get("uid") and meta["uid"] != ometa["uid"]:
            raise conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {meta['uid']}, "
                f"UID in object meta: {ometa['uid']}",
            )
        if subresource == "status":
            # Status writes change .status and nothing else.
            status = new.get("status")
            new = copy.deepcopy(old)
            new.pop("status", None)
            if status is not None:
                new["status"] = status
            meta = new["metadata"]
        else:
            for field in objects.SERVER_MANAGED:
                meta.pop(field, None)
                if field in ometa:
                    meta[field] = ometa[field]
            if rt.status:
                new.pop("status", None)
                if "status" in old:
                    new["status"] = copy.deepcopy(old["status"])
            if ometa.get("deletionTimestamp"):
                added = set(objects.finalizers(new)) - set(objects.finalizers(old))
                if added:
                    raise invalid(
                        rt.group,
                        rt.kind,
                        name,
                        [
                            (
                                "metadata.finalizers",
                                "Forbidden: no new finalizers can be added "
                                "if the object is being deleted",
                            )
                        ],
                    )
            objects.apply_defaults(rt, new)  # before comparing: omitted defaults are no change
            if objects.generation_changed(rt, old, new):
                meta["generation"] = int(ometa.get("generation", 1)) + 1
        meta["resourceVersion"] = ometa["resourceVersion"]
        self._prepare(rt, old, new, validate=subresource != "status")
        if json_equal(new, old):
            return old  # no-op writes do not bump resourceVersion or emit events
        if dry_run:
            return new
        if meta.get("deletionTimestamp") and not objects.finalizers(new):
            return self.remove(rt, new)
        return self.commit(rt, "MODIFIED", new, old)

    def _place(self, rt: ResourceType, namespace: str | None, obj: JSON) -> None:
        meta = obj["metadata"]
        obj["kind"], obj["apiVersion"] = rt.kind, rt.api_version
        if rt.namespaced:
            given = meta.get("namespace")
            if given and given != namespace:
                raise ApiError(
                    400,
                    "the namespace of the provided object does not match "
                    "the namespace sent on the request",
                )
            meta["namespace"] = namespace
        else:
            meta.pop("namespace", None)

    def _prepare(
        self, rt: ResourceType, old: JSON | None, new: JSON, *, validate: bool = True
    ) -> None:
        if rt.storage_key == crds.CRD_STORAGE_KEY:
            crds.validate_crd(new)
            new["status"] = crds.crd_status(new, (old or {}).get("status"))
            if old is not None and crds.storage_key_of(old) != crds.storage_key_of(new):
                raise invalid(
                    rt.group,
                    rt.kind,
                    new["metadata"]["name"],
                    [("spec.names", "field is immutable")],
                )
        if validate:
            objects.apply_defaults(rt, new)
            objects.validate(rt, new, old)

    def commit(self, rt: ResourceType, type_: str, obj: JSON, old: JSON | None) -> JSON:
        """Assign the next resourceVersion, store, index, publish (no rules applied).

        For callers that already enforced the write rules; hold ``self.lock``.
        """
        self._rv += 1
        obj["metadata"]["resourceVersion"] = str(self._rv)
        meta = obj["metadata"]
        key = (meta.get("namespace") or "", meta["name"])
        ref = (rt.storage_key, key[0], key[1])
        self._data.setdefault(rt.storage_key, {})[key] = obj
        if old is None:
            self._ns_count[key[0]] += 1
        self._by_uid[meta["uid"]] = ref
        self._reindex_owners(ref, old, obj)
        if rt.storage_key == crds.CRD_STORAGE_KEY:
            self.registry.replace_custom(crds.storage_key_of(obj), crds.crd_types(obj))
        self._publish(rt, type_, obj, old)
        return obj

    def _reindex_owners(self, ref: Ref, old: JSON | None, new: JSON | None) -> None:
        for uid in objects.owner_uids(old or {}):
            deps = self._dependents.get(uid)
            if deps is not None:
                deps.discard(ref)
                if not deps:
                    del self._dependents[uid]
        for uid in objects.owner_uids(new or {}):
            self._dependents.setdefault(uid, set()).add(ref)

    def _publish(self, rt: ResourceType, type_: str, obj: JSON, prev: JSON | None) -> None:
        self.hub.publish(rt.storage_key, WatchEvent(self._rv, type_, obj, prev))
        for fn in self._listeners:
            fn(rt.storage_key, type_, obj)

    def remove(self, rt: ResourceType, obj: JSON) -> JSON:
        """Physically delete: DELETED event with the final state at a new resourceVersion."""
        with self.lock:
            meta = obj["metadata"]
            key = (meta.get("namespace") or "", meta["name"])
            current = self._data.get(rt.storage_key, {}).pop(key, None)
            if current is None:
                return obj
            self._ns_count[key[0]] -= 1
            self._by_uid.pop(meta["uid"], None)
            self._reindex_owners((rt.storage_key, *key), current, None)
            final = copy.deepcopy(obj)
            self._rv += 1
            final["metadata"]["resourceVersion"] = str(self._rv)
            self._publish(rt, "DELETED", final, None)
            if rt.storage_key == crds.CRD_STORAGE_KEY:
                lifecycle.drop_custom_resource(self, crds.storage_key_of(final))
            lifecycle.after_remove(self, rt, final)
            return final

    def purge(self, key: str) -> None:
        """Remove a whole storage key (its CRD was deleted): DELETED events, GC of dependents."""
        with self.lock:
            rts = self.registry.by_storage_key(key)
            for _, obj in sorted(self._data.get(key, {}).items()):
                if rts:
                    self.remove(rts[0], obj)
            self._data.pop(key, None)
            self.hub.forget(key, self._rv)

    # ---- watch ---------------------------------------------------------
    def watch(self, rt: ResourceType, watcher: Watcher, since: int | None) -> None:
        with self.lock:
            current: Iterable[JSON] = [
                self.as_version(rt, o)
                for _, o in sorted(self._data.get(rt.storage_key, {}).items())
            ]
            self.hub.subscribe(watcher, since, current)

    def bookmark_rv(self, watcher: Watcher) -> int | None:
        """Current rv if ``watcher`` has seen every event up to it (else None: try later)."""
        with self.lock:
            return self._rv if watcher.idle() else None
