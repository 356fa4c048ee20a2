"""Builders and small utilities shared by the sandbox contract tests."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from typing import Any, TypeVar

from kubernetes import client
from kubernetes.client.exceptions import ApiException

T = TypeVar("T")
Obj = dict[str, Any]


def deployment(
    name: str,
    *,
    replicas: int = 2,
    image: str = "nginx:1",
    annotations: dict[str, str] | None = None,
    template_annotations: dict[str, str] | None = None,
    progress_deadline: int | None = None,
) -> Obj:
    template_meta: Obj = {"labels": {"app": name}}
    if template_annotations:
        template_meta["annotations"] = template_annotations
    spec: Obj = {
        "replicas": replicas,
        "selector": {"matchLabels": {"app": name}},
        "template": {
            "metadata": template_meta,
            "spec": {"containers": [{"name": "app", "image": image}]},
        },
    }
    if progress_deadline is not None:
        spec["progressDeadlineSeconds"] = progress_deadline
    meta: Obj = {"name": name, "labels": {"app": name}}
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": spec}


def configmap(name: str, labels: dict[str, str] | None = None, **meta: Any) -> Obj:
    return {"metadata": {"name": name, "labels": labels or {}, **meta}, "data": {"k": "v"}}


def wait_until(fn: Callable[[], T | None], timeout: float = 5.0, interval: float = 0.02) -> T:
    """Poll ``fn`` until it returns something truthy; fail the test on timeout."""
    deadline = time.monotonic() + timeout
    last: T | None = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


def status_of(exc: ApiException) -> Obj:
    """The Status body the server sent with an error."""
    body = json.loads(exc.body)
    assert isinstance(body, dict)
    return body


def raw_get(api: client.ApiClient, path: str) -> tuple[int, Any]:
    """GET through the official client's REST layer, returning (status, decoded JSON)."""
    resp = api.rest_client.request("GET", api.configuration.host + path)
    data = resp.read()
    resp.response.release_conn()
    return resp.status, json.loads(data) if data else None


def http(method: str, url: str, body: Any = None) -> tuple[int, Any]:
    """Plain stdlib HTTP for the /sandbox/ admin API (not a Kubernetes endpoint)."""
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method)
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return resp.status, json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as err:
        with err:
            return err.code, json.loads(err.read() or b"null")


def crd(
    group: str,
    plural: str,
    kind: str,
    *,
    scope: str = "Namespaced",
    status: bool = True,
    scale: bool = True,
) -> Obj:
    subresources: Obj = {}
    if status:
        subresources["status"] = {}
    if scale:
        subresources["scale"] = {
            "specReplicasPath": ".spec.replicas",
            "statusReplicasPath": ".status.replicas",
            "labelSelectorPath": ".status.selector",
        }
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": scope,
            "names": {
                "plural": plural,
                "singular": kind.lower(),
                "kind": kind,
                "shortNames": [kind.lower()[:3]],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "x-kubernetes-preserve-unknown-fields": True,
                        }
                    },
                    "subresources": subresources,
                }
            ],
        },
    }


def raw(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Obj:
    """Call a generated client method and return the JSON exactly as the server sent it."""
    resp = fn(*args, _preload_content=False, **kwargs)
    try:
        body = json.loads(resp.data)
    finally:
        resp.release_conn()
    assert isinstance(body, dict)
    return body
