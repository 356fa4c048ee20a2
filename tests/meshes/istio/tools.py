"""Shared pieces of the Istio router tests: building, reading and masking routing objects."""

from __future__ import annotations

import copy
from typing import Any

from meshes.istio import (
    CANARY_REVISION,
    DESTINATION_RULES,
    STABLE_REVISION,
    VIRTUAL_SERVICES,
)
from rollout.models.traffic import SetHeaderRoute
from tests.e2e.harness import Cluster
from tests.meshes import cases_istio as cases
from tests.meshes import upstream

NS = "default"
S1, C1, C2 = "stable111", "canary222", "canary333"
WRITES = ("create", "update", "patch", "delete")
Obj = dict[str, Any]


def make(cluster: Cluster, *objs: Obj) -> None:
    for obj in objs:
        kind = VIRTUAL_SERVICES if obj["kind"] == "VirtualService" else DESTINATION_RULES
        cluster.kube.create(kind, obj, namespace=NS)
    cluster.sandbox.requests.clear()


def vs(cluster: Cluster, name: str = "app-vs") -> Obj:
    obj = cluster.kube.get(VIRTUAL_SERVICES, name, namespace=NS)
    upstream.validate(obj)
    return obj


def dr(cluster: Cluster) -> Obj:
    obj = cluster.kube.get(DESTINATION_RULES, "app-dr", namespace=NS)
    upstream.validate(obj)
    return obj


def writes(cluster: Cluster) -> list[tuple[str, str, str | None]]:
    return [
        (r.verb, r.resource, r.name) for r in cluster.sandbox.requests.entries() if r.verb in WRITES
    ]


def http(obj: Obj, name: str) -> Obj:
    return next(r for r in obj["spec"]["http"] if r.get("name") == name)


def weights(route: Obj) -> list[tuple[str, int]]:
    return [
        (d["destination"].get("subset") or d["destination"]["host"], d["weight"])
        for d in route["route"]
    ]


def header(name: str, **values: dict[str, str]) -> SetHeaderRoute:
    match = [{"headerName": k.replace("_", "-"), "headerValue": v} for k, v in values.items()]
    return SetHeaderRoute.model_validate({"name": name, "match": match})


def rich() -> Obj:
    """A VirtualService with much the router must not touch."""
    return cases.virtual_service(
        "app-vs",
        [
            {
                "name": "health",
                "match": [{"uri": {"prefix": "/healthz"}}],
                "route": [{"destination": {"host": "health-svc"}}],
            },
            {
                "name": "primary",
                "match": [{"uri": {"prefix": "/"}, "headers": {"x-env": {"exact": "prod"}}}],
                "route": [
                    {"destination": {"host": "app-stable", "port": {"number": 80}}, "weight": 100},
                    {"destination": {"host": "app-canary", "port": {"number": 80}}, "weight": 0},
                ],
                "retries": {"attempts": 3, "perTryTimeout": "2s", "retryOn": "5xx,reset"},
                "timeout": "10s",
                "fault": {"delay": {"percentage": {"value": 0.5}, "fixedDelay": "5s"}},
                "headers": {
                    "request": {"set": {"x-routed-by": "istio"}},
                    "response": {"remove": ["x-internal"]},
                },
            },
            {
                "name": "fallback",
                "route": [
                    {"destination": {"host": "app-stable"}, "weight": 70},
                    {"destination": {"host": "legacy"}, "weight": 30},
                ],
            },
        ],
        metadata={"labels": {"team": "web"}, "annotations": {"note": "keep me"}},
        gateways=["mesh", "public-gw"],
        tcp=[
            {
                "match": [{"port": 9000}],
                "route": [{"destination": {"host": "app-stable", "port": {"number": 9000}}}],
            }
        ],
        tls=[
            {
                "match": [{"port": 443, "sniHosts": ["app.example.com"]}],
                "route": [{"destination": {"host": "app-stable", "port": {"number": 443}}}],
            }
        ],
    )


def masked(obj: Obj) -> Obj:
    """`obj` without what the router manages (and what the API server bumps)."""
    out = copy.deepcopy(obj)
    meta = out["metadata"]
    for key in ("resourceVersion", "generation", "managedFields"):
        meta.pop(key, None)
    for key in (STABLE_REVISION, CANARY_REVISION):
        (meta.get("annotations") or {}).pop(key, None)
    out["spec"]["http"] = [r for r in out["spec"]["http"] if r.get("name") not in cases.MANAGED]
    for entry in http(out, "primary")["route"]:
        entry.pop("weight", None)
    return out
