"""Preflight: the optional policies of `spec.preflight`, checked on the pod template alone.

requireResources, allowedRegistries and forbidLatestTag are the rules a cluster's admission
policy (Kyverno, Gatekeeper) would otherwise enforce by refusing pods, which a Deployment
reports late and vaguely (a ReplicaSet's FailedCreate event). Checking them here names the
container and image before anything is created. One check per policy and container, so a
fixed container shows as passed next to one still failing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rollout.analysis.preflight_objects import Check
from rollout.models.preflight import Preflight

Obj = dict[str, Any]
DOCKER_HUB = "docker.io"


def image_registry(image: str) -> str:
    """The registry an image is pulled from, by the rule the container runtimes use: the part
    before the first `/` is a registry host only when it looks like one (has a `.` or `:`, or
    is `localhost`); `nginx` and `library/nginx` come from Docker Hub."""
    first, slash, _ = image.partition("/")
    if slash and ("." in first or ":" in first or first == "localhost"):
        return first.lower()
    return DOCKER_HUB


def image_tag(image: str) -> tuple[str | None, bool]:
    """(tag or None, pinned by digest). The tag is after the last `:` of the last path
    segment, so a registry port (`localhost:5000/app`) is never taken for a tag."""
    name, at, _ = image.partition("@")
    last = name.rsplit("/", 1)[-1]
    _, colon, tag = last.partition(":")
    return (tag if colon and tag else None), bool(at)


def policy_checks(preflight: Preflight, template: Mapping[str, Any]) -> list[Check]:
    spec = template.get("spec") or {}
    containers = [
        c
        for field in ("initContainers", "containers")
        for c in spec.get(field) or []
        if isinstance(c, dict)
    ]
    checks: list[Check] = []
    if preflight.require_resources:
        checks += [_resources(c) for c in containers]
    if preflight.allowed_registries:
        checks += [_registry(c, preflight.allowed_registries) for c in containers]
    if preflight.forbid_latest_tag:
        checks += [_latest(c) for c in containers]
    return checks


def _who(container: Obj) -> str:
    return f"container '{container.get('name', '?')}'"


def _resources(container: Obj) -> Check:
    resources = container.get("resources") or {}
    requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
    missing = [
        what
        for what, section, key in (
            ("cpu request", requests, "cpu"),
            ("memory request", requests, "memory"),
            ("memory limit", limits, "memory"),
        )
        if section.get(key) in (None, "")
    ]
    name = f"requireResources {container.get('name', '?')}"
    if missing:
        return Check(name, False, f"{_who(container)} has no {', no '.join(missing)}")
    return Check(name, True, f"{_who(container)} sets cpu and memory requests and a memory limit")


def _registry(container: Obj, allowed: list[str]) -> Check:
    image = str(container.get("image", ""))
    registry = image_registry(image)
    name = f"allowedRegistries {container.get('name', '?')}"
    what = f"{_who(container)} image '{image}'"
    if registry in allowed:
        return Check(name, True, f"{what} comes from allowed registry {registry}")
    return Check(
        name,
        False,
        f"{what} comes from registry {registry}, not one of allowedRegistries "
        f"({', '.join(allowed)})",
    )


def _latest(container: Obj) -> Check:
    image = str(container.get("image", ""))
    tag, digest = image_tag(image)
    name = f"forbidLatestTag {container.get('name', '?')}"
    what = f"{_who(container)} image '{image}'"
    if digest:
        return Check(name, True, f"{what} is pinned by digest")
    if tag is None:
        return Check(name, False, f"{what} has no tag (that means :latest); pin a tag or digest")
    if tag == "latest":
        return Check(name, False, f"{what} uses the tag latest; pin a tag or digest")
    return Check(name, True, f"{what} has tag {tag}")
