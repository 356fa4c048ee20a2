"""Lists, label selectors, field selectors and delete-collection.

Expected behaviour: "Labels and Selectors" (equality- and set-based
requirements, comma is AND, != and notin match objects without the key) and
"Field Selectors" (=, ==, != on metadata.name, metadata.namespace and
kind-specific fields such as an Event's involvedObject).
"""

from __future__ import annotations

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from .helpers import configmap

LABELS = {
    "a": {"env": "prod", "tier": "web"},
    "b": {"env": "dev", "tier": "web"},
    "c": {"env": "qa"},
    "d": {},
}


@pytest.fixture
def labelled(core: client.CoreV1Api, ns: str) -> str:
    for name, labels in LABELS.items():
        core.create_namespaced_config_map(ns, configmap(name, labels))
    return ns


@pytest.mark.parametrize(
    ("selector", "expected"),
    [
        ("env=prod", "a"),
        ("env==prod", "a"),
        ("env!=prod", "bcd"),  # != also selects objects without the label
        ("env in (prod,dev)", "ab"),
        ("env notin (prod, dev)", "cd"),  # notin also selects objects without the label
        ("tier", "ab"),
        ("!tier", "cd"),
        ("tier=web,env=dev", "b"),  # comma is AND
        ("tier,!env", ""),
        ("env in (qa),!tier", "c"),
        ("", "abcd"),
    ],
)
def test_label_selector_grammar(
    core: client.CoreV1Api, labelled: str, selector: str, expected: str
) -> None:
    items = core.list_namespaced_config_map(labelled, label_selector=selector).items
    assert "".join(sorted(i.metadata.name for i in items)) == expected


@pytest.mark.parametrize(
    ("selector", "why"),
    [
        ("env in prod", "found no '('"),
        ("a@b=c", "key: Invalid value"),  # the key is checked as the API server checks it
        ("env=a/b", "values[0][env]: Invalid value"),  # and so is every value
    ],
)
def test_malformed_label_selector_is_400(
    core: client.CoreV1Api, ns: str, selector: str, why: str
) -> None:
    with pytest.raises(ApiException) as err:
        core.list_namespaced_config_map(ns, label_selector=selector)
    assert err.value.status == 400
    assert why in err.value.body


def test_field_selector_on_metadata(core: client.CoreV1Api, labelled: str) -> None:
    # Field selectors: metadata.name and metadata.namespace with =, == and !=.
    by_name = core.list_namespaced_config_map(labelled, field_selector="metadata.name=b")
    assert [i.metadata.name for i in by_name.items] == ["b"]
    by_eq = core.list_namespaced_config_map(labelled, field_selector="metadata.name==c")
    assert [i.metadata.name for i in by_eq.items] == ["c"]
    not_a = core.list_namespaced_config_map(labelled, field_selector="metadata.name!=a")
    assert sorted(i.metadata.name for i in not_a.items) == ["b", "c", "d"]
    everywhere = core.list_config_map_for_all_namespaces(
        field_selector=f"metadata.namespace={labelled},metadata.name!=d"
    )
    assert sorted(i.metadata.name for i in everywhere.items) == ["a", "b", "c"]


def test_field_and_label_selectors_combine(core: client.CoreV1Api, labelled: str) -> None:
    items = core.list_namespaced_config_map(
        labelled, label_selector="tier=web", field_selector="metadata.name!=a"
    ).items
    assert [i.metadata.name for i in items] == ["b"]


def test_field_selector_on_event_involved_object(core: client.CoreV1Api, ns: str) -> None:
    # Field selectors: Events support involvedObject.kind/name/uid.
    for name, kind, uid in (
        ("e1", "Deployment", "u1"),
        ("e2", "Pod", "u2"),
        ("e3", "Deployment", "u3"),
    ):
        core.create_namespaced_event(
            ns,
            {
                "metadata": {"name": name},
                "involvedObject": {
                    "kind": kind,
                    "name": f"obj-{name}",
                    "uid": uid,
                    "namespace": ns,
                },
                "reason": "Test",
                "message": "m",
                "type": "Normal",
            },
        )
    deps = core.list_namespaced_event(ns, field_selector="involvedObject.kind=Deployment")
    assert sorted(e.metadata.name for e in deps.items) == ["e1", "e3"]
    one = core.list_namespaced_event(
        ns, field_selector="involvedObject.kind=Deployment,involvedObject.name=obj-e3"
    )
    assert [e.metadata.name for e in one.items] == ["e3"]
    by_uid = core.list_namespaced_event(ns, field_selector="involvedObject.uid!=u1")
    assert sorted(e.metadata.name for e in by_uid.items) == ["e2", "e3"]


def test_list_kind_and_resource_version(core: client.CoreV1Api, labelled: str) -> None:
    # API concepts / collections: XList with the collection's resourceVersion in metadata.
    listed = core.list_namespaced_config_map(labelled)
    assert listed.kind == "ConfigMapList"
    assert listed.api_version == "v1"
    newest = max(int(i.metadata.resource_version) for i in listed.items)
    assert int(listed.metadata.resource_version) >= newest
    assert [i.metadata.name for i in listed.items] == sorted(i.metadata.name for i in listed.items)


def test_delete_collection_with_label_selector(core: client.CoreV1Api, labelled: str) -> None:
    # API concepts: DELETE on a collection deletes the selected objects only.
    core.delete_collection_namespaced_config_map(labelled, label_selector="tier=web")
    left = core.list_namespaced_config_map(labelled).items
    assert sorted(i.metadata.name for i in left) == ["c", "d"]


def test_events_k8s_io_group_is_served(api: client.ApiClient, ns: str) -> None:
    events = client.EventsV1Api(api)
    events.create_namespaced_event(
        ns,
        {
            "metadata": {"name": "ev"},
            "eventTime": "2024-01-01T00:00:00.000000Z",
            "reportingController": "test",
            "reportingInstance": "test-1",
            "action": "Testing",
            "reason": "Test",
            "regarding": {"kind": "Deployment", "name": "x", "namespace": ns},
            "type": "Normal",
        },
    )
    listed = events.list_namespaced_event(ns, field_selector="regarding.name=x")
    assert [e.metadata.name for e in listed.items] == ["ev"]
