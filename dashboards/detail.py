"""The detail screen's facts (no Textual): steps or stages with the current one marked and a timed
pause counting down, traffic weights, revisions with their pods, the last decision, events.

Step and stage texts, roles and blue-green's stages are the CLI's (`rollout.cli.render`,
`render_bluegreen`); the countdowns are computed here from the start times the controller
records (the canary pause's condition, blue-green's BlueGreenPause) and the app's clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rollout import labels
from rollout.cli import render_bluegreen as bluegreen
from rollout.cli.render import routing_text, step_text, steps_of
from rollout.kube.client import Obj
from rollout.models.base import parse_duration
from rollout.models.time import parse_time

DONE, CURRENT, PENDING, FAILED = "done", "current", "pending", "failed"


@dataclass(frozen=True)
class StepEntry:
    number: int
    text: str
    state: str
    """done | current | pending | failed"""
    note: str
    """e.g. "27s left", "<- aborted here" """


def strategy_text(rollout: Obj) -> str:
    blue_green = bluegreen.blue_green_spec(rollout)
    if blue_green is not None:
        return bluegreen.strategy_text(blue_green)
    spec = rollout.get("spec") or {}
    return f"canary ({routing_text(spec)})"


def _updating(status: Obj) -> bool:
    current = status.get("currentRevision")
    return current is not None and current != status.get("stableRevision")


def _pause_started(status: Obj, reason: str) -> datetime | None:
    for condition in status.get("pauseConditions") or []:
        if condition.get("reason") == reason and condition.get("startTime"):
            return parse_time(condition["startTime"])
    return None


def _left(ends: datetime, now: datetime) -> str:
    seconds = max(0, int((ends - now).total_seconds() + 0.999))
    minutes, rest = divmod(seconds, 60)
    return f"{minutes}m{rest:02d}s left" if minutes else f"{rest}s left"


def step_entries(rollout: Obj, now: datetime) -> list[StepEntry]:
    """A canary's steps (with the countdown of a timed pause), or a blue-green's stages."""
    if bluegreen.blue_green_spec(rollout) is not None:
        return _stage_entries(rollout, now)
    status = rollout.get("status") or {}
    index = status.get("currentStepIndex")
    updating = _updating(status)
    aborted = updating and bool(status.get("abort"))
    entries = []
    for i, step in enumerate(steps_of(rollout)):
        note = ""
        if index is not None and (i < index or not updating):
            state = DONE
        elif updating and i == index:
            state = FAILED if aborted else CURRENT
            note = "<- aborted here" if aborted else _step_note(rollout, step, now)
        else:
            state = PENDING
        entries.append(StepEntry(i + 1, step_text(step), state, note))
    return entries


def _step_note(rollout: Obj, step: Obj, now: datetime) -> str:
    status = rollout.get("status") or {}
    if (rollout.get("spec") or {}).get("paused"):
        return "<- current (held: rollout resume)"
    pause = step.get("pause") if isinstance(step, dict) else None
    if isinstance(pause, dict) and pause.get("duration") is not None:
        started = _pause_started(status, "CanaryPauseStep")
        if started is not None:
            ends = started + timedelta(seconds=parse_duration(pause["duration"]))
            return f"<- current, {_left(ends, now)}"
    if isinstance(pause, dict):
        return "<- current, waiting for promote"
    return "<- current"


STAGE_MARKS = {  # the marks `rollout get` puts after a stage, and what they mean
    "skipped (rollback window)": DONE,
    "<- aborted here": FAILED,
    "<- current": CURRENT,
    "done": DONE,
}


def _stage_entries(rollout: Obj, now: datetime) -> list[StepEntry]:
    """From `rollout get`'s stage lines: "  > 3. switch (on rollout promote)    <- current"."""
    entries = []
    for line in bluegreen.stage_lines(rollout)[1:]:  # past the "Stages:" title
        number, _, body = line[4:].partition(". ")
        state, note = PENDING, ""
        for mark, meaning in STAGE_MARKS.items():
            if body.endswith(mark):
                body, state = body.removesuffix(mark), meaning
                note = mark if meaning == FAILED else ""
                break
        if state == CURRENT:
            note = _stage_note(rollout, now)
        entries.append(StepEntry(int(number), body.strip(), state, note))
    return entries


