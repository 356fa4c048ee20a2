"""The istio router's cases for the shared contract suite (tests/meshes/contract.py), and the
builders tests/meshes/test_istio.py reuses: by host (two Services) and by DestinationRule subset."""

from __future__ import annotations

from typing import Any

from meshes.istio import DESTINATION_RULES, VIRTUAL_SERVICES, IstioRouter
from rollout.kube import SERVICES, Kube
from rollout.models import Rollout
from rollout.models.traffic import SetHeaderRoute
from tests.meshes import upstream
from tests.meshes.contract import RouterCase, routed_rollout

NS = "default"
GROUP = "networking.istio.io"
MANAGED = ["canary-header", "canary-mirror", "second-header"]
HEADER = SetHeaderRoute.model_validate(
    {
        "name": "canary-header",
        "match": [{"headerName": "X-Canary", "headerValue": {"exact": "yes"}}],
    }
)


def install_crds(kube: Kube) -> None:
    upstream.install(kube, GROUP, "VirtualService")
    upstream.install(kube, GROUP, "DestinationRule")


def create_services(kube: Kube) -> None:
    for name in ("app-stable", "app-canary"):
        kube.create(
            SERVICES,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": name},
                "spec": {"selector": {"app": "app"}, "ports": [{"port": 80}]},
            },
            namespace=NS,
        )


def virtual_service(name: str, http: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "VirtualService",
        "metadata": {"name": name, **extra.pop("metadata", {})},
        "spec": {"hosts": ["app.example.com"], "http": http, **extra},
    }


def destination_rule(name: str = "app-dr") -> dict[str, Any]:
    return {
        "apiVersion": f"{GROUP}/v1",
        "kind": "DestinationRule",
        "metadata": {"name": name},
        "spec": {
            "host": "app",
            "trafficPolicy": {"loadBalancer": {"simple": "ROUND_ROBIN"}},
            "subsets": [
                {"name": "stable", "labels": {"app": "app"}},
                {"name": "canary", "labels": {"app": "app"}},
                {"name": "legacy", "labels": {"app": "app", "track": "legacy"}},
            ],
        },
    }


def host_route(name: str = "primary") -> dict[str, Any]:
    return {
        "name": name,
        "route": [
            {"destination": {"host": "app-stable", "port": {"number": 80}}, "weight": 100},
            {"destination": {"host": "app-canary", "port": {"number": 80}}, "weight": 0},
        ],
    }


def subset_route(name: str = "primary") -> dict[str, Any]:
    return {
        "name": name,
        "route": [
            {"destination": {"host": "app", "subset": "stable"}, "weight": 100},
            {"destination": {"host": "app", "subset": "canary"}, "weight": 0},
        ],
    }


def rollout(
    *,
    subset: bool = False,
    baseline_subset: bool = False,
    routes: list[str] | None = None,
    services: list[str] | None = None,
    managed: list[str] | None = None,
) -> Rollout:
    names = services or ["app-vs"]
    vs = [{"name": n, "routes": ["primary"] if routes is None else routes} for n in names]
    istio: dict[str, Any] = {"virtualService": vs[0]} if len(vs) == 1 else {"virtualServices": vs}
    if subset:
        istio["destinationRule"] = {
            "name": "app-dr",
            "stableSubsetName": "stable",
            "canarySubsetName": "canary",
        }
        if baseline_subset:
            istio["destinationRule"]["baselineSubsetName"] = "baseline"
    managed_routes = [{"name": n} for n in (MANAGED if managed is None else managed)]
    return routed_rollout({"istio": istio, "managedRoutes": managed_routes})


def setup_host(kube: Kube) -> None:
    install_crds(kube)
    create_services(kube)
    kube.create(VIRTUAL_SERVICES, virtual_service("app-vs", [host_route()]), namespace=NS)


def setup_subset(kube: Kube) -> None:
    install_crds(kube)
    create_services(kube)
    kube.create(DESTINATION_RULES, destination_rule(), namespace=NS)
    kube.create(VIRTUAL_SERVICES, virtual_service("app-vs", [subset_route()]), namespace=NS)


def setup_subset_with_baseline(kube: Kube) -> None:
    """Subset mode with a third subset for a baseline."""
    install_crds(kube)
    create_services(kube)
    rule = destination_rule()
    rule["spec"]["subsets"].append({"name": "baseline", "labels": {"app": "app"}})
    kube.create(DESTINATION_RULES, rule, namespace=NS)
    kube.create(VIRTUAL_SERVICES, virtual_service("app-vs", [subset_route()]), namespace=NS)


def objects_host(kube: Kube) -> list[dict[str, Any]]:
    return [kube.get(VIRTUAL_SERVICES, "app-vs", namespace=NS)]


def objects_subset(kube: Kube) -> list[dict[str, Any]]:
    return [
        kube.get(DESTINATION_RULES, "app-dr", namespace=NS),
        kube.get(VIRTUAL_SERVICES, "app-vs", namespace=NS),
    ]


CASES: list[RouterCase] = [
    RouterCase(
        id="istio-host",
        router=IstioRouter,
        setup=setup_host,
        rollout=rollout,
        objects=objects_host,
        validate=upstream.validate,
        header_route=HEADER,
    ),
    RouterCase(
        id="istio-subset",
        router=IstioRouter,
        setup=setup_subset,
        rollout=lambda: rollout(subset=True),
        objects=objects_subset,
        validate=upstream.validate,
        header_route=HEADER,
    ),
    RouterCase(
        id="istio-subset-baseline",
        router=IstioRouter,
        setup=setup_subset_with_baseline,
        rollout=lambda: rollout(subset=True, baseline_subset=True),
        objects=objects_subset,
        validate=upstream.validate,
        header_route=HEADER,
    ),
]
