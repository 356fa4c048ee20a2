"""The API facade the CLI and the dashboard share. Every action is a plain patch on the
Rollout (spec, or the status subresource for requests), so each one is also possible with
kubectl or from Git, is audited by the API server, and needs no server of our own.

| action           | write                                                                  |
|------------------|------------------------------------------------------------------------|
| pause / resume   | spec.paused = true / false                                             |
| promote          | status.promoteStep = <current step> (and spec.paused = false)          |
| promote --full   | status.promoteFull = true (and spec.paused = false)                    |
| abort / retry    | status.abort = true / false                                            |
| restart          | spec.restartAt = now                                                   |
| set image        | spec.template...containers[i].image, guarded by resourceVersion       |
| undo             | spec.template = revision N's template, guarded by resourceVersion      |
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from rollout import labels
from rollout.errors import KubeError, NotFoundError, RolloutError
from rollout.kube import DEPLOYMENTS, EVENTS, ROLLOUTS, Kube, WatchEvent
from rollout.kube.client import Obj
from rollout.kube.kinds import ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES
from rollout.models.time import format_time

TEMPLATE_WRITE_ATTEMPTS = 5
"""Template writes tried while 409s come from changes that left the spec alone."""


class ActionError(RolloutError):
    """The action cannot be done to this Rollout as it stands."""


class RolloutsAPI:
    def __init__(self, kube: Kube) -> None:
        self.kube = kube

    # -- reading -----------------------------------------------------------------------------
    def rollouts(self, namespace: str | None) -> list[Obj]:
        items, _ = self.kube.list(ROLLOUTS, namespace=namespace)
        return sorted(
            items, key=lambda o: (o["metadata"].get("namespace", ""), o["metadata"]["name"])
        )

    def get(self, namespace: str, name: str) -> Obj:
        try:
            return self.kube.get(ROLLOUTS, name, namespace=namespace)
        except NotFoundError:
            raise ActionError(
                f'rollout "{name}" not found in namespace "{namespace}"',
                hint="rollout list -A shows every rollout",
            ) from None

    def revisions(self, namespace: str, name: str) -> list[Obj]:
        """The Deployments of each revision, newest revision number first."""
        items, _ = self.kube.list(
            DEPLOYMENTS, namespace=namespace, label_selector=f"{labels.NAME}={name}"
        )
        return sorted(items, key=_revision_number, reverse=True)

    def events(self, namespace: str, name: str, *, limit: int = 10) -> list[Obj]:
        items, _ = self.kube.list(
            EVENTS,
            namespace=namespace,
            field_selector=f"involvedObject.name={name},involvedObject.kind=Rollout",
        )
        items.sort(key=_event_order)
        return items[-limit:]

    def watch(self, namespace: str, name: str, *, timeout_seconds: int = 60) -> Iterator[Obj]:
        """The Rollout now, then each new version of it, until the server ends the stream."""
        current = self.get(namespace, name)
        yield current
        for event in self.kube.watch(
            ROLLOUTS,
            namespace=namespace,
            resource_version=current["metadata"]["resourceVersion"],
            timeout_seconds=timeout_seconds,
        ):
            if event.object["metadata"].get("name") != name:
                continue
            if event.type == "DELETED":
                raise ActionError(f'rollout "{name}" was deleted')
            if event.type in ("ADDED", "MODIFIED"):
                yield event.object

    # -- list + watch (the dashboard) ----------------------------------------------------------
    def list_rollouts(self, namespace: str | None) -> tuple[list[Obj], str]:
        """Every Rollout (of `namespace`, or of all namespaces for None) and the list's
        resourceVersion, to watch from."""
        return self.kube.list(ROLLOUTS, namespace=namespace)

    def watch_rollouts(
        self, namespace: str | None, *, resource_version: str, timeout_seconds: int = 300
    ) -> Iterator[WatchEvent]:
        """Rollout events after `resource_version` (BOOKMARKs included, so a resumed watch
        starts from the newest version seen) until the server ends the stream. Raises
        GoneError when that version is too old: list again."""
        return self.kube.watch(
            ROLLOUTS,
            namespace=namespace,
            resource_version=resource_version,
            timeout_seconds=timeout_seconds,
        )

    def list_revisions(self, namespace: str | None) -> tuple[list[Obj], str]:
        """Every revision Deployment (of any Rollout) and the list's resourceVersion."""
        return self.kube.list(DEPLOYMENTS, namespace=namespace, label_selector=labels.NAME)

    def watch_revisions(
        self, namespace: str | None, *, resource_version: str, timeout_seconds: int = 300
    ) -> Iterator[WatchEvent]:
        """Revision Deployment events after `resource_version`, as `watch_rollouts`."""
        return self.kube.watch(
            DEPLOYMENTS,
            namespace=namespace,
            resource_version=resource_version,
            label_selector=labels.NAME,
            timeout_seconds=timeout_seconds,
        )

    def analysis_template(self, namespace: str, name: str, *, cluster_scope: bool = False) -> Obj:
        """An AnalysisTemplate (or, with `cluster_scope`, a ClusterAnalysisTemplate)."""
        if cluster_scope:
            return self.kube.get(CLUSTER_ANALYSIS_TEMPLATES, name)
        return self.kube.get(ANALYSIS_TEMPLATES, name, namespace=namespace)

    # -- actions -----------------------------------------------------------------------------
    def pause(self, namespace: str, name: str) -> Obj:
        return self._spec(namespace, name, {"paused": True})

    def resume(self, namespace: str, name: str) -> Obj:
        return self._spec(namespace, name, {"paused": False})

    def skip_gates(self, namespace: str, name: str, *, reason: str) -> Obj:
        """Start an update whose release gate is closed: audited (the reason goes to the
        Rollout's history and an Event)."""
        if not reason.strip():
            raise ActionError("--skip-gates needs a --reason (it is recorded)")
        status = self.get(namespace, name).get("status") or {}
        if status.get("currentRevision") == status.get("stableRevision"):
            raise ActionError(f'rollout "{name}" has no update in progress')
        return self._status(namespace, name, {"skipGates": reason.strip()})

    def promote(self, namespace: str, name: str, *, full: bool = False) -> Obj:
        rollout = self.get(namespace, name)
        status = rollout.get("status") or {}
        if status.get("currentRevision") == status.get("stableRevision"):
            raise ActionError(f'rollout "{name}" has no update in progress to promote')
        if status.get("abort"):
            raise ActionError(
                f'rollout "{name}" is aborted', hint=f"rollout retry {name} starts the update again"
            )
        request: dict[str, Any] = (
            {"promoteFull": True} if full else {"promoteStep": status.get("currentStepIndex") or 0}
        )
        result = self._status(namespace, name, request)
        if (rollout.get("spec") or {}).get("paused"):
            result = self._spec(namespace, name, {"paused": False})
        return result

    def abort(self, namespace: str, name: str) -> Obj:
        return self._status(namespace, name, {"abort": True})

    def retry(self, namespace: str, name: str) -> Obj:
        status = self.get(namespace, name).get("status") or {}
        if not status.get("abort"):
            raise ActionError(f'rollout "{name}" is not aborted; nothing to retry')
        return self._status(namespace, name, {"abort": False})

    def restart(self, namespace: str, name: str, *, at: datetime | None = None) -> Obj:
        return self._spec(namespace, name, {"restartAt": format_time(at or datetime.now(UTC))})

    def set_image(self, namespace: str, name: str, container: str, image: str) -> Obj:
        rollout = self.get(namespace, name)
        template = (rollout.get("spec") or {}).get("template")
        if template is None:
            raise ActionError(
                f'rollout "{name}" takes its template from a workloadRef',
                hint="set the image on the referenced Deployment (kubectl set image)",
            )
        containers = template.get("spec", {}).get("containers", [])
        match = [c for c in containers if c.get("name") == container]
        if not match:
            names = ", ".join(c.get("name", "?") for c in containers)
            raise ActionError(
                f'rollout "{name}" has no container "{container}" (containers: {names})'
            )
        match[0]["image"] = image
        return self._guarded_template(rollout, template)

    def undo(self, namespace: str, name: str, *, to_revision: int | None = None) -> Obj:
        """Put an earlier revision's template back (default: the revision before the newest)."""
        rollout = self.get(namespace, name)
        revisions = [  # a baseline is a copy of a stable, not a revision to go back to
            d
            for d in self.revisions(namespace, name)
            if not str((d["metadata"].get("labels") or {}).get(labels.REVISION, "")).endswith(
                "-baseline"
            )
        ]
        numbers = [_revision_number(d) for d in revisions]
        if to_revision is None:
            if len(revisions) < 2:
                raise ActionError(f'rollout "{name}" has no earlier revision to go back to')
            target = revisions[1]
        else:
            found = [d for d in revisions if _revision_number(d) == to_revision]
            if not found:
                known = ", ".join(str(n) for n in sorted(numbers)) or "none"
                raise ActionError(
                    f'rollout "{name}" has no revision {to_revision} (kept revisions: {known})'
                )
            target = found[0]
        template = _written_template(target)
        if (rollout.get("spec") or {}).get("workloadRef"):
            raise ActionError(
                f'rollout "{name}" takes its template from a workloadRef',
                hint="revert the referenced Deployment in Git (or kubectl rollout undo it)",
            )
        return self._guarded_template(rollout, template)

    # -- plumbing ----------------------------------------------------------------------------
    def _spec(self, namespace: str, name: str, patch: Obj) -> Obj:
        try:
            return self.kube.patch(ROLLOUTS, name, {"spec": patch}, namespace=namespace)
        except NotFoundError:
            self.get(namespace, name)  # raises the friendly not-found
            raise

    def _status(self, namespace: str, name: str, patch: Obj) -> Obj:
        try:
            return self.kube.patch(
                ROLLOUTS, name, {"status": patch}, namespace=namespace, sub="status"
            )
        except NotFoundError:
            self.get(namespace, name)  # raises the friendly not-found
            raise

    def _guarded_template(self, rollout: Obj, template: Obj) -> Obj:
        """Replace spec.template whole (PUT, guarded by the resourceVersion read): a merge
        patch would keep every key of the current template that `template` lacks, so an undo
        across a change that added a field would produce a third template, not the old one.

        A 409 whose cause left the spec alone (the controller writing status, metadata) is
        retried on the fresh object: a busy rollout's status changes several times a second,
        and `set image` must not fail on it. Only a spec changed since the read (a new
        generation: someone else's edit, which we must not overwrite) is refused."""
        meta = rollout["metadata"]
        generation = meta.get("generation")
        current = rollout
        for _ in range(TEMPLATE_WRITE_ATTEMPTS):
            body = copy.deepcopy(current)
            body["spec"]["template"] = template
            try:
                return self.kube.replace(ROLLOUTS, body, namespace=meta["namespace"])
            except KubeError as err:
                if err.status != 409:
                    raise
            current = self.get(meta["namespace"], meta["name"])
            if current["metadata"].get("generation") != generation:
                break
        raise ActionError(
            f'rollout "{meta["name"]}" changed while this command ran',
            hint="run the command again",
        )


