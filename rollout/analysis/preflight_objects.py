"""Preflight: do the objects a Rollout refers to exist (and carry the keys it reads)?

Everything that is "an object of kind K named N, needed by X" goes through here, whoever needs
it: the pod template's ConfigMaps, Secrets, PVCs, ServiceAccount and PriorityClass, the
Services of the canary strategy, the Secrets of analysis templates. One `Ref` per use; the
uses of one object are merged into one `Check`, so a ConfigMap mounted as a volume and read
through envFrom is fetched once and reported once, naming both uses.

A reference is required unless every use of it is `optional: true` (what kubelet does: one
required use is enough for the pod to fail). Any API error but 404 is a failed check that says
the check could not be made: 403 or 5xx tells nothing about the object, and must neither pass
the rollout nor stop the reconciler with an exception.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from rollout.errors import KubeError, NotFoundError, TransientKubeError
from rollout.kube import Kube
from rollout.kube.kinds import (
    CONFIG_MAPS,
    PRIORITY_CLASSES,
    PVCS,
    SECRETS,
    SERVICE_ACCOUNTS,
    STORAGE_CLASSES,
    Kind,
)

Obj = dict[str, Any]


@dataclass(frozen=True)
class Check:
    """One preflight check, passed or failed, as `rollout get` shows it."""

    name: str
    """What was checked, e.g. `ConfigMap default/app-config` or `requireResources app`."""
    ok: bool
    message: str
    """Names the object kind and name and, when failed, what is wrong."""


@dataclass(frozen=True)
class Ref:
    """One use of one object."""

    kind: Kind
    name: str
    namespace: str | None
    """None for cluster-scoped kinds."""
    where: str
    """Who uses it, for the message: `volume 'config'`, `container 'app' env DB_PASSWORD`."""
    keys: tuple[str, ...] = ()
    """Keys of a ConfigMap or Secret this use reads."""
    optional: bool = False

    @property
    def label(self) -> str:
        scope = f"{self.namespace}/" if self.kind.namespaced and self.namespace else ""
        return f"{self.kind.kind} {scope}{self.name}"


Known = Callable[[Ref], "Obj | None"]
"""An object the caller already holds (a watch-fed cache), or None: then it is read. It may
raise NotFoundError for an object the caller knows is not there."""


def check_refs(kube: Kube, refs: list[Ref], *, known: Known | None = None) -> list[Check]:
    """One check per object, in the order the objects were first referenced. Objects found
    may lead to more (a PVC's StorageClass); those are checked right after their referrer.
    `known`: what it answers is not read again."""
    checks: list[Check] = []
    for group in _grouped(refs):
        check, found = _check_group(kube, group, known)
        checks.append(check)
        if found is not None:
            checks += check_refs(kube, _follow(group[0], found), known=known)
    return checks


def _grouped(refs: list[Ref]) -> list[list[Ref]]:
    groups: dict[tuple[str, str, str, str | None, str], list[Ref]] = {}
    for ref in refs:
        key = (ref.kind.group, ref.kind.plural, ref.kind.version, ref.namespace, ref.name)
        groups.setdefault(key, []).append(ref)
    return list(groups.values())  # dicts keep insertion order: first reference first


def _check_group(kube: Kube, group: list[Ref], known: Known | None) -> tuple[Check, Obj | None]:
    first = group[0]
    required = [r for r in group if not r.optional]
    where = ", ".join(dict.fromkeys(r.where for r in group))
    what = f"{first.label} ({where})"
    try:
        obj = known(first) if known is not None else None
        if obj is None:
            obj = kube.get(first.kind, first.name, namespace=first.namespace)
    except NotFoundError:
        if required:
            return Check(first.label, False, f"{what} not found"), None
        return Check(first.label, True, f"{what} not found; optional, so not required"), None
    except TransientKubeError:
        raise  # not an answer: the reconcile is retried (see rollout.analysis.preflight)
    except KubeError as err:
        return Check(first.label, False, f"could not check {what}: {err.message}"), None
    wanted = dict.fromkeys(k for r in required for k in r.keys)
    present = _data_keys(obj)
    missing = [k for k in wanted if k not in present]
    if missing:
        # Only key names are ever named: a Secret's values never reach a message or a log.
        noun = "key" if len(missing) == 1 else "keys"
        listed = ", ".join(repr(k) for k in missing)
        return Check(first.label, False, f"{what} has no {noun} {listed}"), obj
    return Check(first.label, True, f"{what} found"), obj


def _data_keys(obj: Obj) -> set[str]:
    keys: set[str] = set()
    for field in ("data", "binaryData", "stringData"):
        section = obj.get(field)
        if isinstance(section, Mapping):
            keys.update(str(k) for k in section)
    return keys


def _follow(ref: Ref, obj: Obj) -> list[Ref]:
    """Objects a found object needs in turn."""
    if ref.kind == PVCS:
        storage_class = (obj.get("spec") or {}).get("storageClassName")
        if isinstance(storage_class, str) and storage_class:  # "" means: no class at all
            where = f"storageClassName of {ref.label}"
            return [Ref(STORAGE_CLASSES, storage_class, None, where)]
    return []


# -- what a pod template refers to ---------------------------------------------------------
def pod_refs(template: Mapping[str, Any], namespace: str) -> list[Ref]:
    """Every object the pods of `template` need before they can start, in a stable order:
    service account, priority class, image pull secrets, volumes, then each container's env."""
    spec = template.get("spec") or {}
    refs: list[Ref] = []
    # Unset means "default", which the pod then uses: a real cluster makes it in every
    # namespace, but a namespace created by hand or a cluster with the token controller off
    # may lack it, and the pod would be refused.
    account = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
    refs.append(Ref(SERVICE_ACCOUNTS, str(account), namespace, "serviceAccountName"))
    if spec.get("priorityClassName"):
        where = "priorityClassName"
        refs.append(Ref(PRIORITY_CLASSES, str(spec["priorityClassName"]), None, where))
    for secret in _dicts(spec.get("imagePullSecrets")):
        if secret.get("name"):
            refs.append(Ref(SECRETS, str(secret["name"]), namespace, "imagePullSecrets"))
    for volume in _dicts(spec.get("volumes")):
        refs += _volume_refs(volume, namespace)
    for container in [*_dicts(spec.get("initContainers")), *_dicts(spec.get("containers"))]:
        refs += _container_refs(container, namespace)
    return refs


def _volume_refs(volume: Obj, namespace: str) -> Iterator[Ref]:
    where = f"volume '{volume.get('name', '?')}'"
    sources = [volume, *_dicts((volume.get("projected") or {}).get("sources"))]
    for source in sources:
        config_map = source.get("configMap")
        if isinstance(config_map, dict) and config_map.get("name"):
            yield _keyed(CONFIG_MAPS, str(config_map["name"]), namespace, where, config_map)
        secret = source.get("secret")
        if isinstance(secret, dict):
            # A volume names it `secretName`, a projected source `name`.
            name = secret.get("secretName") or secret.get("name")
            if name:
                yield _keyed(SECRETS, str(name), namespace, where, secret)
    claim = volume.get("persistentVolumeClaim")
    if isinstance(claim, dict) and claim.get("claimName"):
        yield Ref(PVCS, str(claim["claimName"]), namespace, where)
    ephemeral = ((volume.get("ephemeral") or {}).get("volumeClaimTemplate") or {}).get("spec")
    if isinstance(ephemeral, dict) and ephemeral.get("storageClassName"):
        yield Ref(STORAGE_CLASSES, str(ephemeral["storageClassName"]), None, where)


def _keyed(kind: Kind, name: str, namespace: str, where: str, source: Obj) -> Ref:
    """A ConfigMap or Secret volume source: `items` name the keys it must have."""
    keys = tuple(str(i["key"]) for i in _dicts(source.get("items")) if i.get("key"))
    return Ref(kind, name, namespace, where, keys, bool(source.get("optional")))


def _container_refs(container: Obj, namespace: str) -> Iterator[Ref]:
    who = f"container '{container.get('name', '?')}'"
    for source in _dicts(container.get("envFrom")):
        for field, kind in (("configMapRef", CONFIG_MAPS), ("secretRef", SECRETS)):
            ref = source.get(field)
            if isinstance(ref, dict) and ref.get("name"):
                optional = bool(ref.get("optional"))
                yield Ref(kind, str(ref["name"]), namespace, f"{who} envFrom", (), optional)
    for env in _dicts(container.get("env")):
        value_from = env.get("valueFrom") or {}
        for field, kind in (("configMapKeyRef", CONFIG_MAPS), ("secretKeyRef", SECRETS)):
            ref = value_from.get(field)
            if isinstance(ref, dict) and ref.get("name"):
                keys = (str(ref["key"]),) if ref.get("key") else ()
                where = f"{who} env {env.get('name', '?')}"
                yield Ref(kind, str(ref["name"]), namespace, where, keys, bool(ref.get("optional")))


def _dicts(value: Any) -> list[Obj]:
    """The dict items of a list field; a malformed template is the API server's to refuse."""
    return [v for v in value if isinstance(v, dict)] if isinstance(value, list) else []
