"""Deletion: finalizers, owner-reference garbage collection, namespace deletion.

Expected behaviour: "Finalizers" (DELETE sets deletionTimestamp and the
object stays until its finalizers are removed; no new finalizers once
deleting), "Owners and Dependents" / "Garbage Collection" (background and
foreground cascading deletion, Orphan policy, dependents with another live
owner survive), and "Namespaces" (deleting a namespace deletes everything in
it; creation in a terminating namespace is forbidden).
"""

from __future__ import annotations

import pytest
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from .helpers import configmap, deployment, wait_until


def _gone(fn, *args) -> bool:  # type: ignore[no-untyped-def]
    try:
        fn(*args)
    except ApiException as exc:
        return exc.status == 404
    return False


def owner_ref(obj: client.V1ConfigMap, kind: str = "ConfigMap", api_version: str = "v1") -> dict:
    return {
        "apiVersion": api_version,
        "kind": kind,
        "name": obj.metadata.name,
        "uid": obj.metadata.uid,
    }


def test_finalizer_blocks_deletion_until_removed(core: client.CoreV1Api, ns: str) -> None:
    # Finalizers: DELETE marks the object (deletionTimestamp), emits MODIFIED, keeps it until
    # the finalizer list is emptied, then it is removed with a DELETED event.
    created = core.create_namespaced_config_map(
        ns, configmap("fin", finalizers=["example.com/hold"])
    )
    core.delete_namespaced_config_map("fin", ns)
    marked = core.read_namespaced_config_map("fin", ns)
    assert marked.metadata.deletion_timestamp is not None
    assert marked.metadata.deletion_grace_period_seconds == 0
    assert marked.metadata.finalizers == ["example.com/hold"]
    # Deleting again changes nothing.
    core.delete_namespaced_config_map("fin", ns)
    assert (
        core.read_namespaced_config_map("fin", ns).metadata.resource_version
        == marked.metadata.resource_version
    )
    core.patch_namespaced_config_map(
        "fin", ns, {"metadata": {"finalizers": None}}, _content_type="application/merge-patch+json"
    )
    assert _gone(core.read_namespaced_config_map, "fin", ns)
    events = list(
        watch.Watch().stream(
            core.list_namespaced_config_map,
            ns,
            resource_version=created.metadata.resource_version,
            timeout_seconds=1,
        )
    )
    # Emptying the finalizers deletes in the same write: no intermediate MODIFIED.
    assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
    assert events[-1]["object"].metadata.deletion_timestamp is not None


def test_no_new_finalizers_while_deleting(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("fin2", finalizers=["example.com/a"]))
    core.delete_namespaced_config_map("fin2", ns)
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "fin2",
            ns,
            {"metadata": {"finalizers": ["example.com/a", "example.com/b"]}},
            _content_type="application/merge-patch+json",
        )
    assert err.value.status == 422


def test_delete_returns_status_or_object(
    apps: client.AppsV1Api, core: client.CoreV1Api, ns: str
) -> None:
    # API reference: DELETE of a Deployment answers a Success Status; Services (like Pods)
    # return the deleted object.
    apps.create_namespaced_deployment(ns, deployment("del"))
    status = apps.delete_namespaced_deployment("del", ns)
    assert status["kind"] == "Status" and status["status"] == "Success"
    assert status["details"]["name"] == "del"
    core.create_namespaced_service(
        ns, {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}}
    )
    svc = core.delete_namespaced_service("svc", ns)
    assert svc.metadata.name == "svc"


def test_delete_preconditions(core: client.CoreV1Api, ns: str) -> None:
    # DeleteOptions.preconditions: a mismatching uid/resourceVersion is a 409 Conflict.
    cm = core.create_namespaced_config_map(ns, configmap("pre"))
    with pytest.raises(ApiException) as err:
        core.delete_namespaced_config_map("pre", ns, body={"preconditions": {"uid": "not-the-uid"}})
    assert err.value.status == 409
    core.delete_namespaced_config_map("pre", ns, body={"preconditions": {"uid": cm.metadata.uid}})
    assert _gone(core.read_namespaced_config_map, "pre", ns)


def test_background_cascade_deletes_dependents(core: client.CoreV1Api, ns: str) -> None:
    # Garbage collection: deleting an owner deletes objects whose ownerReferences name it.
    owner = core.create_namespaced_config_map(ns, configmap("owner"))
    core.create_namespaced_config_map(ns, configmap("child", ownerReferences=[owner_ref(owner)]))
    child = core.read_namespaced_config_map("child", ns)
    core.create_namespaced_config_map(
        ns, configmap("grandchild", ownerReferences=[owner_ref(child)])
    )
    core.delete_namespaced_config_map("owner", ns)
    wait_until(lambda: _gone(core.read_namespaced_config_map, "child", ns))
    wait_until(lambda: _gone(core.read_namespaced_config_map, "grandchild", ns))


