"""The dashboard's actions: each is one `RolloutsAPI` call, the same the CLI verb makes (no
Textual here; the screens bind them to keys and ask for confirmation first)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rollout.api import RolloutsAPI
from rollout.errors import RolloutError

Call = Callable[[RolloutsAPI, str, str, str], object]
"""(api, namespace, name, the answer typed in the confirmation: undo's revision or "")"""


@dataclass(frozen=True)
class Action:
    name: str
    """the CLI verb, as shown"""
    key: str
    description: str
    question: str
    """asked before; {name} is the rollout"""
    done: str
    """said after: 'rollout "demo" <done>'"""
    call: Call
    asks_revision: bool = False


def _undo(api: RolloutsAPI, namespace: str, name: str, answer: str) -> object:
    text = answer.strip()
    if text and not text.isdigit():
        raise RolloutError(
            f"{text!r} is not a revision number", hint="leave it empty for the previous one"
        )
    return api.undo(namespace, name, to_revision=int(text) if text else None)


ACTIONS: dict[str, Action] = {
    a.name: a
    for a in (
        Action(
            "pause",
            "p",
            "pause: hold at the current step",
            "Pause {name}? It holds at its current step (spec.paused=true).",
            "paused",
            lambda api, ns, name, _: api.pause(ns, name),
        ),
        Action(
            "resume",
            "r",
            "resume: undo a pause",
            "Resume {name}? (spec.paused=false)",
            "resumed",
            lambda api, ns, name, _: api.resume(ns, name),
        ),
        Action(
            "promote",
            "P",
            "promote: complete the current step",
            "Promote {name}? The current step (a pause, an analysis, blue-green's switch) "
            "completes now.",
            "promote requested for the current step",
            lambda api, ns, name, _: api.promote(ns, name),
        ),
        Action(
            "promote --full",
            "F",
            "promote --full: skip every remaining step",
            "Promote {name} fully? Every remaining step, pause and check is skipped and the new "
            "revision takes all traffic.",
            "promoted (full)",
            lambda api, ns, name, _: api.promote(ns, name, full=True),
        ),
        Action(
            "abort",
            "a",
            "abort: roll back to stable now",
            "Abort {name}? Traffic goes back to the stable revision now (status.abort=true).",
            "abort requested",
            lambda api, ns, name, _: api.abort(ns, name),
        ),
        Action(
            "retry",
            "t",
            "retry: start an aborted update again",
            "Retry {name}? The aborted update starts again from step 1 (status.abort=false).",
            "retry requested",
            lambda api, ns, name, _: api.retry(ns, name),
        ),
        Action(
            "undo",
            "u",
            "undo: go back to an earlier revision",
            "Undo {name}? Its template goes back to an earlier revision's.",
            "template set back",
            _undo,
            asks_revision=True,
        ),
    )
}
