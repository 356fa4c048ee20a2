"""PATCH: JSON patch, merge patch, strategic merge patch, chosen by Content-Type.

Expected behaviour: Kubernetes "Update API Objects in Place Using kubectl
patch" task page, RFC 6902 / RFC 7386, and the strategic-merge-patch
design document (sig-api-machinery).
"""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import configmap, deployment, status_of

JSON_PATCH = "application/json-patch+json"
MERGE = "application/merge-patch+json"
SMP = "application/strategic-merge-patch+json"


def _pod_spec(apps: client.AppsV1Api, ns: str, name: str) -> dict:
    dep = apps.api_client.sanitize_for_serialization(apps.read_namespaced_deployment(name, ns))
    return dep["spec"]["template"]["spec"]


def test_json_patch_operations(core: client.CoreV1Api, ns: str) -> None:
    # RFC 6902: add, replace, remove, copy, move and a passing test op, applied in order.
    core.create_namespaced_config_map(
        ns, {"metadata": {"name": "jp"}, "data": {"a": "1", "b": "2"}}
    )
    ops = [
        {"op": "test", "path": "/data/a", "value": "1"},
        {"op": "add", "path": "/data/c", "value": "3"},
        {"op": "replace", "path": "/data/a", "value": "10"},
        {"op": "remove", "path": "/data/b"},
        {"op": "copy", "from": "/data/c", "path": "/data/d"},
        {"op": "move", "from": "/data/c", "path": "/data/e"},
        {"op": "add", "path": "/metadata/labels", "value": {"x/y": "z"}},
    ]
    cm = core.patch_namespaced_config_map("jp", ns, ops)
    assert cm.data == {"a": "10", "d": "3", "e": "3"}
    assert cm.metadata.labels == {"x/y": "z"}


def test_json_patch_array_append_and_escape(apps: client.AppsV1Api, ns: str) -> None:
    # RFC 6901/6902: "-" appends to an array; "~1" escapes "/" in a key.
    apps.create_namespaced_deployment(ns, deployment("jp-arr"))
    ops = [
        {
            "op": "add",
            "path": "/spec/template/spec/containers/-",
            "value": {"name": "b", "image": "i"},
        },
        {"op": "add", "path": "/metadata/annotations", "value": {}},
        {"op": "add", "path": "/metadata/annotations/example.com~1k", "value": "v"},
    ]
    dep = apps.patch_namespaced_deployment("jp-arr", ns, ops)
    assert [c.name for c in dep.spec.template.spec.containers] == ["app", "b"]
    assert dep.metadata.annotations == {"example.com/k": "v"}


def test_json_patch_failed_test_is_422_and_changes_nothing(core: client.CoreV1Api, ns: str) -> None:
    # kubectl patch --type=json with a failing "test" op: the API server answers 422 Invalid.
    before = core.create_namespaced_config_map(ns, configmap("jp-test"))
    ops = [
        {"op": "replace", "path": "/data/k", "value": "new"},
        {"op": "test", "path": "/data/k", "value": "something-else"},
    ]
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("jp-test", ns, ops)
    assert err.value.status == 422
    assert status_of(err.value)["reason"] == "Invalid"
    after = core.read_namespaced_config_map("jp-test", ns)
    assert after.data == {"k": "v"}
    assert after.metadata.resource_version == before.metadata.resource_version


def test_json_patch_missing_path_is_422(core: client.CoreV1Api, ns: str) -> None:
    # RFC 6902: replacing a path that does not exist is an error.
    core.create_namespaced_config_map(ns, configmap("jp-missing"))
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "jp-missing", ns, [{"op": "replace", "path": "/data/nope", "value": "x"}]
        )
    assert err.value.status == 422


def test_merge_patch_null_deletes_and_lists_replace(apps: client.AppsV1Api, ns: str) -> None:
    # RFC 7386: null removes a key; arrays are replaced wholesale.
    body = deployment("mp")
    body["metadata"]["labels"]["drop"] = "me"
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s"})
    apps.create_namespaced_deployment(ns, body)
    patch = {
        "metadata": {"labels": {"drop": None, "new": "1"}},
        "spec": {"template": {"spec": {"containers": [{"name": "only", "image": "o"}]}}},
    }
    dep = apps.patch_namespaced_deployment("mp", ns, patch, _content_type=MERGE)
    assert dep.metadata.labels == {"app": "mp", "new": "1"}
    assert [c.name for c in dep.spec.template.spec.containers] == ["only"]


def test_strategic_merge_merges_containers_by_name(apps: client.AppsV1Api, ns: str) -> None:
    # SMP: containers merge on "name"; a dict body is sent as strategic merge by the client.
    body = deployment("smp")
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s:1"})
    apps.create_namespaced_deployment(ns, body)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "side", "image": "s:2", "env": [{"name": "A", "value": "1"}]},
                        {"name": "extra", "image": "e"},
                    ]
                }
            }
        }
    }
    apps.patch_namespaced_deployment("smp", ns, patch, _content_type=SMP)
    containers = {c["name"]: c for c in _pod_spec(apps, ns, "smp")["containers"]}
    assert set(containers) == {"app", "side", "extra"}
    assert containers["app"]["image"] == "nginx:1"
    assert containers["side"]["image"] == "s:2"
    assert containers["side"]["env"] == [{"name": "A", "value": "1"}]


