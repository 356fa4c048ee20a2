"""Preflight's optional policies (spec.preflight): resources, registries and tags, named by
container and image. The image-name rules are checked on their own too, since every policy
verdict rests on them."""

from __future__ import annotations

import pytest

from rollout.analysis.preflight_policy import image_registry, image_tag
from rollout.models.preflight import Preflight
from tests.analysis.preflight_cases import IMAGE, basics, by_name, failed, rollout, run
from tests.e2e.harness import Cluster

APP = {"name": "app", "image": IMAGE}


def test_require_resources_names_each_container_and_what_it_lacks(cluster: Cluster) -> None:
    basics(cluster.kube)
    complete = {"requests": {"cpu": "100m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}}
    pod = {
        "containers": [
            APP | {"resources": complete},
            {"name": "sidecar", "image": IMAGE, "resources": {"requests": {"cpu": "10m"}}},
        ]
    }
    checks = run(cluster, rollout(pod, preflight=Preflight(require_resources=True)))
    assert failed(checks) == {
        "requireResources sidecar": "container 'sidecar' has no memory request, no memory limit"
    }
    assert by_name(checks)["requireResources app"].ok
    assert not any(c.name.startswith("requireResources") for c in run(cluster, rollout(pod)))


def test_allowed_registries(cluster: Cluster) -> None:
    basics(cluster.kube)
    pod = {
        "containers": [
            APP,
            {"name": "proxy", "image": "envoyproxy/envoy:v1.30"},
            {"name": "local", "image": "localhost:5000/tool:2"},
        ]
    }
    policy = Preflight(allowed_registries=["GHCR.io", "localhost:5000"])
    checks = run(cluster, rollout(pod, preflight=policy))
    assert failed(checks) == {
        "allowedRegistries proxy": "container 'proxy' image 'envoyproxy/envoy:v1.30' comes from "
        "registry docker.io, not one of allowedRegistries (ghcr.io, localhost:5000)"
    }
    named = by_name(checks)
    assert named["allowedRegistries app"].ok and named["allowedRegistries local"].ok


def test_forbid_latest_tag(cluster: Cluster) -> None:
    basics(cluster.kube)
    digest = "sha256:" + "a" * 64
    pod = {
        "containers": [
            {"name": "bare", "image": "nginx"},
            {"name": "latest", "image": "ghcr.io/acme/app:latest"},
            {"name": "pinned", "image": f"ghcr.io/acme/app:latest@{digest}"},
            {"name": "port", "image": "localhost:5000/app"},
            APP,
        ]
    }
    checks = run(cluster, rollout(pod, preflight=Preflight(forbid_latest_tag=True)))
    assert failed(checks) == {
        "forbidLatestTag bare": (
            "container 'bare' image 'nginx' has no tag (that means :latest); pin a tag or digest"
        ),
        "forbidLatestTag latest": (
            "container 'latest' image 'ghcr.io/acme/app:latest' uses the tag latest; "
            "pin a tag or digest"
        ),
        "forbidLatestTag port": "container 'port' image 'localhost:5000/app' has no tag "
        "(that means :latest); pin a tag or digest",
    }


@pytest.mark.parametrize(
    ("image", "registry"),
    [
        ("nginx", "docker.io"),
        ("library/nginx:1.25", "docker.io"),
        ("ghcr.io/acme/app:1", "ghcr.io"),
        ("localhost/app", "localhost"),
        ("registry:5000/app", "registry:5000"),
        ("docker.io/library/nginx", "docker.io"),
    ],
)
def test_image_registry(image: str, registry: str) -> None:
    assert image_registry(image) == registry


def test_image_tag() -> None:
    assert image_tag("localhost:5000/app") == (None, False)
    assert image_tag("localhost:5000/app:2") == ("2", False)
    assert image_tag("app@sha256:abc") == (None, True)
