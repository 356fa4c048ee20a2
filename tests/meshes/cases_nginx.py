"""The nginx router's cases for the shared contract suite (tests/meshes/contract.py), and the
objects its own tests (test_nginx.py) build on: the user's stable Ingress and Services."""

from __future__ import annotations

import contextlib
import copy
from typing import Any

import kubernetes_validate

from meshes.nginx import INGRESSES, NginxRouter
from rollout.errors import NotFoundError
from rollout.kube import SERVICES, Kube
from rollout.models import Rollout
from rollout.models.traffic import SetHeaderRoute
from tests.meshes.contract import RouterCase, routed_rollout

NS = "default"
KUBERNETES = "1.30"
STABLE_INGRESS = "app-ingress"
CANARY_INGRESS = f"app-{STABLE_INGRESS}-canary"

SIMPLE_INGRESS: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {"name": STABLE_INGRESS},
    "spec": {
        "ingressClassName": "nginx",
        "rules": [
            {
                "host": "app.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "app-stable", "port": {"number": 80}}},
                        }
                    ]
                },
            }
        ],
    },
}

# Two hosts, TLS, several paths (one to another service, one by port name), its own nginx and
# other annotations, labels: everything a real Ingress carries that the clone must get right.
RICH_INGRESS: dict[str, Any] = {
    "apiVersion": "networking.k8s.io/v1",
    "kind": "Ingress",
    "metadata": {
        "name": STABLE_INGRESS,
        "labels": {"team": "web"},
        "annotations": {
            "nginx.ingress.kubernetes.io/rewrite-target": "/",
            "nginx.ingress.kubernetes.io/proxy-body-size": "8m",
            "cert-manager.io/cluster-issuer": "letsencrypt",
        },
    },
    "spec": {
        "ingressClassName": "nginx",
        "tls": [{"hosts": ["app.example.com", "www.example.com"], "secretName": "app-tls"}],
        "rules": [
            {
                "host": "app.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "app-stable", "port": {"number": 80}}},
                        },
                        {
                            "path": "/api",
                            "pathType": "Prefix",
                            "backend": {
                                "service": {"name": "app-stable", "port": {"name": "http"}}
                            },
                        },
                        {
                            "path": "/auth",
                            "pathType": "Exact",
                            "backend": {"service": {"name": "auth", "port": {"number": 8080}}},
                        },
                    ]
                },
            },
            {
                "host": "www.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "ImplementationSpecific",
                            "backend": {"service": {"name": "app-stable", "port": {"number": 80}}},
                        }
                    ]
                },
            },
            {
                "host": "static.example.com",
                "http": {
                    "paths": [
                        {
                            "path": "/",
                            "pathType": "Prefix",
                            "backend": {"service": {"name": "static", "port": {"number": 80}}},
                        }
                    ]
                },
            },
        ],
    },
}

HEADER_ROUTE = SetHeaderRoute.model_validate(
    {
        "name": "canary-header",
        "match": [{"headerName": "x-canary", "headerValue": {"exact": "yes"}}],
    }
)


def rollout(nginx: dict[str, Any] | None = None, *, routes: tuple[str, ...] = ()) -> Rollout:
    """A Rollout "app" routed by nginx through STABLE_INGRESS (`nginx` adds fields)."""
    managed = [{"name": r} for r in ("canary-header", "other-header", *routes)]
    nginx_routing = {"stableIngress": STABLE_INGRESS, **(nginx or {})}
    return routed_rollout({"nginx": nginx_routing, "managedRoutes": managed}, replicas=2)


def setup(kube: Kube, ingress: dict[str, Any] = SIMPLE_INGRESS) -> None:
    for name in ("app-stable", "app-canary"):
        kube.create(
            SERVICES,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": {"app": "app"}, "ports": [{"name": "http", "port": 80}]},
            },
            namespace=NS,
        )
    kube.create(INGRESSES, copy.deepcopy(ingress), namespace=NS)


def objects(kube: Kube) -> list[dict[str, Any]]:
    found = []
    for name in (STABLE_INGRESS, CANARY_INGRESS):
        with contextlib.suppress(NotFoundError):  # the canary Ingress comes and goes
            found.append(kube.get(INGRESSES, name, namespace=NS))
    return found


def validate(obj: dict[str, Any]) -> None:
    try:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = ".".join(str(p) for p in err.path) or "(top level)"
        raise AssertionError(
            f"{obj['kind']} {obj['metadata']['name']}: {where}: {err.message}"
        ) from None


CASES: list[RouterCase] = [
    RouterCase(
        id="nginx",
        router=NginxRouter,
        setup=setup,
        rollout=rollout,
        objects=objects,
        validate=validate,
        header_route=HEADER_ROUTE,
    ),
    RouterCase(
        id="nginx-rich-total-1000",
        router=NginxRouter,
        setup=lambda kube: setup(kube, RICH_INGRESS),
        rollout=lambda: rollout(
            {"weightTotal": 1000, "additionalIngressAnnotations": {"canary-by-cookie": "beta"}}
        ),
        objects=objects,
        validate=validate,
        header_route=SetHeaderRoute.model_validate(
            {
                "name": "canary-header",
                "match": [{"headerName": "x-user", "headerValue": {"regex": "^(alice|bob)$"}}],
            }
        ),
    ),
]
