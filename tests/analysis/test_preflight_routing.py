"""Preflight of the canary's routing objects, against the sandbox with the upstream CRDs: the
routers' own reads decide what is missing (objects, named routes), and preflight adds what
they do not read (nginx's IngressClass, the TrafficSplit's root Service)."""

from __future__ import annotations

from typing import Any

from meshes.istio import VIRTUAL_SERVICES
from rollout.kube import SERVICES
from rollout.kube.kinds import INGRESS_CLASSES, INGRESSES
from tests.analysis.preflight_cases import basics, by_name, create, failed, rollout, run
from tests.e2e.harness import Cluster
from tests.meshes import upstream

Obj = dict[str, Any]

NGINX = {"trafficRouting": {"nginx": {"stableIngress": "app-ingress"}}}


def _ingress(class_name: str | None) -> Obj:
    backend = {"service": {"name": "app-stable", "port": {"number": 80}}}
    path = {"path": "/", "pathType": "Prefix", "backend": backend}
    spec: Obj = {"rules": [{"host": "app.example.com", "http": {"paths": [path]}}]}
    if class_name:
        spec["ingressClassName"] = class_name
    return spec


def test_nginx_needs_its_stable_ingress_and_the_ingress_class_it_names(cluster: Cluster) -> None:
    basics(cluster.kube)
    target = rollout(canary=NGINX)
    assert failed(run(cluster, target)) == {
        "trafficRouting.nginx": "nginx routing: Ingress default/app-ingress not found "
        "(hint: create it, or fix trafficRouting.nginx.stableIngress)"
    }
    create(cluster.kube, INGRESSES, "app-ingress", spec=_ingress("nginx"))
    assert failed(run(cluster, target)) == {
        "IngressClass nginx": (
            "IngressClass nginx (ingressClassName of Ingress default/app-ingress) not found"
        )
    }
    create(cluster.kube, INGRESS_CLASSES, "nginx", spec={"controller": "k8s.io/ingress-nginx"})
    checks = by_name(run(cluster, target))
    assert checks["trafficRouting.nginx"].ok
    assert checks["IngressClass nginx"].ok
    assert failed(list(checks.values())) == {}


def test_an_ingress_without_a_class_name_needs_no_ingress_class(cluster: Cluster) -> None:
    basics(cluster.kube)
    create(cluster.kube, INGRESSES, "app-ingress", spec=_ingress(None))
    checks = run(cluster, rollout(canary=NGINX))
    assert failed(checks) == {}
    assert not any(c.name.startswith("IngressClass") for c in checks)


def _route(name: str) -> Obj:
    return {"name": name, "route": [{"destination": {"host": "app-stable"}, "weight": 100}]}


def test_istio_needs_its_virtual_service_and_the_named_route(cluster: Cluster) -> None:
    basics(cluster.kube)
    upstream.install(cluster.kube, "networking.istio.io", "VirtualService")
    routing = {"istio": {"virtualService": {"name": "app-vs", "routes": ["primary"]}}}
    target = rollout(canary={"trafficRouting": routing})
    assert failed(run(cluster, target)) == {
        "trafficRouting.istio": "istio routing: VirtualService default/app-vs not found"
    }
    vs: Obj = {
        "apiVersion": VIRTUAL_SERVICES.api_version,
        "kind": "VirtualService",
        "metadata": {"name": "app-vs"},
        "spec": {"hosts": ["app.example.com"], "http": [_route("other")]},
    }
    cluster.kube.create(VIRTUAL_SERVICES, vs, namespace="default")
    assert failed(run(cluster, target)) == {
        "trafficRouting.istio": (
            "istio routing: VirtualService default/app-vs has no HTTP route named 'primary'"
        )
    }
    vs = cluster.kube.get(VIRTUAL_SERVICES, "app-vs", namespace="default")
    vs["spec"]["http"] = [_route("primary")]
    cluster.kube.replace(VIRTUAL_SERVICES, vs, namespace="default")
    assert by_name(run(cluster, target))["trafficRouting.istio"].ok


def test_gateway_api_needs_its_route(cluster: Cluster) -> None:
    basics(cluster.kube)
    upstream.install(cluster.kube, "gateway.networking.k8s.io", "HTTPRoute")
    target = rollout(canary={"trafficRouting": {"gatewayAPI": {"httpRoute": "app-route"}}})
    message = failed(run(cluster, target))["trafficRouting.gatewayAPI"]
    assert message.startswith("gatewayAPI routing: HTTPRoute default/app-route not found")


def test_linkerd_traffic_split_needs_its_root_service(cluster: Cluster) -> None:
    basics(cluster.kube)
    upstream.install(cluster.kube, "split.smi-spec.io", "TrafficSplit")
    split = {"trafficSplit": {"name": "app-split", "rootService": "app"}}
    target = rollout(canary={"trafficRouting": {"linkerd": split}})
    assert failed(run(cluster, target)) == {
        "Service default/app": (
            "Service default/app (trafficRouting.linkerd.trafficSplit.rootService) not found"
        )
    }
    create(
        cluster.kube, SERVICES, "app", spec={"selector": {"app": "app"}, "ports": [{"port": 80}]}
    )
    assert failed(run(cluster, target)) == {}


def test_a_forbidden_routing_read_says_the_check_could_not_be_made(cluster: Cluster) -> None:
    basics(cluster.kube)
    create(cluster.kube, INGRESSES, "app-ingress", spec=_ingress("nginx"))
    # Two reads of the Ingress: the router's, then preflight's own for its IngressClass.
    cluster.sandbox.faults.add(verb="get", resource="ingresses", code=403, count=2)
    problems = failed(run(cluster, rollout(canary=NGINX)))
    assert list(problems) == [
        "trafficRouting.nginx",
        "IngressClass of Ingress default/app-ingress",
    ]
    assert problems["trafficRouting.nginx"].startswith(
        "could not check the nginx routing objects: get "
    )
    assert problems["IngressClass of Ingress default/app-ingress"].startswith(
        "could not check the IngressClass of Ingress default/app-ingress: get "
    )
    assert all(": 403 " in m for m in problems.values())
