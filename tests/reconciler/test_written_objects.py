"""Every core object the controller writes is valid against the real Kubernetes schema.

Checked with kubernetes-validate in strict mode (an unknown or misspelt field is an error, as
`kubectl apply --validate=strict` would make it): the revision Deployment as
`revision_deployment` builds it, and, after a real release against the sandbox, every body the
controller sent to create an object and every Deployment, Service and Event as stored.
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Iterator
from typing import Any

import kubernetes_validate
import pytest

from rollout import labels
from rollout.engine import CreateRevision, revision_hash
from rollout.kube import DEPLOYMENTS, EVENTS, ROLLOUTS, SERVICES, Kind, Kube
from rollout.kube.client import Obj
from rollout.models import Rollout
from rollout.reconciler.controller import Controller
from rollout.reconciler.execute import revision_deployment
from tests.e2e.harness import NS, Cluster, rollout_doc

KUBERNETES = "1.30"


def validate(obj: Obj) -> None:
    try:
        kubernetes_validate.validate(obj, KUBERNETES, strict=True)
    except kubernetes_validate.ValidationError as err:
        where = ".".join(str(p) for p in err.path) or "(top level)"
        name = obj.get("metadata", {}).get("name") or obj.get("metadata", {}).get("generateName")
        raise AssertionError(f"{obj['kind']} {name}: {where}: {err.message}") from None


def rollout(doc: Obj) -> Rollout:
    doc = copy.deepcopy(doc)
    doc["metadata"].update(uid="0d7e4c9a-3f57-4c1b-a4a5-9a1f3f1f2b6e", generation=1)
    return Rollout.model_validate(doc)


RICH_TEMPLATE: Obj = {
    "metadata": {
        "labels": {"app": "demo", "tier": "web"},
        "annotations": {"prometheus.io/scrape": "true"},
    },
    "spec": {
        "containers": [
            {
                "name": "app",
                "image": "registry.example/app:1.2.3",
                "ports": [{"name": "http", "containerPort": 8080}],
                "env": [{"name": "MODE", "value": "canary"}],
                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                "readinessProbe": {"httpGet": {"path": "/ready", "port": "http"}},
            },
            {"name": "sidecar", "image": "envoy:1.30", "args": ["--log-level", "info"]},
        ],
        "terminationGracePeriodSeconds": 30,
    },
}


def demo_doc(template: Obj | None = None, selector: Obj | None = None) -> Obj:
    doc = rollout_doc("demo", "app:v1")
    if template is not None:
        doc["spec"]["template"] = template
    if selector is not None:
        doc["spec"]["selector"] = selector
    return doc


@pytest.mark.parametrize(
    "doc",
    [
        demo_doc(),
        demo_doc(RICH_TEMPLATE),
        demo_doc(
            RICH_TEMPLATE,
            {
                "matchLabels": {"app": "demo"},
                "matchExpressions": [{"key": "tier", "operator": "In", "values": ["web"]}],
            },
        ),
    ],
    ids=["minimal", "rich-template", "match-expressions"],
)
def test_a_revision_deployment_is_a_valid_deployment(doc: Obj) -> None:
    parsed = rollout(doc)
    assert parsed.spec.template is not None
    template = parsed.spec.template.to_dict()
    revision = revision_hash(template)
    deployment = revision_deployment(parsed, CreateRevision(revision, 3, 2, template))
    validate(deployment)
    # What makes it ours: the revision label on everything that selects, and the owner.
    assert deployment["metadata"]["name"] == f"demo-{revision}"
    assert deployment["spec"]["selector"]["matchLabels"] == {
        **doc["spec"]["selector"]["matchLabels"],
        labels.REVISION: revision,
    }
    expressions = deployment["spec"]["selector"].get("matchExpressions") or []
    assert expressions == doc["spec"]["selector"].get("matchExpressions", [])
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert pod_labels == {
        **doc["spec"]["template"]["metadata"]["labels"],
        labels.REVISION: revision,
    }
    assert deployment["spec"]["template"]["spec"] == doc["spec"]["template"]["spec"]
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["uid"], owner["controller"]) == (
        "Rollout",
        parsed.metadata.uid,
        True,
    )
    # The template the Rollout holds is not changed by building its Deployment.
    assert labels.REVISION not in template["metadata"]["labels"]


def test_the_schema_check_is_strict() -> None:
    """A control: the validator does reject what the API server would."""
    parsed = rollout(demo_doc())
    assert parsed.spec.template is not None
    template = parsed.spec.template.to_dict()
    deployment = revision_deployment(parsed, CreateRevision("abc", 1, 1, template))
    deployment["spec"]["template"]["spec"]["containers"][0]["imagePullPolic"] = "Always"
    with pytest.raises(AssertionError, match="imagePullPolic"):
        validate(deployment)
    deployment = revision_deployment(parsed, CreateRevision("abc", 1, 1, template))
    deployment["spec"]["replicas"] = "2"
    with pytest.raises(AssertionError, match=r"spec\.replicas"):
        validate(deployment)


class RecordingKube(Kube):
    """The real client, keeping a copy of every body it is asked to create."""

    def __init__(self, api_client: Any) -> None:
        super().__init__(api_client)
        self.created: list[Obj] = []
        self._record_lock = threading.Lock()

    def create(self, kind: Kind, body: Obj, *, namespace: str | None = None) -> Obj:
        with self._record_lock:
            self.created.append(copy.deepcopy(body))
        return super().create(kind, body, namespace=namespace)


@pytest.fixture
def recording_controller(cluster: Cluster) -> Iterator[RecordingKube]:
    kube = RecordingKube(cluster.sandbox.api_client())
    controller = Controller(kube, workers=2, max_backoff=1.0)
    controller.start()
    yield kube
    controller.stop()
    kube.close()


def test_what_the_controller_writes_during_a_release_is_valid(
    cluster: Cluster, recording_controller: RecordingKube
) -> None:
    # The user's Services carry a selector key and an annotation of their own.
    for svc in ("demo-stable", "demo-canary"):
        cluster.kube.create(
            SERVICES,
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {"name": svc, "annotations": {"team": "payments"}},
                "spec": {"selector": {"app": "demo", "tier": "web"}, "ports": [{"port": 80}]},
            },
            namespace=NS,
        )
    doc = demo_doc(copy.deepcopy(RICH_TEMPLATE))
    cluster.kube.create(ROLLOUTS, doc, namespace=NS)
    cluster.wait_phase("demo", "Healthy")
    cluster.api.set_image(NS, "demo", "app", "registry.example/app:1.2.4")
    cluster.wait_step("demo", 3)
    cluster.api.restart(NS, "demo")
    cluster.api.promote(NS, "demo")
    done = cluster.wait_phase("demo", "Healthy")["status"]
    v1, v2 = cluster.status("demo")["history"][0]["revision"], done["stableRevision"]
    cluster.wait("demo", lambda _: cluster.replicas("demo")[v1][0] == 0, what="v1 scaled down")
    assert "Restarted" in [h["reason"] for h in done["history"]]

    # Every body sent to create an object, exactly as sent.
    created = list(recording_controller.created)
    assert {o["kind"] for o in created} == {"Deployment", "Event"}
    assert sum(o["kind"] == "Deployment" for o in created) == 2
    for body in created:
        validate(body)

    # Every object as stored, after our patches (pins, scales, restart stamps, renumbering).
    deployments, _ = cluster.kube.list(
        DEPLOYMENTS, namespace=NS, label_selector=f"{labels.NAME}=demo"
    )
    services = [cluster.kube.get(SERVICES, s, namespace=NS) for s in ("demo-stable", "demo-canary")]
    events = cluster.api.events(NS, "demo", limit=100)
    history = cluster.status("demo")["history"]
    assert len(deployments) == 2 and len(events) == len(history)
    # (Items of a list need not name their kind: say it, as kubectl does before validating.)
    for kind, objs in ((DEPLOYMENTS, deployments), (SERVICES, services), (EVENTS, events)):
        for obj in objs:
            validate({**obj, "apiVersion": kind.api_version, "kind": kind.kind})
    stamped = cluster.revisions("demo")[v2]["spec"]["template"]["metadata"]["annotations"]
    assert labels.RESTARTED_AT in stamped and stamped["prometheus.io/scrape"] == "true"

    # The pin adds the revision to the selector and keeps the user's own keys and annotations.
    for service in services:
        selector = service["spec"]["selector"]
        assert selector == {"app": "demo", "tier": "web", labels.REVISION: v2}
        annotations = service["metadata"]["annotations"]
        assert annotations == {"team": "payments", labels.MANAGED_BY: "demo"}

    # Events name the Rollout they are about, in its namespace.
    for event in events:
        involved = event["involvedObject"]
        assert (involved["kind"], involved["name"], involved["namespace"]) == (
            "Rollout",
            "demo",
            NS,
        )
        assert event["metadata"]["namespace"] == NS and event["type"] == "Normal"
    assert [e["reason"] for e in events] == [h["reason"] for h in history]
