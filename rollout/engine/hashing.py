"""Revision identity: a short, stable hash of a pod template (or of the steps)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from rollout.models.base import SpecModel

# Kubernetes' own pod-template-hash alphabet avoids vowels so hashes never spell words.
_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"


def stable_hash(value: Mapping[str, Any] | Sequence[Any], *, length: int = 10) -> str:
    canonical = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    number = int.from_bytes(hashlib.sha256(canonical.encode()).digest()[:16], "big")
    chars = []
    for _ in range(length):
        number, index = divmod(number, len(_ALPHABET))
        chars.append(_ALPHABET[index])
    return "".join(chars)


def revision_hash(template: Mapping[str, Any]) -> str:
    """The revision of a pod template. Equal templates (in any key order) hash equal."""
    return stable_hash(template)


def steps_hash(steps: Sequence[SpecModel]) -> str:
    """The identity of a canary's steps (an edit to them restarts the update at step 0)."""
    return stable_hash([s.to_dict() for s in steps])