def test_cascade_honours_dependent_finalizers(core: client.CoreV1Api, ns: str) -> None:
    owner = core.create_namespaced_config_map(ns, configmap("o"))
    core.create_namespaced_config_map(
        ns, configmap("held", ownerReferences=[owner_ref(owner)], finalizers=["example.com/x"])
    )
    core.delete_namespaced_config_map("o", ns)
    held = wait_until(
        lambda: core.read_namespaced_config_map("held", ns).metadata.deletion_timestamp
    )
    assert held is not None


def test_orphan_policy_keeps_dependents(core: client.CoreV1Api, ns: str) -> None:
    # Garbage collection: propagationPolicy=Orphan leaves dependents (without the owner ref).
    owner = core.create_namespaced_config_map(ns, configmap("parent"))
    core.create_namespaced_config_map(ns, configmap("orphan", ownerReferences=[owner_ref(owner)]))
    core.delete_namespaced_config_map("parent", ns, propagation_policy="Orphan")
    assert _gone(core.read_namespaced_config_map, "parent", ns)
    kept = core.read_namespaced_config_map("orphan", ns)
    assert not kept.metadata.owner_references


def test_dependent_with_another_live_owner_survives(core: client.CoreV1Api, ns: str) -> None:
    a = core.create_namespaced_config_map(ns, configmap("owner-a"))
    b = core.create_namespaced_config_map(ns, configmap("owner-b"))
    core.create_namespaced_config_map(
        ns, configmap("shared", ownerReferences=[owner_ref(a), owner_ref(b)])
    )
    core.delete_namespaced_config_map("owner-a", ns)
    shared = core.read_namespaced_config_map("shared", ns)
    assert [r.uid for r in shared.metadata.owner_references] == [b.metadata.uid]
    core.delete_namespaced_config_map("owner-b", ns)
    wait_until(lambda: _gone(core.read_namespaced_config_map, "shared", ns))


def test_foreground_deletion_waits_for_dependents(core: client.CoreV1Api, ns: str) -> None:
    # Foreground cascading deletion: the owner gets deletionTimestamp and the
    # foregroundDeletion finalizer and is removed only after its dependents are gone.
    owner = core.create_namespaced_config_map(ns, configmap("fg"))
    core.create_namespaced_config_map(
        ns, configmap("fg-child", ownerReferences=[owner_ref(owner)], finalizers=["example.com/x"])
    )
    core.delete_namespaced_config_map("fg", ns, propagation_policy="Foreground")
    waiting = core.read_namespaced_config_map("fg", ns)
    assert waiting.metadata.deletion_timestamp is not None
    assert "foregroundDeletion" in waiting.metadata.finalizers
    core.patch_namespaced_config_map(
        "fg-child",
        ns,
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    wait_until(lambda: _gone(core.read_namespaced_config_map, "fg-child", ns))
    wait_until(lambda: _gone(core.read_namespaced_config_map, "fg", ns))


def test_cluster_scoped_owner_of_namespaced_dependent(core: client.CoreV1Api, ns: str) -> None:
    owner = core.read_namespace(ns)
    dep_ref = {"apiVersion": "v1", "kind": "Namespace", "name": ns, "uid": owner.metadata.uid}
    core.create_namespaced_config_map(ns, configmap("owned-by-ns", ownerReferences=[dep_ref]))
    core.delete_namespace(ns)
    wait_until(lambda: _gone(core.read_namespace, ns))


def test_namespace_delete_removes_contents(
    core: client.CoreV1Api, apps: client.AppsV1Api, ns: str
) -> None:
    # Namespaces: deleting a namespace deletes all objects in it, then the namespace.
    core.create_namespaced_config_map(ns, configmap("in-ns"))
    apps.create_namespaced_deployment(ns, deployment("in-ns"))
    core.delete_namespace(ns)
    wait_until(lambda: _gone(core.read_namespace, ns))
    assert core.list_namespaced_config_map(ns).items == []
    assert apps.list_namespaced_deployment(ns).items == []


def test_terminating_namespace_rejects_new_objects(core: client.CoreV1Api, ns: str) -> None:
    # Namespaces: while Terminating (contents with finalizers remain), creates are forbidden.
    core.create_namespaced_config_map(ns, configmap("blocker", finalizers=["example.com/x"]))
    core.delete_namespace(ns)
    terminating = core.read_namespace(ns)
    assert terminating.status.phase == "Terminating"
    assert terminating.metadata.deletion_timestamp is not None
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, configmap("late"))
    assert err.value.status == 403
    core.patch_namespaced_config_map(
        "blocker",
        ns,
        {"metadata": {"finalizers": None}},
        _content_type="application/merge-patch+json",
    )
    wait_until(lambda: _gone(core.read_namespace, ns))
