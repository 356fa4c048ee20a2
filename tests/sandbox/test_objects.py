"""Object metadata, create/replace semantics and error Status bodies.

Expected behaviour follows the Kubernetes API concepts and API conventions
documents, not the sandbox's code.
"""

from __future__ import annotations

import re
import uuid

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .conftest import unique
from .helpers import configmap, deployment, raw, status_of, wait_until

RFC3339_Z = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


def test_create_sets_server_metadata(core: client.CoreV1Api, ns: str) -> None:
    # API conventions / metadata: uid, creationTimestamp and resourceVersion are set by the server.
    cm = raw(core.create_namespaced_config_map, ns, configmap("meta"))
    meta = cm["metadata"]
    assert uuid.UUID(meta["uid"]).version == 4
    assert RFC3339_Z.match(meta["creationTimestamp"])
    assert meta["resourceVersion"].isdigit()
    assert meta["generation"] == 1
    assert meta["namespace"] == ns


def test_resource_version_increases_with_every_write(core: client.CoreV1Api, ns: str) -> None:
    # API concepts / resource versions: every change produces a new, larger resourceVersion.
    a = core.create_namespaced_config_map(ns, configmap("rv-a"))
    b = core.create_namespaced_config_map(ns, configmap("rv-b"))
    a2 = core.patch_namespaced_config_map("rv-a", ns, {"data": {"k": "changed"}})
    versions = [int(o.metadata.resource_version) for o in (a, b, a2)]
    assert versions == sorted(versions) and len(set(versions)) == 3
    listed = core.list_namespaced_config_map(ns)
    assert int(listed.metadata.resource_version) >= versions[-1]


def test_noop_update_keeps_resource_version(core: client.CoreV1Api, ns: str) -> None:
    # API concepts: an update that changes nothing is not persisted, so rv is unchanged.
    cm = core.create_namespaced_config_map(ns, configmap("noop"))
    again = core.patch_namespaced_config_map("noop", ns, {"data": {"k": "v"}})
    assert again.metadata.resource_version == cm.metadata.resource_version


def test_generate_name(core: client.CoreV1Api, ns: str) -> None:
    # API conventions / idempotency: generateName gets a random suffix appended.
    body = {"metadata": {"generateName": "gen-"}, "data": {}}
    first = core.create_namespaced_config_map(ns, body)
    second = core.create_namespaced_config_map(ns, body)
    assert first.metadata.name.startswith("gen-") and len(first.metadata.name) > len("gen-")
    assert first.metadata.name != second.metadata.name


def test_duplicate_create_is_409_already_exists(core: client.CoreV1Api, ns: str) -> None:
    # API conventions / HTTP status codes: 409 with reason AlreadyExists.
    core.create_namespaced_config_map(ns, configmap("dup"))
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, configmap("dup"))
    assert err.value.status == 409
    status = status_of(err.value)
    assert status["reason"] == "AlreadyExists"
    assert status["message"] == 'configmaps "dup" already exists'
    assert status["details"] == {"name": "dup", "kind": "configmaps"}


def test_create_in_missing_namespace_is_404(core: client.CoreV1Api) -> None:
    # Namespaces: namespaced objects can only be created in an existing namespace.
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map("no-such-ns", configmap("x"))
    assert err.value.status == 404
    status = status_of(err.value)
    assert (status["kind"], status["status"], status["reason"]) == ("Status", "Failure", "NotFound")
    assert status["message"] == 'namespaces "no-such-ns" not found'


def test_get_missing_object_is_404_with_group(apps: client.AppsV1Api, ns: str) -> None:
    # API conventions: NotFound Status carries name, group and resource.
    with pytest.raises(ApiException) as err:
        apps.read_namespaced_deployment("ghost", ns)
    status = status_of(err.value)
    assert err.value.status == 404
    assert status["message"] == 'deployments.apps "ghost" not found'
    assert status["details"] == {"name": "ghost", "group": "apps", "kind": "deployments"}


def test_initial_namespaces_exist(core: client.CoreV1Api) -> None:
    # Namespaces: a cluster starts with default, kube-system and kube-public.
    names = {n.metadata.name for n in core.list_namespace().items}
    assert {"default", "kube-system", "kube-public"} <= names
    assert core.read_namespace("default").status.phase == "Active"


def test_stale_put_is_409_conflict(apps: client.AppsV1Api, ns: str) -> None:
    # API concepts / optimistic concurrency: a PUT with an old resourceVersion is rejected.
    created = apps.create_namespaced_deployment(ns, deployment("web"))
    apps.patch_namespaced_deployment("web", ns, {"metadata": {"labels": {"bump": "1"}}})
    created.spec.replicas = 5
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment("web", ns, created)
    assert err.value.status == 409
    status = status_of(err.value)
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on deployments.apps "web": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert apps.read_namespaced_deployment("web", ns).spec.replicas == 2


