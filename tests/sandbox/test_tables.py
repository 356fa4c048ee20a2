"""Server-side printing (``Accept: application/json;as=Table``), as kubectl get uses it.

Expected behaviour: API concepts, "Receiving resources as Tables" (a
meta.k8s.io/v1 Table with columnDefinitions and rows whose object is
PartialObjectMetadata by default) and CRD additionalPrinterColumns.
"""

from __future__ import annotations

from kubernetes import client

from .conftest import unique
from .helpers import crd, deployment, raw, wait_until

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_list_as_table(apps: client.AppsV1Api, ns: str) -> None:
    apps.create_namespaced_deployment(ns, deployment("tbl", replicas=2))

    def ready_row() -> dict | None:
        table = raw(apps.list_namespaced_deployment, ns, _headers={"Accept": TABLE})
        return table if table["rows"] and table["rows"][0]["cells"][1] == "2/2" else None

    table = wait_until(ready_row)
    assert (table["kind"], table["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in table["columnDefinitions"]] == [
        "Name",
        "Ready",
        "Up-to-date",
        "Available",
        "Age",
    ]
    row = table["rows"][0]
    assert row["cells"][:4] == ["tbl", "2/2", 2, 2]
    assert row["object"]["kind"] == "PartialObjectMetadata"
    assert row["object"]["metadata"]["name"] == "tbl"


def test_get_as_table_and_default_columns(core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, {"metadata": {"name": "one"}})
    table = raw(core.read_namespaced_config_map, "one", ns, _headers={"Accept": TABLE})
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Age"]
    assert table["rows"][0]["cells"][0] == "one"
    assert table["rows"][0]["cells"][1].endswith("s")


def test_crd_printer_columns(
    ext: client.ApiextensionsV1Api, custom: client.CustomObjectsApi, ns: str
) -> None:
    group = f"{unique('p')}.example.com"
    body = crd(group, "things", "Thing", scale=False)
    body["spec"]["versions"][0]["additionalPrinterColumns"] = [
        {"name": "Color", "type": "string", "jsonPath": ".spec.color"},
        {
            "name": "Ready",
            "type": "string",
            "jsonPath": '.status.conditions[?(@.type=="Ready")].status',
        },
    ]
    ext.create_custom_resource_definition(body)
    thing = {
        "apiVersion": f"{group}/v1",
        "kind": "Thing",
        "metadata": {"name": "t"},
        "spec": {"color": "red"},
    }
    custom.create_namespaced_custom_object(group, "v1", ns, "things", thing)
    custom.patch_namespaced_custom_object_status(
        group,
        "v1",
        ns,
        "things",
        "t",
        {"status": {"conditions": [{"type": "Ready", "status": "True"}]}},
    )
    table = raw(
        custom.list_namespaced_custom_object, group, "v1", ns, "things", _headers={"Accept": TABLE}
    )
    assert [c["name"] for c in table["columnDefinitions"]] == ["Name", "Color", "Ready"]
    assert table["rows"][0]["cells"] == ["t", "red", "True"]
