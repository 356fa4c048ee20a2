"""Preflight of the analysis a Rollout asks for, against the sandbox: templates exist and are
valid, the Secrets they (and the Rollout's args) read exist with their keys, and every
Prometheus answers, through the default HTTP check on a 127.0.0.1 server or a closed port."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rollout.analysis.preflight_analysis import prometheus_answers
from rollout.kube.kinds import ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES, SECRETS
from rollout.models.preflight import Preflight
from rollout.models.resource import AnalysisTemplate
from tests.analysis.preflight_cases import (
    NS,
    basics,
    by_name,
    closed_port_address,
    create,
    failed,
    prometheus_api,
    rollout,
    run,
    secret_data,
)
from tests.e2e.harness import Cluster

Obj = dict[str, Any]
TEMPLATE = "AnalysisTemplate default/success-rate"


@pytest.fixture(scope="module")
def prom() -> Iterator[str]:
    with prometheus_api() as address:
        yield address


def template(address: str | None = None, **prometheus: Any) -> Obj:
    """The spec of a one-metric template; `address` None leaves it to spec.analysis."""
    provider: Obj = {"query": "sum(rate(errors[5m]))", **prometheus}
    if address is not None:
        provider["address"] = address
    metric = {"name": "errors", "successCondition": "result < 0.01", "provider": {}}
    metric["provider"] = {"prometheus": provider}
    return {"metrics": [metric]}


def make_template(cluster: Cluster, spec: Obj, *, name: str = "success-rate") -> None:
    create(cluster.kube, ANALYSIS_TEMPLATES, name, spec=spec)


def step(*names: str, cluster_scope: bool = False, args: list[Obj] | None = None) -> Obj:
    refs = [{"templateName": n, "clusterScope": cluster_scope} for n in names]
    return {"analysis": {"templates": refs, "args": args or []}}


def analysed(*steps: Obj, background: Obj | None = None, **options: Any) -> Any:
    canary: Obj = {"steps": [{"setWeight": 20}, *steps]}
    if background is not None:
        canary["analysis"] = background["analysis"]
    return rollout(canary=canary, **options)


def test_a_missing_template_fails_and_passes_once_created(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    target = analysed(step("success-rate"))
    assert failed(run(cluster, target)) == {TEMPLATE: f"{TEMPLATE} (steps[1].analysis) not found"}
    make_template(cluster, template(prom))
    checks = by_name(run(cluster, target))
    assert checks[TEMPLATE].ok
    assert checks[f"Prometheus {prom}"].message == (
        f"Prometheus {prom} ({TEMPLATE} metric 'errors') answers"
    )
    assert failed(list(checks.values())) == {}


def test_a_cluster_template_of_the_background_analysis(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    target = analysed(background=step("shared", cluster_scope=True))
    name = "ClusterAnalysisTemplate shared"
    assert failed(run(cluster, target)) == {name: f"{name} (background analysis) not found"}
    create(cluster.kube, CLUSTER_ANALYSIS_TEMPLATES, "shared", spec=template(prom))
    assert by_name(run(cluster, target))[name].ok


def test_given_templates_are_used_without_reading_them(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    given = AnalysisTemplate.model_validate(
        {
            "apiVersion": "rollout.dev/v1alpha1",
            "kind": "AnalysisTemplate",
            "metadata": {"name": "success-rate", "namespace": NS},
            "spec": template(prom),
        }
    )
    cluster.sandbox.requests.clear()
    checks = run(cluster, analysed(step("success-rate")), templates=[given])
    assert failed(checks) == {}
    assert by_name(checks)[TEMPLATE].ok
    read = {r.resource for r in cluster.sandbox.requests.entries()}
    assert "analysistemplates" not in read and "services" in read


def test_an_invalid_template_fails_naming_the_problem(cluster: Cluster) -> None:
    basics(cluster.kube)
    spec = template("http://127.0.0.1:1")
    del spec["metrics"][0]["successCondition"]
    make_template(cluster, spec)
    message = failed(run(cluster, analysed(step("success-rate"))))[TEMPLATE]
    assert message.startswith(f"{TEMPLATE} (steps[1].analysis) is invalid: spec.metrics.0")
    assert "successCondition" in message


def test_an_arg_without_a_value_must_be_passed(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    make_template(cluster, {"args": [{"name": "service"}], **template(prom)})
    checks = failed(run(cluster, analysed(step("success-rate"))))
    assert checks == {TEMPLATE: f"{TEMPLATE} (steps[1].analysis) needs args not given: service"}
    passed = step("success-rate", args=[{"name": "service", "value": "app"}])
    assert failed(run(cluster, analysed(passed))) == {}


def test_template_and_arg_secrets_must_exist_with_their_keys(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    header = {"name": "X-Org", "valueFrom": {"secretKeyRef": {"name": "prom", "key": "org"}}}
    spec = template(prom, bearerToken={"name": "prom", "key": "token"}, headers=[header])
    spec["args"] = [{"name": "api-key"}]
    spec["metrics"].append(
        {
            "name": "health",
            "successCondition": "result == true",
            # Never called by preflight: nothing listens there, and it must not matter.
            "provider": {
                "web": {
                    "url": "http://127.0.0.1:1/health",
                    "headers": [
                        {
                            "name": "Authorization",
                            "valueFrom": {"secretKeyRef": {"name": "web", "key": "auth"}},
                        }
                    ],
                }
            },
        }
    )
    make_template(cluster, spec)
    arg = {"name": "api-key", "valueFrom": {"secretKeyRef": {"name": "keys", "key": "api"}}}
    target = analysed(step("success-rate", args=[arg]))
    metric = f"{TEMPLATE} metric 'errors'"
    assert failed(run(cluster, target)) == {
        "Secret default/keys": "Secret default/keys (steps[1].analysis arg 'api-key') not found",
        "Secret default/prom": (
            f"Secret default/prom ({metric} bearerToken, {metric} header X-Org) not found"
        ),
        "Secret default/web": (
            f"Secret default/web ({TEMPLATE} metric 'health' header Authorization) not found"
        ),
    }
    create(cluster.kube, SECRETS, "keys", data=secret_data(api="k-value"))
    create(cluster.kube, SECRETS, "prom", data=secret_data(token="t-value"))
    create(cluster.kube, SECRETS, "web", data=secret_data(auth="a-value"))
    checks = run(cluster, target)
    assert failed(checks) == {
        "Secret default/prom": (
            f"Secret default/prom ({metric} bearerToken, {metric} header X-Org) has no key 'org'"
        )
    }
    assert not any("value" in c.message for c in checks if c.name.startswith("Secret"))
    assert not any("127.0.0.1:1" in c.name for c in checks), "web URLs are not called"


def test_a_prometheus_that_does_not_answer_fails(cluster: Cluster) -> None:
    basics(cluster.kube)
    closed = closed_port_address()
    make_template(cluster, template(closed))
    message = failed(run(cluster, analysed(step("success-rate"))))[f"Prometheus {closed}"]
    assert message.startswith(
        f"Prometheus {closed} ({TEMPLATE} metric 'errors') does not answer: ConnectError"
    )


def test_the_default_address_and_args_in_addresses(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    make_template(cluster, template(None), name="default-address")
    spec = template("{{args.prometheus}}")
    make_template(cluster, {"args": [{"name": "prometheus"}], **spec}, name="by-arg")
    closed = closed_port_address()
    target = analysed(
        step("default-address"),
        step("by-arg", args=[{"name": "prometheus", "value": closed}]),
        analysis={"prometheus": {"address": prom}},
    )
    checks = run(cluster, target)
    users = "spec.analysis.prometheus, AnalysisTemplate default/default-address metric 'errors'"
    assert by_name(checks)[f"Prometheus {prom}"].message == f"Prometheus {prom} ({users}) answers"
    assert list(failed(checks)) == [f"Prometheus {closed}"]
    names = [c.name for c in checks]
    assert names.index(f"Prometheus {prom}") < names.index(f"Prometheus {closed}")


def test_a_metric_without_any_address_fails(cluster: Cluster) -> None:
    basics(cluster.kube)
    make_template(cluster, template(None))
    assert failed(run(cluster, analysed(step("success-rate")))) == {
        f"Prometheus for {TEMPLATE}": f"{TEMPLATE} metric 'errors' names no prometheus address "
        "and spec.analysis.prometheus is not set"
    }


def test_check_providers_off_calls_no_prometheus(cluster: Cluster) -> None:
    basics(cluster.kube)
    make_template(cluster, template(closed_port_address()))
    target = analysed(step("success-rate"), preflight=Preflight(check_providers=False))
    checks = run(cluster, target)
    assert failed(checks) == {}
    assert not any(c.name.startswith("Prometheus") for c in checks)


def test_a_forbidden_template_read_is_a_failed_check(cluster: Cluster, prom: str) -> None:
    basics(cluster.kube)
    make_template(cluster, template(prom))
    cluster.sandbox.faults.add(verb="get", resource="analysistemplates", code=403)
    message = failed(run(cluster, analysed(step("success-rate"))))[TEMPLATE]
    assert message.startswith(f"could not check {TEMPLATE} (steps[1].analysis): get ")
    assert ": 403 " in message


def test_prometheus_answers(prom: str) -> None:
    assert prometheus_answers(prom) is None
    assert prometheus_answers(prom + "/") is None
    # Something answers there, but not the Prometheus API.
    assert prometheus_answers(prom + "/elsewhere") == (
        f"HTTP 404 from {prom}/elsewhere/api/v1/query"
    )
    # Credentials in an address never reach a message.
    closed = closed_port_address()
    answer = prometheus_answers(closed.replace("http://", "http://admin:hunter2@"))
    assert answer is not None and "hunter2" not in answer