def test_strategic_merge_env_and_ports_merge_keys(apps: client.AppsV1Api, ns: str) -> None:
    # SMP: env merges on name, container ports on containerPort.
    body = deployment("smp-keys")
    container = body["spec"]["template"]["spec"]["containers"][0]
    container["env"] = [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]
    container["ports"] = [{"containerPort": 80, "name": "http"}]
    apps.create_namespaced_deployment(ns, body)
    patch = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {
                            "name": "app",
                            "env": [{"name": "B", "value": "changed"}],
                            "ports": [{"containerPort": 9090, "name": "metrics"}],
                        }
                    ]
                }
            }
        }
    }
    apps.patch_namespaced_deployment("smp-keys", ns, patch)
    c = _pod_spec(apps, ns, "smp-keys")["containers"][0]
    assert c["env"] == [{"name": "A", "value": "1"}, {"name": "B", "value": "changed"}]
    assert [p["containerPort"] for p in c["ports"]] == [80, 9090]


def test_strategic_merge_directives(apps: client.AppsV1Api, ns: str) -> None:
    # SMP directives: $patch: delete removes a keyed item; $patch: replace replaces a list.
    body = deployment("smp-dir")
    body["spec"]["template"]["spec"]["containers"].append({"name": "side", "image": "s"})
    apps.create_namespaced_deployment(ns, body)
    delete = {
        "spec": {"template": {"spec": {"containers": [{"name": "side", "$patch": "delete"}]}}}
    }
    apps.patch_namespaced_deployment("smp-dir", ns, delete)
    assert [c["name"] for c in _pod_spec(apps, ns, "smp-dir")["containers"]] == ["app"]
    replace = {
        "spec": {
            "template": {
                "spec": {"containers": [{"$patch": "replace"}, {"name": "fresh", "image": "f"}]}
            }
        }
    }
    apps.patch_namespaced_deployment("smp-dir", ns, replace)
    assert [c["name"] for c in _pod_spec(apps, ns, "smp-dir")["containers"]] == ["fresh"]
    replace_map = {"metadata": {"labels": {"$patch": "replace", "only": "this"}}}
    dep = apps.patch_namespaced_deployment("smp-dir", ns, replace_map)
    assert dep.metadata.labels == {"only": "this"}


def test_strategic_merge_lists_without_merge_key_are_replaced(
    apps: client.AppsV1Api, ns: str
) -> None:
    # SMP: lists without a patch strategy (e.g. container args) are replaced.
    body = deployment("smp-args")
    body["spec"]["template"]["spec"]["containers"][0]["args"] = ["a", "b"]
    apps.create_namespaced_deployment(ns, body)
    patch = {"spec": {"template": {"spec": {"containers": [{"name": "app", "args": ["c"]}]}}}}
    apps.patch_namespaced_deployment("smp-args", ns, patch)
    assert _pod_spec(apps, ns, "smp-args")["containers"][0]["args"] == ["c"]


def test_strategic_merge_finalizers_union(core: client.CoreV1Api, ns: str) -> None:
    # metadata.finalizers has patchStrategy merge: SMP adds to the list instead of replacing.
    core.create_namespaced_config_map(ns, configmap("fin-smp", finalizers=["a.example/one"]))
    cm = core.patch_namespaced_config_map(
        "fin-smp", ns, {"metadata": {"finalizers": ["b.example/two"]}}
    )
    assert cm.metadata.finalizers == ["a.example/one", "b.example/two"]
    core.patch_namespaced_config_map(
        "fin-smp", ns, {"metadata": {"finalizers": None}}, _content_type=MERGE
    )


def test_patch_with_stale_resource_version_is_409(core: client.CoreV1Api, ns: str) -> None:
    # API concepts: a patch that carries metadata.resourceVersion is a conditional update.
    cm = core.create_namespaced_config_map(ns, configmap("cond"))
    core.patch_namespaced_config_map("cond", ns, {"data": {"k": "2"}})
    stale = {"metadata": {"resourceVersion": cm.metadata.resource_version}, "data": {"k": "3"}}
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("cond", ns, stale, _content_type=MERGE)
    assert err.value.status == 409
    current = core.read_namespaced_config_map("cond", ns)
    assert current.data == {"k": "2"}
    fresh = {"metadata": {"resourceVersion": current.metadata.resource_version}, "data": {"k": "3"}}
    assert core.patch_namespaced_config_map("cond", ns, fresh, _content_type=MERGE).data == {
        "k": "3"
    }


def test_patch_missing_object_is_404(core: client.CoreV1Api, ns: str) -> None:
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("nobody", ns, {"data": {}})
    assert err.value.status == 404


def test_unsupported_patch_type_is_415(core: client.CoreV1Api, ns: str) -> None:
    # API concepts / patch types: unknown media types get 415 Unsupported Media Type.
    core.create_namespaced_config_map(ns, configmap("media"))
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map(
            "media", ns, {"data": {}}, _content_type="application/x-unknown-patch+json"
        )
    assert err.value.status == 415
    assert status_of(err.value)["reason"] == "UnsupportedMediaType"
