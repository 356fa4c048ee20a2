"""The Analyst's I/O: templates resolved with their args, read at most once per TTL."""

from __future__ import annotations

import base64
from datetime import UTC, datetime
from typing import Any

from rollout.kube.kinds import ANALYSIS_TEMPLATES, SECRETS
from rollout.models import Rollout
from rollout.reconciler.analyst import Analyst
from tests.e2e.harness import NS, Cluster, rollout_doc

TEMPLATE: dict[str, Any] = {
    "apiVersion": "rollout.dev/v1alpha1",
    "kind": "AnalysisTemplate",
    "metadata": {"name": "rate"},
    "spec": {
        "args": [{"name": "service"}, {"name": "token"}, {"name": "app"}],
        "metrics": [
            {
                "name": "rate",
                "provider": {
                    "web": {
                        "url": "http://{{args.service}}/check?app={{args.app}}",
                        "headers": [{"name": "Authorization", "value": "{{args.token}}"}],
                    }
                },
                "successCondition": "result == true",
            }
        ],
    },
}
STEP = {
    "analysis": {
        "templates": [{"templateName": "rate"}],
        "args": [
            {"name": "service", "value": "app-canary"},
            {"name": "token", "valueFrom": {"secretKeyRef": {"name": "api", "key": "token"}}},
            {"name": "app", "valueFrom": {"fieldRef": {"fieldPath": "metadata.labels['team']"}}},
        ],
    }
}


def rollout() -> Rollout:
    doc = rollout_doc("app", "app:v1", steps=[STEP])
    doc["metadata"]["labels"] = {"team": "payments"}
    return Rollout.model_validate(doc)


def test_args_are_resolved_and_an_edited_template_applies_at_once(cluster: Cluster) -> None:
    cluster.kube.create(ANALYSIS_TEMPLATES, TEMPLATE, namespace=NS)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api"},
        "data": {"token": base64.b64encode(b"Bearer s3cret").decode()},
    }
    cluster.kube.create(SECRETS, secret, namespace=NS)
    analyst = Analyst(cluster.kube)
    resolved = analyst.resolve(rollout())
    (metric,) = resolved.metrics["step-0"]
    web = metric.provider.web
    assert web is not None
    assert web.url == "http://app-canary/check?app=payments"
    assert web.headers[0].value == "Bearer s3cret"

    edited = {**TEMPLATE, "spec": {**TEMPLATE["spec"]}}
    edited["spec"]["metrics"] = [
        {**TEMPLATE["spec"]["metrics"][0], "successCondition": "result.ok == true"}
    ]
    current = cluster.kube.get(ANALYSIS_TEMPLATES, "rate", namespace=NS)
    edited["metadata"] = {
        **edited["metadata"],
        "resourceVersion": current["metadata"]["resourceVersion"],
    }
    cluster.kube.replace(ANALYSIS_TEMPLATES, edited, namespace=NS)
    (again,) = analyst.resolve(rollout()).metrics["step-0"]
    assert again.success_condition == "result.ok == true"


def test_a_missing_template_or_secret_is_reported_per_run(cluster: Cluster) -> None:
    analyst = Analyst(cluster.kube)
    assert analyst.resolve(rollout()).errors == {"step-0": "AnalysisTemplate rate not found"}
    cluster.kube.create(ANALYSIS_TEMPLATES, TEMPLATE, namespace=NS)
    fresh = Analyst(cluster.kube)
    assert fresh.resolve(rollout()).errors == {"step-0": "Secret default/api not found"}


def test_secret_values_never_reach_the_status(cluster: Cluster) -> None:
    """A token passed through an arg into a URL comes back in the provider's error text
    (the web provider names the URL it could not reach); the recorded measurement has ***."""
    template = {**TEMPLATE, "spec": {**TEMPLATE["spec"]}}
    template["spec"]["metrics"] = [
        {
            **TEMPLATE["spec"]["metrics"][0],
            "provider": {"web": {"url": "http://127.0.0.1:1/{{args.token}}/{{args.service}}"}},
        }
    ]
    cluster.kube.create(ANALYSIS_TEMPLATES, template, namespace=NS)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "api"},
        "stringData": {"token": "tok-5ecret-77"},
    }
    cluster.kube.create(SECRETS, secret, namespace=NS)
    analyst = Analyst(cluster.kube)
    subject = rollout()
    resolved = analyst.resolve(subject)
    (metric,) = resolved.metrics["step-0"]
    ctx = analyst._context(subject, "step-0", metric, datetime.now(UTC), {})
    taken = analyst._take(subject, metric, ctx, None, datetime.now(UTC))
    assert taken.phase.value == "Error"
    shown = taken.model_dump_json()
    assert "tok-5ecret-77" not in shown and "***" in shown
