"""``GET /api/v1/namespaces/{ns}/pods/{name}/log``: what the kubelet would stream back.

There are no containers, so a Pod's "output" is its ``sandbox.rollout.dev/log``
annotation (usually copied from a Job's pod template), one line per ``\\n``.
The answer is ``text/plain`` like the real endpoint's, with the errors a client
meets there: 404 for a missing Pod, 400 for a container that has not started
(the Pod never reached Running) or an ambiguous/unknown ``container``.
``tailLines`` and ``limitBytes`` are honoured; ``follow``, ``previous``,
``sinceSeconds`` and ``timestamps`` are accepted and ignored.
"""

from __future__ import annotations

from typing import Any

from .errors import bad_request
from .resources import ResourceType
from .store import Store

LOG = "sandbox.rollout.dev/log"
_STARTED = ("Running", "Succeeded", "Failed")


def _count(query: dict[str, str], key: str) -> int | None:
    raw = query.get(key)
    if raw is None or raw == "":
        return None
    try:
        value = int(raw)
    except ValueError:
        raise bad_request(f"{key}: invalid value {raw!r}: must be an integer") from None
    if value < 0:
        raise bad_request(f"{key}: invalid value {value}: must be greater than or equal to 0")
    return value


def read_log(store: Store, rt: ResourceType, namespace: str | None, name: str, query: Any) -> str:
    """The log text of one container of the Pod (raises ApiError as the API server would)."""
    pod = store.get(rt, namespace, name)
    containers = [
        str(c.get("name"))
        for c in (pod.get("spec") or {}).get("containers") or []
        if isinstance(c, dict)
    ]
    container = query.get("container")
    if not container:
        if len(containers) > 1:
            raise bad_request(
                f"a container name must be specified for pod {name}, "
                f"choose one of: [{' '.join(containers)}]"
            )
        container = containers[0] if containers else ""
    elif container not in containers:
        raise bad_request(f"container {container} is not valid for pod {name}")
    if (pod.get("status") or {}).get("phase") not in _STARTED:
        raise bad_request(
            f'container "{container}" in pod "{name}" is waiting to start: ContainerCreating'
        )
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(LOG) or ""
    lines = str(text).splitlines()
    tail = _count(query, "tailLines")
    if tail is not None:
        lines = lines[len(lines) - tail :] if tail else []
    out = "".join(f"{line}\n" for line in lines)
    limit = _count(query, "limitBytes")
    if limit is not None:
        out = out.encode()[:limit].decode(errors="ignore")
    return out
