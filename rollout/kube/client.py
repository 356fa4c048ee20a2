"""`Kube`: JSON in, JSON out, over the official client's HTTP machinery.

We use the client's own request path (`ApiClient.param_serialize` + `call_api`: kubeconfig,
in-cluster config, auth and TLS all as the client does them) but keep objects as plain dicts:
deserialising into the generated model classes is slow and loses unknown fields. For the same
reason request bodies skip the client's model-to-JSON conversion walk (a body that is not plain
JSON still gets it).

Every failure becomes one of our `KubeError`s (see rollout.errors), carrying the verb and target.
Every request is reported to the request observers (the controller's metrics count them by
verb, resource, subresource and HTTP code). A write guard, when set, is asked right before each
write is sent and may withhold it (leader election's fencing: rollout.reconciler.controller).
"""

from __future__ import annotations

import builtins
import json
import logging
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

import urllib3
from kubernetes import client as k8s
from kubernetes import config as k8s_config
from kubernetes.watch.watch import iter_resp_lines

from rollout import jsonwire
from rollout.errors import (
    ConflictError,
    ForbiddenError,
    GoneError,
    KubeError,
    NotFoundError,
    TransientKubeError,
)
from rollout.kube.kinds import Kind

log = logging.getLogger(__name__)

PatchType = Literal["merge", "json", "strategic"]
_CONTENT_TYPES = {
    "merge": "application/merge-patch+json",
    "json": "application/json-patch+json",
    "strategic": "application/strategic-merge-patch+json",
}
Obj = dict[str, Any]
RequestObserver = Callable[[str, str, str, int], None]
"""(verb, resource, subresource or "", HTTP code or 0 for no answer), after each request.
Called on the requesting thread: it must be quick and must not raise."""
WriteGuard = Callable[[str, str], None]
"""(verb, resource), right before a write is sent; raises (FencedError) to withhold it."""
_READS = frozenset({"get", "list", "watch"})


@dataclass(frozen=True)
class WatchEvent:
    type: str  # ADDED | MODIFIED | DELETED | BOOKMARK
    object: Obj