def _event_order(event: Obj) -> tuple[str, int, str]:
    """By time, then in the order they were created: one decision records several events in
    the same second, and their generated names are random."""
    meta = event["metadata"]
    version = str(meta.get("resourceVersion", ""))
    return (
        event.get("lastTimestamp") or "",
        int(version) if version.isdigit() else 0,
        meta.get("name", ""),
    )


def _written_template(deployment: Obj) -> Obj:
    """The revision's template exactly as the Rollout had it. A real API server fills defaults
    into a Deployment's pod template (restartPolicy, dnsPolicy ...), and a defaulted copy would
    hash as a new revision; so each revision Deployment carries the original as an annotation.
    Without it (older objects), fall back to the Deployment's template minus our markers."""
    stored = (deployment["metadata"].get("annotations") or {}).get(labels.TEMPLATE)
    if stored:
        parsed = json.loads(stored)
        if isinstance(parsed, dict):
            return parsed
    template: Obj = copy.deepcopy(deployment["spec"]["template"])
    template.get("metadata", {}).get("labels", {}).pop(labels.REVISION, None)
    annotations = template.get("metadata", {}).get("annotations", {})
    annotations.pop(labels.RESTARTED_AT, None)
    if "metadata" in template and not annotations:
        template["metadata"].pop("annotations", None)
    return template


def _revision_number(deployment: Obj) -> int:
    value = (deployment["metadata"].get("annotations") or {}).get(labels.REVISION_NUMBER, "0")
    return int(value) if str(value).isdigit() else 0
