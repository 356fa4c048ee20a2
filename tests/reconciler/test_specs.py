"""The spec cache: the same spec gives the same model, any change to it parses again, a bad
spec fails every time, and the cache stays bounded."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from rollout.engine import revision_hash
from rollout.errors import SpecError
from rollout.parsing import parse_rollout
from rollout.reconciler.specs import SpecCache, derive, spec_view
from tests.e2e.harness import rollout_doc


def cached(name: str = "app", **changes: Any) -> dict[str, Any]:
    """A Rollout as the informer holds it: with resourceVersion, managedFields and a status."""
    raw = rollout_doc(name, "app:v1")
    raw["metadata"].update(
        uid=f"uid-{name}",
        generation=1,
        resourceVersion="10",
        managedFields=[{"manager": "kubectl", "operation": "Apply"}],
    )
    raw["status"] = {"phase": "Healthy", "observedGeneration": 1}
    return raw


def test_a_status_or_resource_version_change_reuses_the_parsed_model() -> None:
    specs = SpecCache()
    first = specs.parse("default/app", cached())
    written = cached()
    written["metadata"]["resourceVersion"] = "11"
    written["metadata"]["managedFields"] = [{"manager": "rollout-controller"}]
    written["status"] = {"phase": "Progressing", "currentStepIndex": 2}
    assert specs.parse("default/app", written) is first
    assert (specs.hits, specs.misses) == (1, 1)
    assert first == derive(parse_rollout(spec_view(written)))
    assert first.template == first.rollout.spec.template.to_dict()  # type: ignore[union-attr]
    assert first.revision == revision_hash(first.template or {})


@pytest.mark.parametrize(
    "change",
    [
        lambda r: r["spec"]["template"]["spec"]["containers"][0].update(image="app:v2"),
        lambda r: r["spec"].update(replicas=7),
        lambda r: r["metadata"].update(labels={"team": "a"}),
        lambda r: r["metadata"].update(annotations={"note": "x"}),
        lambda r: r["metadata"].update(finalizers=["rollout.dev/routing"]),
        lambda r: r["metadata"].update(generation=2),
        lambda r: r["metadata"].update(uid="uid-other"),
        lambda r: r["metadata"].update(deletionTimestamp="2026-12-03T10:00:00Z"),
    ],
    ids=[
        "image",
        "replicas",
        "labels",
        "annotations",
        "finalizers",
        "generation",
        "uid",
        "deletion",
    ],
)
def test_any_change_outside_status_parses_again(change: Any) -> None:
    specs = SpecCache()
    first = specs.parse("default/app", cached())
    changed = copy.deepcopy(cached())
    change(changed)
    second = specs.parse("default/app", changed)
    assert second is not first
    assert second == derive(parse_rollout(spec_view(changed)))
    assert (specs.hits, specs.misses) == (0, 2)


def test_a_bad_spec_fails_every_time_and_is_not_kept() -> None:
    specs = SpecCache()
    bad = cached()
    bad["spec"]["replicas"] = -1
    for _ in range(2):
        with pytest.raises(SpecError) as err:
            specs.parse("default/app", bad)
        assert any("replicas" in p.path for p in err.value.problems)
    assert len(specs) == 0


def test_keys_do_not_share_models_and_the_cache_is_bounded() -> None:
    specs = SpecCache(size=2)
    a = specs.parse("default/a", cached("a"))
    specs.parse("default/b", cached("b"))
    assert specs.parse("default/a", cached("a")) is a  # a is now the most recent
    specs.parse("default/c", cached("c"))  # evicts b, the least recently used
    assert len(specs) == 2
    assert specs.parse("default/a", cached("a")) is a
    specs.parse("default/b", cached("b"))
    assert specs.misses == 4  # a, b, c, and b again after its eviction
