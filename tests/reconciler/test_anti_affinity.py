"""Blue-green's antiAffinity: the new revision's Deployment keeps off the old revision's nodes,
valid against the real Kubernetes schema, while the template kept for undo (and so the
revision's hash) stays exactly as the user wrote it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rollout import labels
from rollout.engine import CreateRevision
from rollout.reconciler.execute import revision_deployment
from tests.e2e.harness import blue_green_doc
from tests.reconciler.test_written_objects import RICH_TEMPLATE, rollout, validate


def deployment(anti_affinity: dict[str, Any] | None, *, avoid: str | None) -> dict[str, Any]:
    fields = {"antiAffinity": anti_affinity} if anti_affinity else {}
    doc = blue_green_doc("demo", "demo:v2", blue_green=fields)
    doc["spec"]["template"] = RICH_TEMPLATE
    doc["spec"]["selector"] = {"matchLabels": {"app": "demo"}}
    action = CreateRevision("newrev", 2, 3, RICH_TEMPLATE, avoid=avoid)
    return revision_deployment(rollout(doc), action)


@pytest.mark.parametrize(
    ("rule", "field", "term"),
    [
        (
            {"preferredDuringSchedulingIgnoredDuringExecution": {"weight": 40}},
            "preferredDuringSchedulingIgnoredDuringExecution",
            lambda t: t["podAffinityTerm"] if t["weight"] == 40 else None,
        ),
        (
            {"requiredDuringSchedulingIgnoredDuringExecution": {}},
            "requiredDuringSchedulingIgnoredDuringExecution",
            lambda t: t,
        ),
    ],
)
def test_the_new_revision_avoids_the_old_revisions_nodes(
    rule: dict[str, Any], field: str, term: Any
) -> None:
    dep = deployment(rule, avoid="oldrev")
    validate(dep)
    (written,) = dep["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"][field]
    assert term(written) == {
        "labelSelector": {"matchLabels": {labels.REVISION: "oldrev"}},
        "topologyKey": "kubernetes.io/hostname",
    }
    kept = json.loads(dep["metadata"]["annotations"][labels.TEMPLATE])
    assert kept == RICH_TEMPLATE  # undo brings back what the user wrote, no affinity added
    assert "affinity" not in RICH_TEMPLATE["spec"]


def test_without_anti_affinity_or_an_old_revision_nothing_is_added() -> None:
    assert "affinity" not in deployment(None, avoid="oldrev")["spec"]["template"]["spec"]
    rule = {"requiredDuringSchedulingIgnoredDuringExecution": {}}
    assert "affinity" not in deployment(rule, avoid=None)["spec"]["template"]["spec"]
