"""The istio router's TLS and TCP routes: which `spec.tls[]` / `spec.tcp[]` entries of a
VirtualService carry weights we manage (host mode only).

A TLS route is chosen, as in Argo Rollouts, by one `match[]` entry whose `sniHosts` contain
every configured SNI host (and whose `port` is the configured one, when given); a TCP route by
one `match[]` entry with the configured `port`. The first matching route wins. Their `route[]`
entries have the same shape as an HTTP route's (`destination.host`, `weight`), so the router
sets their weights with the same code.
"""

from __future__ import annotations

from typing import Any

from rollout.models.traffic import IstioTCPRoute, IstioTLSRoute, IstioVirtualService
from rollout.routing import RoutingObjectNotFoundError

Obj = dict[str, Any]


def _tls_matches(route: Obj, want: IstioTLSRoute) -> bool:
    return any(
        set(want.sni_hosts) <= set(m.get("sniHosts") or [])
        and (want.port is None or m.get("port") == want.port)
        for m in route.get("match") or []
    )


def _tcp_matches(route: Obj, want: IstioTCPRoute) -> bool:
    return any(m.get("port") == want.port for m in route.get("match") or [])


def l4_routes(vs: Obj, spec: IstioVirtualService) -> list[Obj]:
    """The configured TLS then TCP routes (dicts from `vs`, to edit in place). Raises
    RoutingObjectNotFoundError naming the first one that is not there."""
    where = f"VirtualService {vs['metadata'].get('namespace')}/{spec.name}"
    found: list[Obj] = []
    tls = vs.get("spec", {}).get("tls") or []
    for want_tls in spec.tls_routes:
        route = next((r for r in tls if _tls_matches(r, want_tls)), None)
        if route is None:
            port = f" port {want_tls.port}" if want_tls.port is not None else ""
            raise RoutingObjectNotFoundError(
                f"{where} has no TLS route matching sniHosts {want_tls.sni_hosts}{port}"
            )
        found.append(route)
    tcp = vs.get("spec", {}).get("tcp") or []
    for want_tcp in spec.tcp_routes:
        route = next((r for r in tcp if _tcp_matches(r, want_tcp)), None)
        if route is None:
            raise RoutingObjectNotFoundError(
                f"{where} has no TCP route matching port {want_tcp.port}"
            )
        found.append(route)
    return found
