"""Parsed Rollout specs, kept between reconciles of the same spec.

A rollout mid-update is reconciled several times a step (its own status writes, its revision
Deployments' events, timers), and every one of those used to validate the whole spec again with
pydantic: about 5% of the controller's CPU in a 1,000-rollout burst. The spec only changes when
the object does; the status and resourceVersion change on every write and are not part of it.

The cache holds, per Rollout, the object without `status`, `metadata.resourceVersion` and
`metadata.managedFields`, the model parsed from it, and what every decision derives from the
spec alone: the inline pod template as a dict, its revision hash and the steps' hash (together
about as much CPU again as the parse). A reconcile whose object equals the kept one (a plain
dict comparison, done in C) gets the same `Parsed`; anything else (spec, labels, annotations,
finalizers, generation, deletionTimestamp, uid) parses again. What it holds is shared between
reconciles, so nothing may change it in place: the reconciler only reads the model (copies go
through `model_copy(update=...)`) and the executor copies the template before it adds to it;
the test suites check every answer against a fresh parse (tests/conftest.py). Bounded (least
recently used out first) so that 10,000 idle Rollouts do not each keep a model in memory; the
rollouts reconciled often are the ones under way, and they stay.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from rollout.engine.hashing import revision_hash, steps_hash
from rollout.kube.client import Obj
from rollout.models import Rollout
from rollout.parsing import parse_rollout

# Written on every status write (resourceVersion) or by the API server for every writer
# (managedFields): neither is spec, and keeping them would make every entry miss.
_VOLATILE_METADATA = frozenset({"resourceVersion", "managedFields"})


def spec_view(raw: Obj) -> dict[str, Any]:
    """What the parsed model is made from: the object without its status and volatile
    metadata (shallow copies; the nested values are the cached object's own)."""
    view = {k: v for k, v in raw.items() if k != "status"}
    meta = raw.get("metadata")
    if isinstance(meta, dict):
        view["metadata"] = {k: v for k, v in meta.items() if k not in _VOLATILE_METADATA}
    return view


@dataclass(frozen=True)
class Parsed:
    rollout: Rollout
    template: dict[str, Any] | None
    """spec.template as a dict (None: the pod template comes from a workloadRef)."""
    revision: str
    """revision_hash(template) ("" without an inline template)."""
    steps_hash: str


def derive(rollout: Rollout) -> Parsed:
    template = rollout.spec.template.to_dict() if rollout.spec.template is not None else None
    return Parsed(
        rollout,
        template,
        revision_hash(template) if template is not None else "",
        steps_hash(rollout.spec.strategy.steps),
    )


class SpecCache:
    def __init__(self, size: int = 4096) -> None:
        self._size = size
        self._entries: OrderedDict[str, tuple[dict[str, Any], Parsed]] = OrderedDict()
        self._lock = threading.Lock()  # workers share it (one key at a time each)
        self.hits = 0
        self.misses = 0

    def parse(self, key: str, raw: Obj) -> Parsed:
        """The model of `raw`'s spec and what derives from it (raises SpecError as
        `parse_rollout` does; a spec that fails is not kept, so it fails the same way every
        time)."""
        view = spec_view(raw)
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry[0] == view:
                self._entries.move_to_end(key)
                self.hits += 1
                return entry[1]
            self.misses += 1
        parsed = derive(parse_rollout(view))
        with self._lock:
            self._entries[key] = (view, parsed)
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)
        return parsed

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)
