"""CustomResourceDefinitions: registration, custom objects, their subresources.

Expected behaviour: "Extend the Kubernetes API with CustomResourceDefinitions"
(Established condition, served immediately, status and scale subresources,
deleting a CRD deletes its objects) and the patch docs (strategic merge
patch is not supported for custom resources: 415).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .conftest import unique
from .helpers import crd, raw_get, status_of


@pytest.fixture
def group(ext: client.ApiextensionsV1Api) -> Iterator[str]:
    """A CRD 'widgets' in a fresh API group, with status and scale subresources."""
    name = f"{unique('g')}.example.com"
    created = ext.create_custom_resource_definition(crd(name, "widgets", "Widget"))
    assert created.metadata.name == f"widgets.{name}"
    yield name


def widget(name: str, replicas: int = 1, **extra: object) -> dict:
    return {
        "apiVersion": "",  # filled in by the caller's group
        "kind": "Widget",
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "color": "red"},
        **extra,
    }


def _create(custom: client.CustomObjectsApi, group: str, ns: str, body: dict) -> dict:
    body["apiVersion"] = f"{group}/v1"
    return custom.create_namespaced_custom_object(group, "v1", ns, "widgets", body)


def test_crd_is_established_and_discoverable(
    ext: client.ApiextensionsV1Api, api: client.ApiClient, group: str
) -> None:
    # CRD docs: the Established condition becomes True once the API is served.
    got = ext.read_custom_resource_definition(f"widgets.{group}")
    conditions = {c.type: c.status for c in got.status.conditions}
    assert conditions["Established"] == "True"
    assert got.status.accepted_names.kind == "Widget"
    assert got.status.stored_versions == ["v1"]
    code, resources = raw_get(api, f"/apis/{group}/v1")
    assert code == 200
    entries = {r["name"]: r for r in resources["resources"]}
    assert set(entries) == {"widgets", "widgets/status", "widgets/scale"}
    assert entries["widgets"]["namespaced"] is True
    assert entries["widgets"]["kind"] == "Widget"
    assert entries["widgets"]["shortNames"] == ["wid"]
    code, groups = raw_get(api, "/apis")
    assert group in {g["name"] for g in groups["groups"]}


def test_custom_object_crud(custom: client.CustomObjectsApi, group: str, ns: str) -> None:
    # Custom objects get the same metadata handling as built-ins.
    obj = _create(custom, group, ns, widget("w1"))
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["uid"]
    got = custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    assert got["spec"] == {"replicas": 1, "color": "red"}
    patched = custom.patch_namespaced_custom_object(
        group, "v1", ns, "widgets", "w1", {"spec": {"color": "blue"}}
    )  # merge patch is the client's default for custom objects
    assert patched["spec"] == {"replicas": 1, "color": "blue"}
    assert patched["metadata"]["generation"] == 2
    listed = custom.list_namespaced_custom_object(group, "v1", ns, "widgets")
    assert listed["kind"] == "WidgetList"
    assert [i["metadata"]["name"] for i in listed["items"]] == ["w1"]
    deleted = custom.delete_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    assert deleted["metadata"]["name"] == "w1"  # custom resources return the deleted object
    with pytest.raises(ApiException) as err:
        custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "w1")
    assert err.value.status == 404
    assert status_of(err.value)["message"] == f'widgets.{group} "w1" not found'


def test_strategic_merge_patch_on_custom_resource_is_415(
    custom: client.CustomObjectsApi, group: str, ns: str
) -> None:
    # Patch docs: "strategic merge patch is not supported for custom resources".
    _create(custom, group, ns, widget("smp"))
    with pytest.raises(ApiException) as err:
        custom.patch_namespaced_custom_object(
            group,
            "v1",
            ns,
            "widgets",
            "smp",
            {"spec": {"color": "x"}},
            _content_type="application/strategic-merge-patch+json",
        )
    assert err.value.status == 415
    assert status_of(err.value)["reason"] == "UnsupportedMediaType"


def test_json_patch_on_custom_resource(
    custom: client.CustomObjectsApi, group: str, ns: str
) -> None:
    _create(custom, group, ns, widget("jp"))
    patched = custom.patch_namespaced_custom_object(
        group,
        "v1",
        ns,
        "widgets",
        "jp",
        [{"op": "replace", "path": "/spec/color", "value": "green"}],
        _content_type="application/json-patch+json",
    )
    assert patched["spec"]["color"] == "green"


def test_custom_status_subresource_isolation(
    custom: client.CustomObjectsApi, group: str, ns: str
) -> None:
    # CRD docs / status subresource: main-resource writes ignore status; /status writes
    # ignore everything else and do not bump generation.
    created = _create(custom, group, ns, widget("st", status={"phase": "Fake"}))
    assert "status" not in created
    custom.patch_namespaced_custom_object(
        group, "v1", ns, "widgets", "st", {"status": {"phase": "Ignored"}}
    )
    assert "status" not in custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "st")
    after = custom.patch_namespaced_custom_object_status(
        group,
        "v1",
        ns,
        "widgets",
        "st",
        {"spec": {"color": "ignored"}, "status": {"phase": "Ready", "replicas": 1}},
    )
    assert after["status"] == {"phase": "Ready", "replicas": 1}
    assert after["spec"]["color"] == "red"
    assert after["metadata"]["generation"] == 1


def test_custom_scale_subresource(custom: client.CustomObjectsApi, group: str, ns: str) -> None:
    # CRD docs / scale subresource: specReplicasPath, statusReplicasPath, labelSelectorPath.
    _create(custom, group, ns, widget("sc", replicas=2))
    custom.patch_namespaced_custom_object_status(
        group, "v1", ns, "widgets", "sc", {"status": {"replicas": 1, "selector": "app=sc"}}
    )
    scale = custom.get_namespaced_custom_object_scale(group, "v1", ns, "widgets", "sc")
    assert scale["kind"] == "Scale"
    assert scale["spec"] == {"replicas": 2}
    assert scale["status"] == {"replicas": 1, "selector": "app=sc"}
    custom.patch_namespaced_custom_object_scale(
        group, "v1", ns, "widgets", "sc", {"spec": {"replicas": 5}}
    )
    obj = custom.get_namespaced_custom_object(group, "v1", ns, "widgets", "sc")
    assert obj["spec"]["replicas"] == 5
    assert obj["metadata"]["generation"] == 2
    scale = custom.get_namespaced_custom_object_scale(group, "v1", ns, "widgets", "sc")
    scale["spec"]["replicas"] = 3
    replaced = custom.replace_namespaced_custom_object_scale(
        group, "v1", ns, "widgets", "sc", scale
    )
    assert replaced["spec"]["replicas"] == 3


def test_cluster_scoped_crd(
    ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi
) -> None:
    grp = f"{unique('c')}.example.com"
    ext.create_custom_resource_definition(
        crd(grp, "gadgets", "Gadget", scope="Cluster", status=False, scale=False)
    )
    body = {
        "apiVersion": f"{grp}/v1",
        "kind": "Gadget",
        "metadata": {"name": "g1"},
        "status": {"x": 1},
    }
    created = custom.create_cluster_custom_object(grp, "v1", "gadgets", body)
    assert "namespace" not in created["metadata"]
    # Without a status subresource, status is ordinary data.
    assert created["status"] == {"x": 1}
    assert custom.get_cluster_custom_object(grp, "v1", "gadgets", "g1")["metadata"]["name"] == "g1"


def test_deleting_crd_removes_objects_and_api(
    ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi, api: client.ApiClient, ns: str
) -> None:
    # CRD docs: deleting a CRD deletes its custom objects and removes the endpoint.
    grp = f"{unique('d')}.example.com"
    ext.create_custom_resource_definition(crd(grp, "widgets", "Widget"))
    _create(custom, grp, ns, widget("doomed"))
    ext.delete_custom_resource_definition(f"widgets.{grp}")
    with pytest.raises(ApiException) as err:
        custom.list_namespaced_custom_object(grp, "v1", ns, "widgets")
    assert err.value.status == 404
    code, _ = raw_get(api, f"/apis/{grp}/v1")
    assert code == 404
    # Re-creating the CRD starts empty.
    ext.create_custom_resource_definition(crd(grp, "widgets", "Widget"))
    assert custom.list_namespaced_custom_object(grp, "v1", ns, "widgets")["items"] == []


def test_invalid_crd_name_is_422(ext: client.ApiextensionsV1Api) -> None:
    # CRD docs: metadata.name must be <plural>.<group>.
    body = crd("x.example.com", "widgets", "Widget")
    body["metadata"]["name"] = "wrong.example.com"
    with pytest.raises(ApiException) as err:
        ext.create_custom_resource_definition(body)
    assert err.value.status == 422
