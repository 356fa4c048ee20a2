"""The one place that imports the official `kubernetes` client. Everything else gets a `Kube`."""

from rollout.kube.client import Kube, WatchEvent
from rollout.kube.kinds import (
    CRDS,
    DEPLOYMENTS,
    EVENTS,
    LEASES,
    NAMESPACES,
    ROLLOUTS,
    SERVICES,
    Kind,
)

__all__ = [
    "CRDS",
    "DEPLOYMENTS",
    "EVENTS",
    "LEASES",
    "NAMESPACES",
    "ROLLOUTS",
    "SERVICES",
    "Kind",
    "Kube",
    "WatchEvent",
]
