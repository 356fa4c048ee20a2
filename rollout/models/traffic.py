"""The `trafficRouting` spec: which traffic layer moves the canary's weight, and the header and
mirror routes a canary step can add. One router per Rollout for now."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, model_validator

from rollout.models.base import SpecModel

Percent = Annotated[int, Field(ge=0, le=100)]
_ROUTE_NAME = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


Port = Annotated[int, Field(ge=1, le=65535)]


class IstioTLSRoute(SpecModel):
    """A TLS route of the VirtualService (spec.tls), chosen by one of its match entries."""

    sni_hosts: Annotated[list[str], Field(min_length=1)]
    """Every one of these must be in the sniHosts of one spec.tls[].match[] entry."""
    port: Port | None = None
    """When set, that match entry's port must be this one too."""


class IstioTCPRoute(SpecModel):
    """A TCP route of the VirtualService (spec.tcp), chosen by one of its match entries."""

    port: Port
    """The port of one spec.tcp[].match[] entry."""


class IstioVirtualService(SpecModel):
    """A VirtualService whose HTTP (and optionally TLS/TCP) routes carry the stable and canary
    destinations."""

    name: str
    routes: list[str] = []
    """Names of the HTTP routes to manage. Empty: the VirtualService must have exactly one
    (or none, when tlsRoutes or tcpRoutes are given)."""
    tls_routes: list[IstioTLSRoute] = []
    """TLS routes (spec.tls) whose stable/canary weights to manage too (host mode only)."""
    tcp_routes: list[IstioTCPRoute] = []
    """TCP routes (spec.tcp) whose stable/canary weights to manage too (host mode only)."""


class IstioDestinationRule(SpecModel):
    """Subset-level routing: one host, two subsets whose labels are pinned to the revisions."""

    name: str
    canary_subset_name: str
    stable_subset_name: str
    baseline_subset_name: str | None = None
    """With `baseline: true`: a third subset, pinned to the baseline's pods."""

    @model_validator(mode="after")
    def _different(self) -> IstioDestinationRule:
        names = [self.stable_subset_name, self.canary_subset_name, self.baseline_subset_name]
        given = [n for n in names if n]
        if len(given) != len(set(given)):
            raise ValueError(
                "stableSubsetName, canarySubsetName and baselineSubsetName must differ"
            )
        return self


class IstioRouting(SpecModel):
    """Istio: by host (stableService / canaryService) or, with a destinationRule, by subset."""

    virtual_service: IstioVirtualService | None = None
    virtual_services: list[IstioVirtualService] = []
    destination_rule: IstioDestinationRule | None = None

    @model_validator(mode="after")
    def _one_kind(self) -> IstioRouting:
        if (self.virtual_service is None) == (not self.virtual_services):
            raise ValueError("give exactly one of virtualService and virtualServices")
        return self

    def services(self) -> list[IstioVirtualService]:
        return [self.virtual_service] if self.virtual_service else list(self.virtual_services)


class LinkerdHTTPRoute(SpecModel):
    """A Gateway-API-style HTTPRoute whose backendRefs carry the weights."""

    name: str
    group: Literal["policy.linkerd.io", "gateway.networking.k8s.io"] = "policy.linkerd.io"
    rule: Annotated[int, Field(ge=0)] = 0
    """Index of the rule whose backendRefs to manage."""


class SMITrafficSplit(SpecModel):
    """An SMI TrafficSplit (linkerd-smi); created and owned by the controller."""

    name: str
    api_version: Literal["split.smi-spec.io/v1alpha2", "split.smi-spec.io/v1alpha4"] = (
        "split.smi-spec.io/v1alpha2"
    )
    root_service: str


class LinkerdRouting(SpecModel):
    http_route: LinkerdHTTPRoute | None = None
    traffic_split: SMITrafficSplit | None = None

    @model_validator(mode="after")
    def _one(self) -> LinkerdRouting:
        if (self.http_route is None) == (self.traffic_split is None):
            raise ValueError("give exactly one of httpRoute and trafficSplit")
        return self


class NginxRouting(SpecModel):
    """ingress-nginx: a canary Ingress cloned from the stable one, owned by the controller."""

    stable_ingress: str
    annotation_prefix: str = "nginx.ingress.kubernetes.io"
    additional_ingress_annotations: dict[str, str] = {}
    """Added to the canary Ingress (for example canary-by-header)."""
    weight_total: Annotated[int, Field(ge=1)] = 100
    """The scale of canary-weight (canary-weight-total is set when it is not 100)."""


class GatewayAPIRouting(SpecModel):
    """Gateway API (gateway.networking.k8s.io/v1): a route rule's backendRef weights."""

    http_route: str | None = None
    grpc_route: str | None = None
    rule: Annotated[int, Field(ge=0)] = 0
    """Index of the rule whose backendRefs to manage."""

    @model_validator(mode="after")
    def _one(self) -> GatewayAPIRouting:
        if (self.http_route is None) == (self.grpc_route is None):
            raise ValueError("give exactly one of httpRoute and grpcRoute")
        return self


class ManagedRoute(SpecModel):
    """A header or mirror route the controller may add, in order of precedence."""

    name: str

    @model_validator(mode="after")
    def _name(self) -> ManagedRoute:
        if not _ROUTE_NAME.match(self.name):
            raise ValueError("name: lower-case letters, digits and '-'")
        return self


class TrafficRouting(SpecModel):
    """Exactly one traffic layer. Without trafficRouting, weights follow pod counts."""

    istio: IstioRouting | None = None
    linkerd: LinkerdRouting | None = None
    nginx: NginxRouting | None = None
    gateway_api: GatewayAPIRouting | None = Field(default=None, alias="gatewayAPI")
    managed_routes: list[ManagedRoute] = []
    """Routes setHeaderRoute / setMirrorRoute steps may create, highest precedence first."""

    @model_validator(mode="after")
    def _exactly_one(self) -> TrafficRouting:
        given = [n for n in ("istio", "linkerd", "nginx", "gateway_api") if getattr(self, n)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of istio, linkerd, nginx or gatewayAPI"
                + (f" (found: {', '.join(given)})" if given else "")
            )
        return self

    @property
    def router_name(self) -> str:
        """The router's registered name: its key in the YAML (istio, ..., gatewayAPI)."""
        for attr, key in (
            ("istio", "istio"),
            ("linkerd", "linkerd"),
            ("nginx", "nginx"),
            ("gateway_api", "gatewayAPI"),
        ):
            if getattr(self, attr) is not None:
                return key
        raise AssertionError("validated: exactly one router")


class StringMatch(SpecModel):
    exact: str | None = None
    prefix: str | None = None
    regex: str | None = None

    @model_validator(mode="after")
    def _one(self) -> StringMatch:
        if sum(v is not None for v in (self.exact, self.prefix, self.regex)) != 1:
            raise ValueError("give exactly one of exact, prefix or regex")
        return self


class HeaderMatch(SpecModel):
    header_name: str
    header_value: StringMatch


class SetHeaderRoute(SpecModel):
    """Send requests matching these headers to the canary, whatever its weight (A/B testing).
    With no match, the route is removed."""

    name: str
    match: list[HeaderMatch] = []


class SetMirrorRoute(SpecModel):
    """Mirror a percentage of (matching) traffic to the canary. With no match and percentage
    unset, the route is removed."""

    name: str
    match: list[HeaderMatch] = []
    percentage: Percent | None = None
