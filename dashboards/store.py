"""What the dashboard knows: the Rollouts and their revision Deployments, exactly as the watches
delivered them (no Textual; read and written on the UI thread only)."""

from __future__ import annotations

from collections import defaultdict

from dashboards.watch import Batch
from rollout import labels
from rollout.kube.client import Obj


def rollout_key(namespace: str, name: str) -> str:
    return f"{namespace}/{name}"


class Store:
    def __init__(self) -> None:
        self.rollouts: dict[str, Obj] = {}
        self._deployments: dict[str, Obj] = {}
        self._revisions: dict[str, dict[str, Obj]] = defaultdict(dict)
        """rollout key -> revision hash -> its Deployment"""
        self.rollouts_listed = False
        self.revisions_listed = False

    @property
    def loaded(self) -> bool:
        return self.rollouts_listed and self.revisions_listed

    def revisions(self, key: str) -> dict[str, Obj]:
        """The rollout's revision Deployments by revision hash."""
        return self._revisions.get(key, {})

    def apply_rollouts(self, batch: Batch) -> set[str]:
        """Take in a batch of Rollout changes; the keys of the rollouts that changed."""
        touched: set[str] = set()
        if batch.reset is not None:
            touched |= set(self.rollouts) ^ set(batch.reset)
            for key, obj in batch.reset.items():
                if self.rollouts.get(key) != obj:
                    touched.add(key)
            self.rollouts = dict(batch.reset)
            self.rollouts_listed = True
        for key, changed in batch.changed.items():
            if changed is None:
                self.rollouts.pop(key, None)
            else:
                self.rollouts[key] = changed
            touched.add(key)
        return touched

    def apply_revisions(self, batch: Batch) -> set[str]:
        """Take in a batch of revision Deployment changes; the keys of the rollouts whose
        revisions changed."""
        touched: set[str] = set()
        if batch.reset is not None:
            for key in list(self._deployments):
                touched |= self._drop(key)
            for key, obj in batch.reset.items():
                touched |= self._keep(key, obj)
            self.revisions_listed = True
        for key, changed in batch.changed.items():
            touched |= self._drop(key)
            if changed is not None:
                touched |= self._keep(key, changed)
        return touched

    def _keep(self, key: str, deployment: Obj) -> set[str]:
        meta = deployment.get("metadata") or {}
        owner = (meta.get("labels") or {}).get(labels.NAME)
        revision = (meta.get("labels") or {}).get(labels.REVISION)
        if not owner or not revision:
            return set()
        self._deployments[key] = deployment
        rollout = rollout_key(meta.get("namespace") or "", owner)
        self._revisions[rollout][revision] = deployment
        return {rollout}

    def _drop(self, key: str) -> set[str]:
        old = self._deployments.pop(key, None)
        if old is None:
            return set()
        meta = old.get("metadata") or {}
        rollout = rollout_key(meta.get("namespace") or "", (meta.get("labels") or {})[labels.NAME])
        by_hash = self._revisions.get(rollout, {})
        by_hash.pop((meta.get("labels") or {}).get(labels.REVISION, ""), None)
        if not by_hash:
            self._revisions.pop(rollout, None)
        return {rollout}
