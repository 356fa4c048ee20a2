"""Fixtures shared by every suite that needs a cluster: a sandbox API server with our CRDs
(`cluster`) and the controller running in this process against it (`controller`)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from rollout.kube.client import Obj
from rollout.parsing import parse_rollout
from rollout.reconciler import reconcile
from rollout.reconciler.controller import Controller
from rollout.reconciler.specs import Parsed, SpecCache, derive, spec_view
from tests.e2e.harness import Cluster, in_process_controller
from tests.http_far import Far, serving


@pytest.fixture
def cluster(request: pytest.FixtureRequest) -> Iterator[Cluster]:
    """A sandbox; `@pytest.mark.ready_delay(s)` makes its pods take `s` seconds to be ready."""
    marker = request.node.get_closest_marker("ready_delay")
    c = Cluster(ready_delay=marker.args[0] if marker else 0.0)
    yield c
    c.close()


class CheckedSpecCache(SpecCache):
    """A SpecCache that parses afresh beside every answer and notes any difference: the
    models and templates it hands out are shared between reconciles, and a reconcile that
    changed one in place would leave the next one deciding from a spec nobody wrote."""

    stale: list[str] = []

    def parse(self, key: str, raw: Obj) -> Parsed:
        parsed = super().parse(key, raw)
        if parsed != derive(parse_rollout(spec_view(raw))):
            self.stale.append(key)
        return parsed


@pytest.fixture(autouse=True)
def checked_spec_cache(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every reconciler built in a test checks its spec cache (see CheckedSpecCache)."""
    monkeypatch.setattr(reconcile, "SpecCache", CheckedSpecCache)
    CheckedSpecCache.stale = []
    yield
    assert not CheckedSpecCache.stale, f"cached specs changed in place: {CheckedSpecCache.stale}"


@pytest.fixture
def controller(cluster: Cluster) -> Iterator[Controller]:
    ctl = in_process_controller(cluster)
    yield ctl
    ctl.stop()


@pytest.fixture
def far() -> Iterator[Far]:
    """A stand-in HTTP endpoint on 127.0.0.1 (a metrics endpoint, a webhook receiver)."""
    with serving() as f:
        yield f
