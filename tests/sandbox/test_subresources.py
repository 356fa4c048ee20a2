"""The status and scale subresources of built-in kinds.

Expected behaviour: API conventions ("spec and status"; the /status
subresource ignores everything but status, the main resource ignores
status) and the Scale subresource docs (autoscaling/v1 Scale).
"""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import deployment, raw, wait_until


def _settled(apps: client.AppsV1Api, ns: str, name: str) -> client.V1Deployment | None:
    dep = apps.read_namespaced_deployment(name, ns)
    if dep.status and dep.status.observed_generation == dep.metadata.generation:
        return dep
    return None


def test_main_resource_write_ignores_status(apps: client.AppsV1Api, ns: str) -> None:
    # API conventions: with a status subresource, writes to the main resource drop .status.
    body = deployment("main-ignores")
    body["status"] = {"replicas": 42, "observedGeneration": 42}
    created = apps.create_namespaced_deployment(ns, body)
    assert created.status is None or created.status.replicas != 42
    apps.patch_namespaced_deployment(
        "main-ignores", ns, {"status": {"replicas": 99}, "spec": {"replicas": 3}}
    )
    dep = wait_until(lambda: _settled(apps, ns, "main-ignores"))
    assert dep.spec.replicas == 3
    assert dep.status.replicas == 3  # the simulated controller's value, not 99


def test_status_write_ignores_everything_but_status(apps: client.AppsV1Api, ns: str) -> None:
    # API conventions: PUT/PATCH to /status changes only .status and never bumps generation.
    apps.create_namespaced_deployment(ns, deployment("status-only"))
    dep = wait_until(lambda: _settled(apps, ns, "status-only"))
    body = apps.api_client.sanitize_for_serialization(dep)
    body["spec"]["replicas"] = 7
    body["metadata"]["labels"] = {"changed": "yes"}
    body["status"]["conditions"].append({"type": "Extra", "status": "True"})
    updated = apps.replace_namespaced_deployment_status("status-only", ns, body)
    assert updated.spec.replicas == 2
    assert updated.metadata.labels == {"app": "status-only"}
    assert updated.metadata.generation == dep.metadata.generation
    assert "Extra" in [c.type for c in updated.status.conditions]


def test_status_put_with_stale_resource_version_is_409(apps: client.AppsV1Api, ns: str) -> None:
    # Optimistic concurrency applies to subresources too.
    apps.create_namespaced_deployment(ns, deployment("status-409"))
    dep = wait_until(lambda: _settled(apps, ns, "status-409"))
    apps.patch_namespaced_deployment("status-409", ns, {"metadata": {"labels": {"n": "1"}}})
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment_status("status-409", ns, dep)
    assert err.value.status == 409


def test_get_scale(apps: client.AppsV1Api, ns: str) -> None:
    # Scale subresource: autoscaling/v1 Scale with spec.replicas, status.replicas and a
    # string selector in label-query syntax.
    apps.create_namespaced_deployment(ns, deployment("scale-get", replicas=3))
    wait_until(lambda: _settled(apps, ns, "scale-get"))
    scale = raw(apps.read_namespaced_deployment_scale, "scale-get", ns)
    assert scale["kind"] == "Scale" and scale["apiVersion"] == "autoscaling/v1"
    assert scale["spec"] == {"replicas": 3}
    assert scale["status"] == {"replicas": 3, "selector": "app=scale-get"}
    assert scale["metadata"]["name"] == "scale-get"


def test_put_and_patch_scale_change_spec_replicas(apps: client.AppsV1Api, ns: str) -> None:
    # Scale subresource: writing spec.replicas of the Scale sets the Deployment's replicas.
    apps.create_namespaced_deployment(ns, deployment("scale-set", replicas=1))
    # Read after the simulated controller settled, or its status write makes our rv stale.
    wait_until(lambda: _settled(apps, ns, "scale-set"))
    scale = apps.read_namespaced_deployment_scale("scale-set", ns)
    scale.spec.replicas = 4
    assert apps.replace_namespaced_deployment_scale("scale-set", ns, scale).spec.replicas == 4
    assert apps.read_namespaced_deployment("scale-set", ns).spec.replicas == 4
    patched = apps.patch_namespaced_deployment_scale("scale-set", ns, {"spec": {"replicas": 0}})
    assert patched.spec.replicas == 0
    dep = apps.read_namespaced_deployment("scale-set", ns)
    assert dep.spec.replicas == 0
    assert dep.metadata.generation == 3  # each replica change is a spec change


def test_scale_put_with_stale_resource_version_is_409(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("scale-409"))
    scale = apps.read_namespaced_deployment_scale("scale-409", ns)
    apps.patch_namespaced_deployment("scale-409", ns, {"spec": {"replicas": 5}})
    scale.spec.replicas = 1
    with pytest.raises(ApiException) as err:
        apps.replace_namespaced_deployment_scale("scale-409", ns, scale)
    assert err.value.status == 409
    assert apps.read_namespaced_deployment("scale-409", ns).spec.replicas == 5


def test_scale_rejects_negative_replicas(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("scale-neg"))
    with pytest.raises(ApiException) as err:
        apps.patch_namespaced_deployment_scale("scale-neg", ns, {"spec": {"replicas": -1}})
    assert err.value.status == 422
