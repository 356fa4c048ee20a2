"""One line of the list screen per Rollout: the facts (no Textual), how a filter matches them and
how each column sorts. The texts are the CLI's (`rollout.cli.render`, `render_bluegreen`), so
`rollout list` and the dashboard never disagree."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from rollout.cli.render import age, canary_weight, step_column
from rollout.cli.render_bluegreen import blue_green_spec, stage_column
from rollout.kube.client import Obj
from rollout.models.time import parse_time

MESSAGE_WIDTH = 90
"""The list shows this much of status.message; the detail screen shows it whole."""


@dataclass(frozen=True)
class Column:
    key: str
    label: str


COLUMNS: tuple[Column, ...] = (
    Column("namespace", "NAMESPACE"),
    Column("name", "NAME"),
    Column("phase", "PHASE"),
    Column("strategy", "STRATEGY"),
    Column("step", "STEP"),
    Column("weight", "WEIGHT"),
    Column("stable", "STABLE IMAGE"),
    Column("canary", "CANARY IMAGE"),
    Column("age", "STEP AGE"),
    Column("waiting", "WAITING FOR"),
)
COLUMN_KEYS = tuple(c.key for c in COLUMNS)


@dataclass(frozen=True)
class RolloutRow:
    key: str
    namespace: str
    name: str
    phase: str
    strategy: str
    """canary | blueGreen"""
    step: str
    """current step / total, or the blue-green stage"""
    weight: int | None
    """the canary's (new revision's) share of traffic, percent; None with no update"""
    stable: str
    canary: str
    since: str | None
    """when the current step (or stage) began"""
    waiting: str
    """status.message"""

    def text(self, column: str, now: datetime) -> str:
        """The plain text of one cell."""
        if column == "weight":
            return "-" if self.weight is None else f"{self.weight}%"
        if column == "age":
            return age(self.since, now)
        if column == "waiting":
            return _shorten(self.waiting, MESSAGE_WIDTH)
        value: str = getattr(self, column)
        return value

    def matches(self, terms: list[str]) -> bool:
        """Every term (lower case) is in one of the row's texts."""
        haystack = " ".join(
            (
                f"{self.namespace}/{self.name}",
                self.phase,
                self.strategy,
                self.step,
                self.stable,
                self.canary,
                self.waiting,
            )
        ).lower()
        return all(term in haystack for term in terms)

    def sort_value(self, column: str) -> Any:
        """A key that sorts the column the way a person reads it; name breaks ties."""
        tie = (self.namespace, self.name)
        if column == "weight":
            return (-1 if self.weight is None else self.weight, tie)
        if column == "age":  # the longest-running step first when ascending
            return (parse_time(self.since).timestamp() if self.since else float("inf"), tie)
        if column == "step":
            done, _, total = self.step.partition("/")
            if done.isdigit() and total.isdigit():
                return ((0, int(done), int(total), ""), tie)
            return ((1, 0, 0, self.step), tie)
        return (str(getattr(self, column)).lower(), tie)


def filter_terms(text: str) -> list[str]:
    return text.lower().split()


def row_of(rollout: Obj, revisions: dict[str, Obj]) -> RolloutRow:
    """`revisions`: the rollout's revision Deployments by revision hash."""
    meta = rollout.get("metadata") or {}
    status = rollout.get("status") or {}
    blue_green = blue_green_spec(rollout) is not None
    stable, current = status.get("stableRevision"), status.get("currentRevision")
    updating = current is not None and current != stable
    template = _images((rollout.get("spec") or {}).get("template"))
    weight_text = canary_weight(rollout)
    return RolloutRow(
        key=f"{meta.get('namespace', '')}/{meta.get('name', '')}",
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        phase=status.get("phase") or "-",
        strategy="blueGreen" if blue_green else "canary",
        step=stage_column(rollout) if blue_green else step_column(rollout),
        weight=int(weight_text[:-1]) if weight_text.endswith("%") and updating else None,
        stable=_revision_images(revisions, stable) or (template if not updating else "") or "-",
        canary=(_revision_images(revisions, current) or template or "-") if updating else "-",
        since=_since(rollout, blue_green=blue_green),
        waiting=status.get("message") or "",
    )


def _since(rollout: Obj, *, blue_green: bool) -> str | None:
    """A canary's step start; a blue-green rollout's last recorded stage change (its stages
    are not steps: the history entry of each is the moment it began)."""
    status = rollout.get("status") or {}
    started: str | None = status.get("stepStartedAt")
    if blue_green:
        history = status.get("history") or []
        if history and history[-1].get("time"):
            return str(history[-1]["time"])
    return started


def _images(template: Obj | None) -> str:
    if not template:
        return ""
    containers = (template.get("spec") or {}).get("containers") or []
    return ",".join(str(c.get("image", "?")) for c in containers)


def _revision_images(revisions: dict[str, Obj], revision: str | None) -> str:
    deployment = revisions.get(revision or "")
    if deployment is None:
        return ""
    return _images((deployment.get("spec") or {}).get("template"))


def _shorten(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def weight_bar(weight: int | None, width: int = 10) -> str:
    """`weight` percent as a bar of `width` cells (full blocks for the canary's share)."""
    if weight is None:
        return " " * width
    filled = round(max(0, min(100, weight)) * width / 100)
    return "█" * filled + "░" * (width - filled)
