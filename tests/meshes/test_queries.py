"""Each mesh's built-in queries (data for the analysis gates) render for a real revision.

They are checked for shape here (placeholders, balanced brackets, the mesh's own metric
names); running them against a real Prometheus belongs with the analysis engine."""

from __future__ import annotations

from string import Template

import pytest

from rollout.registry import installed, load

VALUES = {
    "namespace": "shop",
    "workload": "cart-5ghqgln7zg",
    "interval": "5m",
    "ingress": "cart-web-canary",
}
METRICS = {
    "istio": "istio_requests_total",
    "linkerd": "response_total",
    "nginx": "nginx_ingress_controller_requests",
}


@pytest.mark.parametrize("name", sorted(installed("routers")))
def test_queries_render_with_balanced_brackets(name: str) -> None:
    queries = load("routers", name).queries
    if name in METRICS:
        assert {"request-count", "error-count"} <= set(queries)
        assert METRICS[name] in queries["request-count"]
    else:
        assert queries == {}  # no traffic metrics of its own (see the module)
    for text in queries.values():
        rendered = Template(text).substitute(VALUES)
        assert "$" not in rendered
        assert "shop" in rendered and (
            "cart-5ghqgln7zg" in rendered or "cart-web-canary" in rendered
        )
        for opening, closing in ("()", "{}", "[]"):
            assert rendered.count(opening) == rendered.count(closing), rendered
        assert "[5m]" in rendered
