"""Watch: streams of ADDED/MODIFIED/DELETED events.

Expected behaviour: API concepts, "Efficient detection of changes" (watch
from a resourceVersion sends only later changes; without one, synthetic
ADDED events for current state first; timeoutSeconds; bookmarks; 410 Gone
with reason Expired when the resourceVersion is too old) and the python
client's documented behaviour on 410 (it raises ApiException 410).
"""

from __future__ import annotations

import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import urllib3
from kubernetes import client, watch
from kubernetes.client.exceptions import ApiException

from rollout.sandbox import Sandbox, start_sandbox

from .helpers import configmap

Event = dict[str, Any]


class Collector:
    """Runs a Watch in a thread and hands out its events."""

    def __init__(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.events: queue.Queue[Event] = queue.Queue()
        self.error: BaseException | None = None
        self.finished = threading.Event()
        self._watch = watch.Watch()
        self._thread = threading.Thread(target=self._run, args=(fn, args, kwargs), daemon=True)
        self._thread.start()

    def _run(self, fn: Callable[..., Any], args: Any, kwargs: Any) -> None:
        try:
            for ev in self._watch.stream(fn, *args, **kwargs):
                self.events.put(ev)
        except BaseException as exc:  # surfaced to the test through .error
            self.error = exc
        finally:
            self.finished.set()

    def next(self, timeout: float = 3.0) -> Event:
        return self.events.get(timeout=timeout)

    def seen(self, count: int, timeout: float = 3.0) -> list[tuple[str, str]]:
        return [
            (e["type"], e["object"].metadata.name)
            for e in (self.next(timeout) for _ in range(count))
        ]

    def stop(self) -> None:
        self._watch.stop()
        self._thread.join(timeout=5)

    def join(self, timeout: float = 5.0) -> None:
        assert self.finished.wait(timeout), "watch stream did not end"


def _drain(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> list[Event]:
    return list(watch.Watch().stream(fn, *args, **kwargs))


def test_watch_without_rv_lists_then_follows(core: client.CoreV1Api, ns: str) -> None:
    # API concepts: no resourceVersion -> synthetic ADDED for current objects, then changes.
    core.create_namespaced_config_map(ns, configmap("existing"))
    w = Collector(core.list_namespaced_config_map, ns, timeout_seconds=5)
    assert w.seen(1) == [("ADDED", "existing")]
    core.create_namespaced_config_map(ns, configmap("new"))
    core.patch_namespaced_config_map("existing", ns, {"data": {"k": "2"}})
    core.delete_namespaced_config_map("new", ns)
    assert w.seen(3) == [("ADDED", "new"), ("MODIFIED", "existing"), ("DELETED", "new")]
    w.stop()


def test_watch_resumes_after_resource_version(core: client.CoreV1Api, ns: str) -> None:
    # API concepts: a watch from resourceVersion R delivers exactly the changes after R.
    first = core.create_namespaced_config_map(ns, configmap("a"))
    core.patch_namespaced_config_map("a", ns, {"data": {"k": "2"}})
    core.create_namespaced_config_map(ns, configmap("b"))
    events = _drain(
        core.list_namespaced_config_map,
        ns,
        resource_version=first.metadata.resource_version,
        timeout_seconds=1,
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("MODIFIED", "a"),
        ("ADDED", "b"),
    ]
    rvs = [int(e["object"].metadata.resource_version) for e in events]
    assert rvs == sorted(rvs) and rvs[0] > int(first.metadata.resource_version)


def test_deleted_event_has_final_state_and_new_rv(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, configmap("gone", {"keep": "me"}))
    core.delete_namespaced_config_map("gone", ns)
    events = _drain(
        core.list_namespaced_config_map,
        ns,
        resource_version=cm.metadata.resource_version,
        timeout_seconds=1,
    )
    assert [e["type"] for e in events] == ["DELETED"]
    obj = events[0]["object"]
    assert obj.metadata.labels == {"keep": "me"}
    assert int(obj.metadata.resource_version) > int(cm.metadata.resource_version)


def test_timeout_seconds_ends_the_stream(core: client.CoreV1Api, ns: str) -> None:
    # API concepts: the server closes a watch after timeoutSeconds.
    started = time.monotonic()
    assert _drain(core.list_namespaced_config_map, ns, timeout_seconds=1) == []
    assert 0.9 <= time.monotonic() - started < 3


def test_watch_with_label_selector_sees_objects_leave_and_enter(
    core: client.CoreV1Api, ns: str
) -> None:
    # Watch cache semantics: with a selector, an object that stops matching is delivered as
    # DELETED and one that starts matching as ADDED; non-matching objects are invisible.
    w = Collector(core.list_namespaced_config_map, ns, label_selector="team=a", timeout_seconds=5)
    core.create_namespaced_config_map(ns, configmap("other", {"team": "b"}))
    core.create_namespaced_config_map(ns, configmap("mine", {"team": "a"}))
    core.patch_namespaced_config_map("mine", ns, {"metadata": {"labels": {"team": "b"}}})
    core.patch_namespaced_config_map("other", ns, {"metadata": {"labels": {"team": "a"}}})
    assert w.seen(3) == [("ADDED", "mine"), ("DELETED", "mine"), ("ADDED", "other")]
    w.stop()


def test_watch_with_field_selector_on_name(core: client.CoreV1Api, ns: str) -> None:
    cm = core.create_namespaced_config_map(ns, configmap("one"))
    core.create_namespaced_config_map(ns, configmap("two"))
    core.patch_namespaced_config_map("one", ns, {"data": {"k": "x"}})
    core.patch_namespaced_config_map("two", ns, {"data": {"k": "x"}})
    events = _drain(
        core.list_namespaced_config_map,
        ns,
        field_selector="metadata.name=two",
        resource_version=cm.metadata.resource_version,
        timeout_seconds=1,
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [
        ("ADDED", "two"),
        ("MODIFIED", "two"),
    ]


def test_raw_watch_stream_format(api: client.ApiClient, core: client.CoreV1Api, ns: str) -> None:
    # API concepts: watch=1 is accepted; the body is newline-delimited JSON events, chunked.
    core.create_namespaced_config_map(ns, configmap("raw"))
    resp = api.rest_client.pool_manager.request(
        "GET",
        f"{api.configuration.host}/api/v1/namespaces/{ns}/configmaps?watch=1&timeoutSeconds=1",
        preload_content=False,
    )
    try:
        assert resp.status == 200
        assert resp.headers["Transfer-Encoding"] == "chunked"
        lines = [json.loads(line) for line in resp.read().splitlines() if line]
    finally:
        resp.release_conn()
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in lines] == [("ADDED", "raw")]
    assert lines[0]["object"]["kind"] == "ConfigMap"


def test_bookmarks(core: client.CoreV1Api, ns: str, sandbox: Sandbox) -> None:
    # API concepts / watch bookmarks: BOOKMARK events carry only a resourceVersion.
    events = _drain(
        core.list_namespaced_config_map, ns, allow_watch_bookmarks=True, timeout_seconds=2
    )
    bookmarks = [e for e in events if e["type"] == "BOOKMARK"]
    assert bookmarks, events
    meta = bookmarks[0]["raw_object"]["metadata"]
    assert int(meta["resourceVersion"]) > 0
    assert bookmarks[0]["raw_object"]["kind"] == "ConfigMap"


def test_drop_watches_ends_streams_cleanly(
    core: client.CoreV1Api, ns: str, sandbox: Sandbox
) -> None:
    core.create_namespaced_config_map(ns, configmap("seen"))
    w = Collector(core.list_namespaced_config_map, ns, timeout_seconds=30)
    assert w.seen(1) == [("ADDED", "seen")]
    started = time.monotonic()
    assert sandbox.drop_watches() >= 1
    w.join(timeout=5)
    assert time.monotonic() - started < 5
    assert w.error is None


def test_drop_watches_abrupt_breaks_the_connection(
    core: client.CoreV1Api, ns: str, sandbox: Sandbox
) -> None:
    core.create_namespaced_config_map(ns, configmap("seen"))
    w = Collector(core.list_namespaced_config_map, ns, timeout_seconds=30)
    assert w.seen(1) == [("ADDED", "seen")]
    sandbox.drop_watches(abrupt=True)
    w.join(timeout=5)
    assert isinstance(w.error, urllib3.exceptions.HTTPError), repr(w.error)


@pytest.fixture(scope="module")
def small() -> Iterator[Sandbox]:
    """A sandbox with a tiny watch history and watch queue."""
    sb = start_sandbox(watch_history=3, watch_queue=20)
    try:
        yield sb
    finally:
        sb.stop()


@pytest.fixture
def small_core(small: Sandbox) -> Iterator[client.CoreV1Api]:
    api = small.api_client()
    try:
        yield client.CoreV1Api(api)
    finally:
        api.close()


def test_too_old_resource_version_is_410_gone(small_core: client.CoreV1Api) -> None:
    # API concepts: 410 Gone / Expired when the requested resourceVersion is no longer
    # available; the python client raises ApiException(410).
    first = small_core.create_namespaced_config_map("default", configmap("old-0"))
    for i in range(1, 6):
        small_core.create_namespaced_config_map("default", configmap(f"old-{i}"))
    with pytest.raises(ApiException) as err:
        _drain(
            small_core.list_namespaced_config_map,
            "default",
            resource_version=first.metadata.resource_version,
        )
    assert err.value.status == 410
    assert "too old resource version" in err.value.reason
    resp = small_core.list_namespaced_config_map(
        "default",
        watch=True,
        resource_version=first.metadata.resource_version,
        _preload_content=False,
    )
    try:
        (line,) = [json.loads(x) for x in resp.read().splitlines() if x]
    finally:
        resp.release_conn()
    assert line["type"] == "ERROR"
    assert (line["object"]["code"], line["object"]["reason"]) == (410, "Expired")
    # A recent resourceVersion still works.
    latest = small_core.list_namespaced_config_map("default").metadata.resource_version
    assert (
        _drain(
            small_core.list_namespaced_config_map,
            "default",
            resource_version=latest,
            timeout_seconds=1,
        )
        == []
    )


def test_slow_watcher_is_dropped_without_blocking_writers(small_core: client.CoreV1Api) -> None:
    # A watcher that does not read must not stall writes; the server closes it instead.
    ns = "kube-public"
    resp = small_core.list_namespaced_config_map(ns, watch=True, _preload_content=False)
    try:
        blob = "x" * 200_000  # ~24 MB in total: far more than socket buffers hold
        started = time.monotonic()
        for i in range(120):
            small_core.create_namespaced_config_map(
                ns, {"metadata": {"name": f"big-{i}"}, "data": {"blob": blob}}
            )
        assert time.monotonic() - started < 20
        received = [line for line in resp.read().splitlines() if line]  # ends: server closed it
    finally:
        resp.release_conn()
    assert 0 < len(received) < 120


def test_watch_history_is_per_resource(small_core: client.CoreV1Api) -> None:
    # History is kept per resource type, so quiet types can be resumed from old versions.
    sa = small_core.create_namespaced_service_account("default", {"metadata": {"name": "quiet"}})
    for i in range(5):
        small_core.create_namespaced_config_map("default", configmap(f"noise-{i}"))
    small_core.patch_namespaced_service_account(
        "quiet", "default", {"metadata": {"labels": {"a": "b"}}}
    )
    events = _drain(
        small_core.list_namespaced_service_account,
        "default",
        resource_version=sa.metadata.resource_version,
        timeout_seconds=1,
    )
    assert [(e["type"], e["object"].metadata.name) for e in events] == [("MODIFIED", "quiet")]
