"""Fault injection and the request log (sandbox features, observed through the client).

The failure shapes are Kubernetes' own: injected errors are Status bodies
the client turns into ApiException with the right .status; an injected 409
is the standard optimistic-concurrency Conflict.
"""

from __future__ import annotations

import time

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from rollout.sandbox import RequestRecord, Sandbox

from .helpers import configmap, status_of


def test_injected_500_fails_request_and_changes_nothing(
    sandbox: Sandbox, core: client.CoreV1Api, ns: str
) -> None:
    sandbox.faults.add(verb="create", resource="configmaps", code=500)
    with pytest.raises(ApiException) as err:
        core.create_namespaced_config_map(ns, configmap("f500"))
    assert err.value.status == 500
    assert status_of(err.value)["reason"] == "InternalError"
    assert core.list_namespaced_config_map(ns).items == []
    # count=1: the next one goes through.
    core.create_namespaced_config_map(ns, configmap("f500"))


def test_injected_409_is_a_conflict_status(
    sandbox: Sandbox, core: client.CoreV1Api, ns: str
) -> None:
    core.create_namespaced_config_map(ns, configmap("f409"))
    sandbox.faults.add(verb="patch", resource="configmaps", name="f409", code=409)
    with pytest.raises(ApiException) as err:
        core.patch_namespaced_config_map("f409", ns, {"data": {"k": "new"}})
    assert err.value.status == 409
    status = status_of(err.value)
    assert status["reason"] == "Conflict"
    assert status["message"].startswith('Operation cannot be fulfilled on configmaps "f409"')
    assert core.read_namespaced_config_map("f409", ns).data == {"k": "v"}


def test_fault_matching_and_count(sandbox: Sandbox, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("target"))
    core.create_namespaced_config_map(ns, configmap("bystander"))
    sandbox.faults.add(verb="get", resource="configmaps", name="target", code=503, count=2)
    core.read_namespaced_config_map("bystander", ns)  # other names are unaffected
    core.list_namespaced_config_map(ns)  # so are other verbs
    for _ in range(2):
        with pytest.raises(ApiException) as err:
            core.read_namespaced_config_map("target", ns)
        assert err.value.status == 503
    assert core.read_namespaced_config_map("target", ns).metadata.name == "target"


def test_fault_every_nth(sandbox: Sandbox, core: client.CoreV1Api, ns: str) -> None:
    sandbox.faults.add(verb="list", resource="configmaps", code=500, every=2, count=2)
    outcomes = []
    for _ in range(6):
        try:
            core.list_namespaced_config_map(ns)
            outcomes.append("ok")
        except ApiException as exc:
            outcomes.append(str(exc.status))
    assert outcomes == ["ok", "500", "ok", "500", "ok", "ok"]


def test_timeout_fault_drops_the_connection(
    sandbox: Sandbox, core: client.CoreV1Api, ns: str
) -> None:
    # The request is held, then the connection closes with no response: a client-side error.
    sandbox.faults.add(verb="create", resource="configmaps", code="timeout", hold=0.3)
    started = time.monotonic()
    with pytest.raises(urllib3.exceptions.HTTPError):
        core.create_namespaced_config_map(ns, configmap("hang"))
    assert time.monotonic() - started >= 0.25
    assert core.list_namespaced_config_map(ns).items == []
    [record] = [r for r in sandbox.requests.entries() if r.injected and r.namespace == ns]
    assert (record.verb, record.status) == ("create", 0)


def test_watch_fault_fails_the_watch_request(
    sandbox: Sandbox, core: client.CoreV1Api, ns: str
) -> None:
    sandbox.faults.add(verb="watch", resource="configmaps", code=500)
    with pytest.raises(ApiException) as err:
        list(watch.Watch().stream(core.list_namespaced_config_map, ns, timeout_seconds=1))
    assert err.value.status == 500


def test_request_log_records_and_counts(sandbox: Sandbox, core: client.CoreV1Api, ns: str) -> None:
    core.create_namespaced_config_map(ns, configmap("logged"))
    core.read_namespaced_config_map("logged", ns)
    core.read_namespaced_config_map("logged", ns)
    core.patch_namespaced_config_map("logged", ns, {"data": {"k": "2"}})
    with pytest.raises(ApiException):
        core.read_namespaced_config_map("missing", ns)
    mine = [
        r for r in sandbox.requests.entries() if r.namespace == ns and r.resource == "configmaps"
    ]
    assert [r.verb for r in mine] == ["create", "get", "get", "patch", "get"]
    assert [r.status for r in mine] == [201, 200, 200, 200, 404]
    first = mine[0]
    assert isinstance(first, RequestRecord)
    assert (first.method, first.group, first.subresource, first.name) == ("POST", "", None, None)
    assert first.path == f"/api/v1/namespaces/{ns}/configmaps"
    assert first.duration >= 0 and first.started > 0 and not first.injected
    counts = sandbox.requests.counts(by=("verb", "resource", "status"))
    assert counts[("get", "configmaps", "404")] >= 1
    assert sandbox.requests.counts()[("patch",)] >= 1


def test_request_log_clear(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    core.list_namespace()
    sandbox.requests.clear()
    assert sandbox.requests.entries() == []
    core.list_namespace()
    assert sandbox.requests.counts(by=("verb", "resource")) == {("list", "namespaces"): 1}


def test_faults_clear(sandbox: Sandbox, core: client.CoreV1Api) -> None:
    sandbox.faults.add(code=500, count=100)
    sandbox.faults.clear()
    assert core.list_namespace().items


def test_invalid_fault_is_rejected(sandbox: Sandbox) -> None:
    with pytest.raises(ValueError):
        sandbox.faults.add(code=200)