class Kube:
    """A thin, typed facade over one cluster. Thread-safe (urllib3 pools are)."""

    def __init__(self, api_client: Any, *, request_timeout: float = 30.0) -> None:
        self._api = api_client
        self._timeout = request_timeout
        self._lock = threading.Lock()
        self.requests: Counter[str] = Counter()  # verb -> count, for benchmarks
        self._observers: tuple[RequestObserver, ...] = ()
        self._guard: WriteGuard | None = None

    @classmethod
    def from_config(cls, *, kubeconfig: str | None = None, context: str | None = None) -> Kube:
        """From a kubeconfig (path, $KUBECONFIG or ~/.kube/config), else in-cluster config."""
        configuration = k8s.Configuration()
        try:
            k8s_config.load_kube_config(  # type: ignore[no-untyped-call]  # untyped upstream
                config_file=kubeconfig, context=context, client_configuration=configuration
            )
        except (k8s_config.ConfigException, FileNotFoundError, TypeError) as err:
            if kubeconfig or context:
                raise KubeError(f"cannot load kubeconfig: {err}") from None
            try:
                k8s_config.load_incluster_config(client_configuration=configuration)  # type: ignore[no-untyped-call]
            except k8s_config.ConfigException:
                raise KubeError(
                    "no cluster configured: no kubeconfig found and not running in a cluster"
                ) from None
        return cls(k8s.ApiClient(configuration))

    @staticmethod
    def context_namespace(*, kubeconfig: str | None = None, context: str | None = None) -> str:
        """The namespace of the kubeconfig's (current or named) context, else `default`."""
        try:
            contexts, active = k8s_config.list_kube_config_contexts(  # type: ignore[no-untyped-call]
                config_file=kubeconfig
            )
        except (k8s_config.ConfigException, OSError, TypeError):
            return "default"  # in-cluster or no kubeconfig: as kubectl does
        if context:
            active = next((c for c in contexts if c["name"] == context), active)
        return str((active or {}).get("context", {}).get("namespace") or "default")

    def close(self) -> None:
        self._api.close()

    def add_request_observer(self, observer: RequestObserver) -> None:
        with self._lock:
            self._observers = (*self._observers, observer)

    def remove_request_observer(self, observer: RequestObserver) -> None:
        with self._lock:
            self._observers = tuple(o for o in self._observers if o is not observer)

    def set_write_guard(self, guard: WriteGuard | None) -> None:
        """Ask `guard` before every write (not reads: a standby keeps its caches warm); None
        removes it. One guard: the controller that leads through this client sets it."""
        self._guard = guard

    # -- verbs -----------------------------------------------------------------------------
    def get(
        self, kind: Kind, name: str, *, namespace: str | None = None, sub: str | None = None
    ) -> Obj:
        path = kind.path(namespace=namespace, name=name, sub=sub)
        return self._call("get", "GET", path, target=(kind.plural, sub))

    def list(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
    ) -> tuple[builtins.list[Obj], str]:
        """Items and the list's resourceVersion (to watch from)."""
        query = _query(labelSelector=label_selector, fieldSelector=field_selector)
        path = kind.path(namespace=namespace)
        result = self._call("list", "GET", path, query=query, target=(kind.plural, None))
        return list(result.get("items") or []), str(result["metadata"].get("resourceVersion", ""))

    def create(self, kind: Kind, body: Obj, *, namespace: str | None = None) -> Obj:
        path = kind.path(namespace=namespace)
        return self._call("create", "POST", path, body=body, target=(kind.plural, None))

    def replace(
        self, kind: Kind, body: Obj, *, namespace: str | None = None, sub: str | None = None
    ) -> Obj:
        """PUT: guarded by body.metadata.resourceVersion (409 ConflictError when stale)."""
        name = body["metadata"]["name"]
        path = kind.path(namespace=namespace, name=name, sub=sub)
        return self._call("update", "PUT", path, body=body, target=(kind.plural, sub))

    def patch(
        self,
        kind: Kind,
        name: str,
        patch: Obj | builtins.list[Obj],
        *,
        namespace: str | None = None,
        sub: str | None = None,
        patch_type: PatchType = "merge",
    ) -> Obj:
        """A merge patch carrying metadata.resourceVersion is guarded like a PUT."""
        path = kind.path(namespace=namespace, name=name, sub=sub)
        return self._call(
            "patch",
            "PATCH",
            path,
            body=patch,
            content_type=_CONTENT_TYPES[patch_type],
            target=(kind.plural, sub),
        )

    def delete(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str | None = None,
        propagation: Literal["Background", "Foreground", "Orphan"] | None = None,
    ) -> None:
        """`propagation`: what happens to dependents (a batch/v1 Job deleted without one keeps
        its Pods, for compatibility; pass "Background" to remove them)."""
        query = _query(propagationPolicy=propagation)
        path = kind.path(namespace=namespace, name=name)
        self._call("delete", "DELETE", path, query=query, target=(kind.plural, None))

    def read_text(
        self,
        kind: Kind,
        name: str,
        *,
        namespace: str | None = None,
        sub: str,
        query: builtins.list[tuple[str, str]] | None = None,
        timeout: float | None = None,
    ) -> str:
        """A subresource that answers plain text, such as pods/log."""
        path = kind.path(namespace=namespace, name=name, sub=sub)
        response = self._send(
            "get",
            "GET",
            path,
            query=query,
            timeout=timeout or self._timeout,
            target=(kind.plural, sub),
        )
        try:
            return bytes(response.read()).decode(errors="replace")
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise TransientKubeError(f"get {path}: {err}", verb="get", target=path) from None

    def watch(
        self,
        kind: Kind,
        *,
        namespace: str | None = None,
        resource_version: str = "",
        label_selector: str | None = None,
        timeout_seconds: int = 300,
    ) -> Iterator[WatchEvent]:
        """Events after `resource_version` until the server ends the stream.
        Raises GoneError (410) when that version is too old: list again."""
        query = _query(
            watch="true",
            resourceVersion=resource_version or None,
            labelSelector=label_selector,
            timeoutSeconds=str(timeout_seconds),
            allowWatchBookmarks="true",
        )
        path = kind.path(namespace=namespace)
        response = self._send(
            "watch",
            "GET",
            path,
            query=query,
            timeout=timeout_seconds + 10,
            target=(kind.plural, None),
        )
        raw = response.response
        try:
            for line in iter_resp_lines(raw):  # type: ignore[no-untyped-call]
                if not line:
                    continue
                event = jsonwire.loads(line)
                if event.get("type") == "ERROR":
                    status = event.get("object") or {}
                    raise _error(int(status.get("code") or 500), status, "watch", path)
                yield WatchEvent(event["type"], event["object"])
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise TransientKubeError(
                f"watch {path} ended: {err}", verb="watch", target=path
            ) from None
        finally:
            raw.release_conn()

    # -- plumbing --------------------------------------------------------------------------
    def _call(self, verb: str, method: str, path: str, **request: Any) -> Obj:
        """One request with the default timeout; the JSON body of the answer."""
        response = self._send(verb, method, path, timeout=self._timeout, **request)
        try:
            data = response.read()
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise TransientKubeError(f"{verb} {path}: {err}", verb=verb, target=path) from None
        return jsonwire.loads(data) if data else {}

    def _send(
        self,
        verb: str,
        method: str,
        path: str,
        *,
        query: builtins.list[tuple[str, str]] | None = None,
        body: Any = None,
        content_type: str | None = None,
        timeout: float,
        target: tuple[str, str | None],
    ) -> Any:
        """One request; `target` (resource, subresource) is what the observers are told."""
        guard = self._guard
        if guard is not None and verb not in _READS:
            guard(verb, target[0])  # withheld here: not counted, not observed, never sent
        headers = {"Accept": "application/json"}
        if content_type or body is not None:
            headers["Content-Type"] = content_type or "application/json"
        with self._lock:
            self.requests[verb] += 1
        code = 0
        try:
            # The body is left out of param_serialize: its sanitize_for_serialization walks
            # every node of it to turn models and datetimes into JSON, and ours are JSON
            # already (objects as read, `to_dict()` in JSON mode). That walk was about a sixth
            # of the client-side CPU of a status write.
            method, url, header_params, _, post_params = self._api.param_serialize(
                method=method,
                resource_path=path,
                query_params=query or [],
                header_params=headers,
                auth_settings=["BearerToken"],
            )

            def send(payload: Any) -> Any:
                return self._api.call_api(
                    method, url, header_params, payload, post_params, _request_timeout=timeout
                )

            try:
                response = send(body)
            except TypeError:  # not plain JSON after all: encoding failed, nothing was sent
                if body is None:
                    raise
                response = send(self._api.sanitize_for_serialization(body))
            code = response.status
        except k8s.ApiException as err:
            code = err.status or 0
            raise _error(code, _body(err.body), verb, path) from None
        except (urllib3.exceptions.HTTPError, OSError) as err:
            raise TransientKubeError(f"{verb} {path}: {err}", verb=verb, target=path) from None
        finally:
            for observer in self._observers:
                observer(verb, target[0], target[1] or "", code)
        if not 200 <= response.status < 300:
            raise _error(response.status, _body(response.read()), verb, path)
        return response


def _query(**params: str | None) -> builtins.list[tuple[str, str]]:
    return [(k, v) for k, v in params.items() if v is not None]


def _body(data: Any) -> Obj:
    try:
        parsed = json.loads(data) if data else {}
    except (ValueError, TypeError):
        return {"message": str(data)[:500]}
    return parsed if isinstance(parsed, dict) else {}


def _error(code: int, status: Obj, verb: str, path: str) -> KubeError:
    message = f"{verb} {path}: {code} {status.get('reason', '')}: {status.get('message', '')}"
    kinds: dict[int, type[KubeError]] = {
        404: NotFoundError,
        409: ConflictError,
        410: GoneError,
        401: ForbiddenError,
        403: ForbiddenError,
    }
    cls = kinds.get(code) or (TransientKubeError if code >= 500 or code in (0, 429) else KubeError)
    return cls(message, status=code, verb=verb, target=path)