def test_put_with_current_version_and_unconditional_put(apps: client.AppsV1Api, ns: str) -> None:
    # API concepts: PUT with the current resourceVersion succeeds; the sandbox (like most
    # built-in strategies) also allows an unconditional PUT without resourceVersion.
    apps.create_namespaced_deployment(ns, deployment("put"))
    # Read right before writing: the simulated controller updates status concurrently.
    current = wait_until(lambda: _settled(apps, ns, "put"))
    current.spec.replicas = 3
    updated = apps.replace_namespaced_deployment("put", ns, current)
    assert updated.spec.replicas == 3
    assert int(updated.metadata.resource_version) > int(current.metadata.resource_version)
    body = apps.api_client.sanitize_for_serialization(updated)
    del body["metadata"]["resourceVersion"]
    body["spec"]["replicas"] = 4
    assert apps.replace_namespaced_deployment("put", ns, body).spec.replicas == 4


def _settled(apps: client.AppsV1Api, ns: str, name: str) -> client.V1Deployment | None:
    dep = apps.read_namespaced_deployment(name, ns)
    ready = dep.status and dep.status.observed_generation == dep.metadata.generation
    return dep if ready and dep.status.available_replicas == dep.spec.replicas else None


def test_put_missing_object_is_404(core: client.CoreV1Api, ns: str) -> None:
    # API conventions: update of a non-existent object is NotFound.
    with pytest.raises(ApiException) as err:
        core.replace_namespaced_config_map("absent", ns, configmap("absent"))
    assert err.value.status == 404


def test_generation_tracks_spec_changes_only(apps: client.AppsV1Api, ns: str) -> None:
    # API conventions / metadata.generation: bumped by spec changes, not metadata or status.
    dep = apps.create_namespaced_deployment(ns, deployment("gen"))
    assert dep.metadata.generation == 1
    labelled = apps.patch_namespaced_deployment("gen", ns, {"metadata": {"labels": {"a": "b"}}})
    assert labelled.metadata.generation == 1
    scaled = apps.patch_namespaced_deployment("gen", ns, {"spec": {"replicas": 3}})
    assert scaled.metadata.generation == 2
    apps.patch_namespaced_deployment_status(
        "gen", ns, {"status": {"conditions": [{"type": "Custom", "status": "True"}]}}
    )
    assert apps.read_namespaced_deployment("gen", ns).metadata.generation == 2


def test_generation_without_status_subresource(core: client.CoreV1Api, ns: str) -> None:
    # Without a status subresource every non-metadata change counts (ConfigMap data).
    core.create_namespaced_config_map(ns, configmap("cm-gen"))
    changed = core.patch_namespaced_config_map("cm-gen", ns, {"data": {"k": "other"}})
    assert changed.metadata.generation == 2
    relabelled = core.patch_namespaced_config_map(
        "cm-gen", ns, {"metadata": {"labels": {"x": "y"}}}
    )
    assert relabelled.metadata.generation == 2


def test_invalid_name_is_422(core: client.CoreV1Api, ns: str) -> None:
    # Object names: most resources need a DNS-1123 subdomain name.
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, configmap("Bad_Name"))
    assert err.value.status == 422
    status = status_of(err.value)
    assert status["reason"] == "Invalid"
    assert status["details"]["causes"][0]["field"] == "metadata.name"


def test_missing_name_is_422(core: client.CoreV1Api, ns: str) -> None:
    # API conventions: name or generateName is required.
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, {"metadata": {}, "data": {}})
    assert err.value.status == 422


def test_deployment_selector_must_match_template(apps: client.AppsV1Api, ns: str) -> None:
    # Deployments: spec.selector must match spec.template.metadata.labels.
    body = deployment("mismatch")
    body["spec"]["selector"] = {"matchLabels": {"app": "other"}}
    with pytest.raises(ApiException) as err:
        apps.create_namespaced_deployment(ns, body)
    assert err.value.status == 422
    assert "selector" in status_of(err.value)["message"]


def test_namespace_mismatch_is_400(core: client.CoreV1Api, ns: str) -> None:
    # API conventions: the body namespace must match the URL namespace.
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, configmap("wrong-ns", namespace="default"))
    assert err.value.status == 400
    assert status_of(err.value)["reason"] == "BadRequest"


def test_server_managed_fields_are_not_client_settable(core: client.CoreV1Api, ns: str) -> None:
    # API conventions: uid/creationTimestamp are read-only; client values are ignored.
    cm = core.create_namespaced_config_map(
        ns, configmap("ro", uid="client-uid", creationTimestamp="2000-01-01T00:00:00Z")
    )
    assert cm.metadata.uid != "client-uid"
    assert cm.metadata.creation_timestamp.year > 2000


def test_cluster_scoped_list_and_all_namespaces(core: client.CoreV1Api) -> None:
    # API concepts / resource URIs: /api/v1/configmaps lists across namespaces.
    a, b = unique("ns-a"), unique("ns-b")
    for name in (a, b):
        core.create_namespace({"metadata": {"name": name}})
        core.create_namespaced_config_map(name, configmap("same"))
    everywhere = core.list_config_map_for_all_namespaces(field_selector="metadata.name=same")
    assert {a, b} <= {cm.metadata.namespace for cm in everywhere.items}
    assert everywhere.kind == "ConfigMapList"


def test_every_namespace_gets_a_default_service_account(core: client.CoreV1Api) -> None:
    """Kubernetes' service-account controller creates `default` in each namespace."""
    name = unique("team")
    core.create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name=name)))
    for ns in ("default", name):
        assert core.read_namespaced_service_account("default", ns).metadata.name == "default"