def _stage_note(rollout: Obj, now: datetime) -> str:
    spec = bluegreen.blue_green_spec(rollout) or {}
    status = rollout.get("status") or {}
    started = _pause_started(status, "BlueGreenPause")
    seconds = spec.get("autoPromotionSeconds")
    if started is not None and seconds is not None and spec.get("autoPromotionEnabled", True):
        ends = started + timedelta(seconds=parse_duration(seconds))
        return f"<- current, auto-promotion in {_left(ends, now).removesuffix(' left')}"
    if started is not None:
        return "<- current, waiting for promote"
    return "<- current"


@dataclass(frozen=True)
class Traffic:
    stable: int
    canary: int
    stable_revision: str
    canary_revision: str
    baseline: int = 0
    """A baseline behind a router: its share (0 without one)."""
    baseline_revision: str = ""


def traffic(rollout: Obj) -> Traffic | None:
    """The weights the controller read back from the traffic layer (or pods)."""
    weights = ((rollout.get("status") or {}).get("canary") or {}).get("weights") or {}
    stable, canary = weights.get("stable") or {}, weights.get("canary") or {}
    if not stable or not canary:
        return None
    twin = weights.get("baseline") or {}
    return Traffic(
        int(stable.get("weight") or 0),
        int(canary.get("weight") or 0),
        str(stable.get("revision", "")),
        str(canary.get("revision", "")),
        int(twin.get("weight") or 0),
        str(twin.get("revision", "")),
    )


@dataclass(frozen=True)
class RevisionRow:
    number: str
    revision: str
    images: str
    role: str
    available: int
    desired: int


def revision_rows(rollout: Obj, revisions: dict[str, Obj]) -> list[RevisionRow]:
    """Newest revision number first, as `rollout get`."""
    status = rollout.get("status") or {}
    stable, current = status.get("stableRevision"), status.get("currentRevision")
    blue_green = bluegreen.blue_green_spec(rollout) is not None
    rows = []
    for rev, deployment in revisions.items():
        meta = deployment.get("metadata") or {}
        if blue_green:
            role = bluegreen.role(rev, rollout)
        else:
            role = "stable" if rev == stable else ("canary" if rev == current else "old")
        if rev.endswith("-baseline"):
            role = "baseline"
        template = (deployment.get("spec") or {}).get("template") or {}
        containers = (template.get("spec") or {}).get("containers") or []
        rows.append(
            RevisionRow(
                number=str((meta.get("annotations") or {}).get(labels.REVISION_NUMBER, "?")),
                revision=rev,
                images=",".join(str(c.get("image", "?")) for c in containers),
                role=role,
                available=int((deployment.get("status") or {}).get("availableReplicas") or 0),
                desired=int((deployment.get("spec") or {}).get("replicas") or 0),
            )
        )
    return sorted(rows, key=lambda r: int(r.number) if r.number.isdigit() else 0, reverse=True)


def last_decision(rollout: Obj) -> tuple[str, str]:
    """(status.message, the last history entry as "HH:MM:SS Reason: message")."""
    status = rollout.get("status") or {}
    history = status.get("history") or []
    last = ""
    if history:
        entry = history[-1]
        at = str(entry.get("time", ""))[11:19]
        last = f"{at} {entry.get('reason', '')}: {entry.get('message', '')}".strip()
    return str(status.get("message", "")), last


def event_lines(events: list[Obj]) -> list[tuple[str, str, str, str]]:
    """(time, type, reason, message), oldest first."""
    return [
        (
            str(e.get("lastTimestamp") or "")[11:19],
            str(e.get("type", "")),
            str(e.get("reason", "")),
            str(e.get("message", "")),
        )
        for e in events
    ]
