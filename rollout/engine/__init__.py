"""The pure decision engine: no I/O, no clock, no client. All rollout logic lives here."""

from rollout.engine.actions import (
    Action,
    CreateRevision,
    Decision,
    DeleteRevision,
    PinService,
    RemoveManagedRoutes,
    RenumberRevision,
    RestartRevision,
    ScaleRevision,
    ScaleWorkload,
    SetRoute,
    SetWeight,
)
from rollout.engine.decide import decide
from rollout.engine.hashing import revision_hash
from rollout.engine.invalid import decide_invalid
from rollout.engine.world import Inputs, RevisionState, World

__all__ = [
    "Action",
    "CreateRevision",
    "Decision",
    "DeleteRevision",
    "Inputs",
    "PinService",
    "RemoveManagedRoutes",
    "RenumberRevision",
    "RestartRevision",
    "RevisionState",
    "ScaleRevision",
    "ScaleWorkload",
    "SetRoute",
    "SetWeight",
    "World",
    "decide",
    "decide_invalid",
    "revision_hash",
]
