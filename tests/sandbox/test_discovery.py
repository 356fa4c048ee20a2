"""Discovery: /version, /api, /apis, groups and resource lists.

Expected behaviour: API concepts / "Discovery API" (APIVersions, APIGroupList,
APIGroup, APIResourceList with name, singularName, namespaced, kind, verbs,
shortNames and subresources listed as "resource/subresource").
"""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes import client
from kubernetes.dynamic import DynamicClient

from .helpers import raw_get


@pytest.mark.parametrize("slash", ["", "/"])
def test_discovery_paths_with_and_without_trailing_slash(api: client.ApiClient, slash: str) -> None:
    code, versions = raw_get(api, "/api" + slash)
    assert code == 200 and versions["kind"] == "APIVersions" and versions["versions"] == ["v1"]
    code, core_list = raw_get(api, "/api/v1" + slash)
    assert (
        code == 200 and core_list["kind"] == "APIResourceList" and core_list["groupVersion"] == "v1"
    )
    code, groups = raw_get(api, "/apis" + slash)
    assert code == 200 and groups["kind"] == "APIGroupList"
    names = {g["name"] for g in groups["groups"]}
    assert {
        "apps",
        "batch",
        "coordination.k8s.io",
        "events.k8s.io",
        "apiextensions.k8s.io",
    } <= names
    code, apps_group = raw_get(api, "/apis/apps" + slash)
    assert code == 200 and apps_group["kind"] == "APIGroup"
    assert apps_group["preferredVersion"] == {"groupVersion": "apps/v1", "version": "v1"}
    code, apps_list = raw_get(api, "/apis/apps/v1" + slash)
    assert code == 200 and apps_list["groupVersion"] == "apps/v1"
    code, version = raw_get(api, "/version" + slash)
    assert code == 200 and version["major"] == "1"


def test_resource_entries(api: client.ApiClient) -> None:
    _, apps_list = raw_get(api, "/apis/apps/v1")
    entries = {r["name"]: r for r in apps_list["resources"]}
    deploy = entries["deployments"]
    assert deploy["singularName"] == "deployment"
    assert deploy["namespaced"] is True
    assert deploy["kind"] == "Deployment"
    assert deploy["shortNames"] == ["deploy"]
    assert {"get", "list", "watch", "create", "update", "patch", "delete"} <= set(deploy["verbs"])
    assert set(entries["deployments/status"]["verbs"]) == {"get", "patch", "update"}
    scale = entries["deployments/scale"]
    assert (scale["group"], scale["version"], scale["kind"]) == ("autoscaling", "v1", "Scale")
    _, core_list = raw_get(api, "/api/v1")
    core = {r["name"]: r for r in core_list["resources"]}
    assert core["namespaces"]["namespaced"] is False
    assert {"services", "events", "configmaps", "secrets", "pods", "serviceaccounts"} <= set(core)


def test_unknown_paths_are_404(api: client.ApiClient) -> None:
    for path in ("/apis/nope.example.com", "/apis/apps/v9", "/api/v1/widgets", "/nonsense"):
        code, body = raw_get(api, path)
        assert code == 404, path
        assert body["kind"] == "Status" and body["reason"] == "NotFound"


def test_typed_discovery_clients(api: client.ApiClient) -> None:
    assert client.VersionApi(api).get_code().git_version.startswith("v1.")
    assert client.CoreApi(api).get_api_versions().versions == ["v1"]
    groups = client.ApisApi(api).get_api_versions()
    assert "apps" in {g.name for g in groups.groups}
    resources = client.AppsV1Api(api).get_api_resources()
    assert "deployments" in {r.name for r in resources.resources}


def test_dynamic_client_uses_discovery(api: client.ApiClient, ns: str, tmp_path: Path) -> None:
    dyn = DynamicClient(api, cache_file=str(tmp_path / "discovery.json"))
    configmaps = dyn.resources.get(api_version="v1", kind="ConfigMap")
    configmaps.create(body={"metadata": {"name": "dyn"}, "data": {"a": "b"}}, namespace=ns)
    got = configmaps.get(name="dyn", namespace=ns)
    assert got.data.a == "b"
