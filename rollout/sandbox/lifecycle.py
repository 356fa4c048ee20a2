"""Deletion semantics: finalizers, owner-reference garbage collection, namespace teardown.

Owns what happens between "DELETE was called" and "the object is gone":
objects with ``metadata.finalizers`` get a ``deletionTimestamp`` and stay
until an update empties the list; removing an object deletes its dependents
(``ownerReferences``) unless they still have a live owner; Foreground
deletion holds the owner (``foregroundDeletion`` finalizer) until dependents
are gone; Orphan strips the owner references instead. The real garbage
collector and namespace controller do this asynchronously; we do it
synchronously inside the triggering request, which is within "eventually".
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from . import objects
from .errors import ApiError, conflict, not_found
from .resources import ResourceType

if TYPE_CHECKING:
    from .store import Store

JSON = dict[str, Any]
FOREGROUND = "foregroundDeletion"


@dataclass(frozen=True)
class DeleteOptions:
    propagation: str = "Background"  # Background | Foreground | Orphan
    precondition_uid: str | None = None
    precondition_rv: str | None = None
    dry_run: bool = False

    @staticmethod
    def parse(body: Any, query: dict[str, str], *, default: str = "Background") -> DeleteOptions:
        """``default``: the policy when the request names none (see default_propagation)."""
        body = body if isinstance(body, dict) else {}
        policy = query.get("propagationPolicy") or body.get("propagationPolicy")
        orphan = query.get("orphanDependents")
        if orphan is None:
            orphan = body.get("orphanDependents")
        if policy is None and orphan is not None:
            policy = "Orphan" if str(orphan).lower() == "true" else "Background"
        if policy is None:
            policy = default
        if policy not in ("Background", "Foreground", "Orphan"):
            raise ApiError(
                422,
                f'Unsupported value: "{policy}": '
                'supported values: "Foreground", "Background", "Orphan"',
            )
        pre = body.get("preconditions") or {}
        dry = query.get("dryRun") or body.get("dryRun")
        return DeleteOptions(
            propagation=policy,
            precondition_uid=pre.get("uid"),
            precondition_rv=pre.get("resourceVersion"),
            dry_run=bool(dry),
        )


def default_propagation(rt: ResourceType) -> str:
    """What a DELETE naming no policy does with dependents. batch/v1 Jobs orphan their Pods
    (kept upstream for compatibility: the Job docs warn about it, and kubectl always sends
    Background), so a client that wants a Job's Pods gone must say so; every other kind we
    serve deletes dependents in the background."""
    if (rt.group, rt.version, rt.plural) == ("batch", "v1", "jobs"):
        return "Orphan"
    return "Background"


def _type_of(store: Store, storage_key: str) -> ResourceType | None:
    rts = store.registry.by_storage_key(storage_key)
    return rts[0] if rts else None


def delete(
    store: Store, rt: ResourceType, namespace: str | None, name: str, opts: DeleteOptions
) -> tuple[JSON, bool]:
    """DELETE one object. Returns (object, removed_now)."""
    with store.lock:
        old = store.find(rt, namespace, name)
        if old is None:
            raise not_found(rt.group, rt.plural, name)
        meta = old["metadata"]
        if opts.precondition_uid and opts.precondition_uid != meta["uid"]:
            raise conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: UID in precondition: {opts.precondition_uid}, "
                f"UID in object meta: {meta['uid']}",
            )
        if opts.precondition_rv and opts.precondition_rv != meta["resourceVersion"]:
            raise conflict(
                rt.group,
                rt.plural,
                name,
                f"Precondition failed: ResourceVersion in precondition: {opts.precondition_rv}, "
                f"ResourceVersion in object meta: {meta['resourceVersion']}",
            )
        if opts.dry_run or meta.get("deletionTimestamp"):
            return old, False  # already terminating: deleting again changes nothing
        if rt.plural == "namespaces" and not rt.group:
            return _delete_namespace(store, rt, old)
        uid = meta["uid"]
        if opts.propagation == "Orphan":
            _orphan(store, uid)
        fins = objects.finalizers(old)
        foreground = opts.propagation == "Foreground" and bool(store.dependents(uid))
        if foreground and FOREGROUND not in fins:
            fins.append(FOREGROUND)
        if not fins:
            return store.remove(rt, old), True
        new = copy.deepcopy(old)
        new["metadata"]["deletionTimestamp"] = objects.now_rfc3339()
        new["metadata"]["deletionGracePeriodSeconds"] = 0
        new["metadata"]["finalizers"] = fins
        obj = store.commit(rt, "MODIFIED", new, old)
        if foreground:
            _collect(store, uid, only_orphaned=False)
            obj = store.find(rt, namespace, name) or obj
        return obj, False


def delete_collection(
    store: Store,
    rt: ResourceType,
    namespace: str | None,
    matcher: Callable[[JSON], bool],
    opts: DeleteOptions,
) -> list[JSON]:
    with store.lock:
        items, _ = store.select(rt, namespace, matcher)
        out = []
        for item in items:
            meta = item["metadata"]
            if store.find(rt, meta.get("namespace"), meta["name"]) is not None:
                out.append(delete(store, rt, meta.get("namespace"), meta["name"], opts)[0])
        return out


def _delete_namespace(store: Store, rt: ResourceType, old: JSON) -> tuple[JSON, bool]:
    ns = old["metadata"]["name"]
    new = copy.deepcopy(old)
    new["metadata"]["deletionTimestamp"] = objects.now_rfc3339()
    new.setdefault("status", {})["phase"] = "Terminating"
    store.commit(rt, "MODIFIED", new, old)
    seen: set[str] = set()
    for t in store.registry.all():
        if not t.namespaced or t.storage_key in seen:
            continue
        seen.add(t.storage_key)
        for (obj_ns, name), obj in store.objects_of(t.storage_key):
            # Re-check: deleting one object can cascade to others in the snapshot.
            pending = obj_ns == ns and not obj["metadata"].get("deletionTimestamp")
            if pending and store.find(t, ns, name) is not None:
                delete(store, t, ns, name, DeleteOptions())
    current = store.find(rt, None, ns)
    if current is None:
        return new, True  # emptied and removed by after_remove()
    if store.namespace_count(ns) == 0:
        return store.remove(rt, current), True
    return current, False


def _orphan(store: Store, owner_uid: str) -> None:
    for key, ns, name in store.dependents(owner_uid):
        dep_rt = _type_of(store, key)
        if dep_rt is None:
            continue

        def strip(obj: JSON, uid: str = owner_uid) -> JSON:
            new = copy.deepcopy(obj)
            refs = [r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") != uid]
            new["metadata"]["ownerReferences"] = refs
            if not refs:
                del new["metadata"]["ownerReferences"]
            return new

        store.mutate(dep_rt, ns or None, name, strip)


def _collect(store: Store, owner_uid: str, *, only_orphaned: bool = True) -> None:
    """Delete dependents of ``owner_uid`` that no longer have a live owner."""
    for key, ns, name in store.dependents(owner_uid):
        dep_rt = _type_of(store, key)
        dep = store.find(dep_rt, ns or None, name) if dep_rt is not None else None
        if dep_rt is None or dep is None:
            continue
        alive = [u for u in objects.owner_uids(dep) if store.lookup_uid(u) is not None]
        if only_orphaned and alive:
            # Still owned by someone: just drop the references to owners that are gone.
            def prune(obj: JSON, keep: list[str] = alive) -> JSON:
                new = copy.deepcopy(obj)
                new["metadata"]["ownerReferences"] = [
                    r for r in new["metadata"].get("ownerReferences") or [] if r.get("uid") in keep
                ]
                return new

            store.mutate(dep_rt, ns or None, name, prune)
        elif not dep["metadata"].get("deletionTimestamp"):
            delete(store, dep_rt, ns or None, name, DeleteOptions())


def after_remove(store: Store, rt: ResourceType, final: JSON) -> None:
    """Run the garbage collector and namespace controller steps an object's removal triggers."""
    meta = final["metadata"]
    _collect(store, meta["uid"])
    for owner_uid in objects.owner_uids(final):
        found = store.lookup_uid(owner_uid)
        if found is None:
            continue
        owner_rt, owner = found
        ometa = owner["metadata"]
        waiting = ometa.get("deletionTimestamp") and FOREGROUND in objects.finalizers(owner)
        if waiting and not store.dependents(owner_uid):

            def release(obj: JSON) -> JSON:
                new = copy.deepcopy(obj)
                new["metadata"]["finalizers"] = [
                    f for f in objects.finalizers(obj) if f != FOREGROUND
                ]
                return new

            store.mutate(owner_rt, ometa.get("namespace"), ometa["name"], release)
    ns = meta.get("namespace")
    if ns and rt.namespaced:
        ns_rt = store.registry.lookup("", "v1", "namespaces")
        ns_obj = store.find(ns_rt, None, ns) if ns_rt else None
        if (
            ns_rt
            and ns_obj
            and ns_obj["metadata"].get("deletionTimestamp")
            and store.namespace_count(ns) == 0
        ):
            store.remove(ns_rt, ns_obj)


def drop_custom_resource(store: Store, storage_key: str) -> None:
    """The CRD is gone: its objects go with it and the type stops being served."""
    store.purge(storage_key)
    store.registry.unregister_storage(storage_key)
