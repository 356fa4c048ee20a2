"""The routing examples pass `lint`, their routing objects fit the real upstream schemas, and
a step a router cannot carry out is rejected naming the router (never silently ignored)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from rollout.errors import SpecError
from rollout.lint import lint_report
from rollout.parsing import parse_rollout
from tests.meshes import upstream
from tests.meshes.cases_nginx import validate as validate_ingress

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def documents() -> list[dict[str, Any]]:
    return [
        d for f in sorted(EXAMPLES.rglob("*.yaml")) for d in yaml.safe_load_all(f.read_text()) if d
    ]


def test_every_example_passes_lint() -> None:
    report = lint_report([str(EXAMPLES)])
    assert report.problems == []
    rollouts = [d for d in documents() if d["kind"] == "Rollout"]
    assert len(rollouts) == 12
    assert report.templates_valid == 3
    for doc in rollouts:
        parse_rollout(doc)


@pytest.mark.parametrize("kind", ["VirtualService", "DestinationRule", "HTTPRoute", "Ingress"])
def test_example_routing_objects_fit_the_upstream_schemas(kind: str) -> None:
    found = [d for d in documents() if d["kind"] == kind]
    assert found, f"no example {kind}"
    for doc in found:
        if kind == "Ingress":
            validate_ingress(doc)
        else:
            upstream.validate(doc)


def routed(routing: dict[str, Any], step: dict[str, Any]) -> dict[str, Any]:
    rollout = next(
        d for d in documents() if d["kind"] == "Rollout" and d["metadata"]["name"] == "web"
    )  # the nginx example
    rollout["spec"]["strategy"]["canary"]["trafficRouting"] = routing
    rollout["spec"]["strategy"]["canary"]["steps"] = [step]
    return rollout


def test_a_step_the_router_cannot_do_is_rejected_with_the_router_named() -> None:
    doc = routed(
        {"nginx": {"stableIngress": "web"}, "managedRoutes": [{"name": "shadow"}]},
        {"setMirrorRoute": {"name": "shadow", "percentage": 10}},
    )
    with pytest.raises(SpecError) as err:
        parse_rollout(doc)
    (problem,) = err.value.problems
    assert problem.path == "spec.strategy.canary.steps[0].setMirrorRoute"
    assert "the nginx router cannot do setMirrorRoute" in problem.reason
    assert "setHeaderRoute" in problem.reason  # what it can do instead


def test_a_baseline_behind_nginx_is_rejected_naming_why() -> None:
    doc = routed({"nginx": {"stableIngress": "web"}}, {"setWeight": 20})
    canary = doc["spec"]["strategy"]["canary"]
    canary.update(baseline=True, baselineService="web-baseline")
    with pytest.raises(SpecError) as err:
        parse_rollout(doc)
    (problem,) = err.value.problems
    assert problem.path == "spec.strategy.canary.baseline"
    assert "cannot split traffic three ways" in problem.reason
    assert "canary Ingress takes one weight" in problem.reason


def test_a_route_not_declared_in_managed_routes_is_rejected() -> None:
    doc = routed(
        {"istio": {"virtualService": {"name": "web"}}},
        {
            "setHeaderRoute": {
                "name": "beta",
                "match": [{"headerName": "x-beta", "headerValue": {"exact": "1"}}],
            }
        },
    )
    with pytest.raises(SpecError) as err:
        parse_rollout(doc)
    assert any("not listed in trafficRouting.managedRoutes" in p.reason for p in err.value.problems)


def test_two_routers_at_once_are_rejected() -> None:
    doc = routed(
        {"istio": {"virtualService": {"name": "web"}}, "nginx": {"stableIngress": "web"}},
        {"setWeight": 10},
    )
    with pytest.raises(SpecError) as err:
        parse_rollout(doc)
    assert any(
        "exactly one of istio, linkerd, nginx or gatewayAPI" in p.reason for p in err.value.problems
    )
