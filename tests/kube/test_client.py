"""`Kube`, the client facade, against the sandbox: the write guard, and bodies that are sent
without the official client's conversion walk (plain JSON) or with it (anything else)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rollout.errors import FencedError
from rollout.kube import Kube
from rollout.kube.kinds import DEPLOYMENTS, SERVICES
from tests.e2e.harness import NS, Cluster


def test_the_guard_withholds_writes_only_and_counts_nothing_it_withheld(cluster: Cluster) -> None:
    kube = Kube(cluster.sandbox.api_client())
    asked: list[tuple[str, str]] = []

    def guard(verb: str, resource: str) -> None:
        asked.append((verb, resource))
        if resource != "leases":
            raise FencedError(f"{verb} {resource} withheld")

    cluster.create_service("svc", app="x")
    kube.set_write_guard(guard)
    try:
        assert kube.get(SERVICES, "svc", namespace=NS)["metadata"]["name"] == "svc"
        assert kube.list(DEPLOYMENTS, namespace=NS)[0] == []
        before = dict(kube.requests)
        with pytest.raises(FencedError):
            kube.patch(SERVICES, "svc", {"metadata": {"labels": {"x": "y"}}}, namespace=NS)
        with pytest.raises(FencedError):
            kube.delete(SERVICES, "svc", namespace=NS)
        assert dict(kube.requests) == before  # withheld: never counted as sent
        assert asked == [("patch", "services"), ("delete", "services")]  # reads not asked
        svc = cluster.kube.get(SERVICES, "svc", namespace=NS)
        assert "x" not in (svc["metadata"].get("labels") or {})  # and never reached the server
    finally:
        kube.set_write_guard(None)
        kube.close()


def test_a_plain_json_body_is_sent_as_it_is(cluster: Cluster) -> None:
    kube = Kube(cluster.sandbox.api_client())
    try:
        cluster.create_service("svc", app="x")
        labels = {"a": "1", "ünï": "çødé", "n": "x" * 300}
        patched = kube.patch(SERVICES, "svc", {"metadata": {"labels": labels}}, namespace=NS)
        assert labels.items() <= patched["metadata"]["labels"].items()
        svc = cluster.kube.get(SERVICES, "svc", namespace=NS)
        assert labels.items() <= svc["metadata"]["labels"].items()
    finally:
        kube.close()


def test_a_body_that_is_not_plain_json_goes_through_the_clients_own_conversion(
    cluster: Cluster,
) -> None:
    """A datetime or a tuple is not JSON: the standard encoder refuses the datetime before
    anything is sent, and the official client's conversion (ISO 8601, lists) is used instead."""
    kube = Kube(cluster.sandbox.api_client())
    try:
        cluster.create_service("svc", app="x")
        when = datetime(2026, 12, 7, 1, 2, 3, tzinfo=UTC)
        patch = {"metadata": {"annotations": {"at": when}, "finalizers": ("a.dev/x",)}}
        written = kube.patch(SERVICES, "svc", patch, namespace=NS)
        assert written["metadata"]["annotations"]["at"] == when.isoformat()
        assert written["metadata"]["finalizers"] == ["a.dev/x"]
        assert kube.requests["patch"] == 1  # the refused encoding sent nothing
    finally:
        kube.close()
