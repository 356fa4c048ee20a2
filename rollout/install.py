"""Installing our CRDs into a cluster (used by the demo, the tests and `rollout install`)."""

from __future__ import annotations

import time

from rollout.crd import crd_documents
from rollout.errors import ConflictError, NotFoundError
from rollout.kube import CRDS, Kube


def install_crds(kube: Kube, *, wait: float = 10.0) -> None:
    """Create or update every CRD, then wait until each is Established."""
    for crd in crd_documents():
        name = crd["metadata"]["name"]
        try:
            kube.create(CRDS, crd)
        except ConflictError:
            current = kube.get(CRDS, name)
            crd = {  # noqa: PLW2901  (the same CRD, now carrying the resourceVersion)
                **crd,
                "metadata": {
                    **crd["metadata"],
                    "resourceVersion": current["metadata"]["resourceVersion"],
                },
            }
            kube.replace(CRDS, crd)
        wait_established(kube, name, wait=wait)


def wait_established(kube: Kube, name: str, *, wait: float = 10.0) -> None:
    """Until the API server says the CRD `name` is Established (its kind is served)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            conditions = (kube.get(CRDS, name).get("status") or {}).get("conditions") or []
        except NotFoundError:
            conditions = []
        if any(c.get("type") == "Established" and c.get("status") == "True" for c in conditions):
            return
        if time.monotonic() > deadline:
            raise TimeoutError(f"CRD {name} was not Established within {wait:.0f}s")
        time.sleep(0.05)
