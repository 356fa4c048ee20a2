"""The blue-green part of `rollout list` / `rollout get`: Services, roles, what it waits for, and
the stages (preview -> pre-promotion analysis -> switch -> post-promotion analysis -> done).

Read from the Rollout object (spec and status) and the revisions' Deployments only: every line
says what the controller recorded, nothing is guessed from the clock.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rollout import labels
from rollout.analysis.run_names import POST_PROMOTION_RUN, PRE_PROMOTION_RUN
from rollout.kube.client import Obj
from rollout.models.base import parse_duration
from rollout.models.time import parse_time

PRE, POST = PRE_PROMOTION_RUN, POST_PROMOTION_RUN
ROUTERS = ("istio", "linkerd", "nginx", "gatewayAPI")


def blue_green_spec(rollout: Obj) -> Obj | None:
    strategy = (rollout.get("spec") or {}).get("strategy") or {}
    spec = strategy.get("blueGreen")
    return spec if isinstance(spec, dict) else None


@dataclass(frozen=True)
class _State:
    """The facts every line is made of."""

    name: str
    spec: Obj
    status: Obj
    stable: str | None
    current: str | None
    active: str | None
    preview: str | None
    paused: bool
    """spec.paused"""
    replicas: int | None
    """spec.replicas"""

    @property
    def updating(self) -> bool:
        return self.current is not None and self.current != self.stable

    @property
    def aborted(self) -> bool:
        return self.updating and bool(self.status.get("abort"))

    @property
    def fast(self) -> bool:
        return self.updating and bool(self.status.get("fastRollback"))

    def run(self, name: str) -> Obj | None:
        """The current revision's analysis run `name`."""
        for run in self.status.get("analysisRuns") or []:
            if run.get("name") == name and run.get("revision") == self.current:
                return run  # type: ignore[no-any-return]
        return None

    def role(self, rev: str | None) -> str:
        return "stable" if rev == self.stable else ("new" if rev == self.current else "old")

    def shown(self, rev: str | None) -> str:
        return f"{rev} ({self.role(rev)}" if rev else "- (none yet"


def _state(rollout: Obj) -> _State:
    spec = blue_green_spec(rollout)
    assert spec is not None, "not a blue-green rollout"
    status = rollout.get("status") or {}
    stable, current = status.get("stableRevision"), status.get("currentRevision")
    bg = status.get("blueGreen") or {}
    return _State(
        name=rollout["metadata"]["name"],
        spec=spec,
        status=status,
        stable=stable,
        current=current,
        active=bg.get("activeRevision") or stable,
        preview=bg.get("previewRevision") or bg.get("activeRevision") or stable,
        paused=bool((rollout.get("spec") or {}).get("paused")),
        replicas=(rollout.get("spec") or {}).get("replicas"),
    )


# -- list --------------------------------------------------------------------------------------
def weight_column(rollout: Obj) -> str:
    """The new revision's share of traffic (0% before the switch, 100% after); '-' with no
    update in progress."""
    status = rollout.get("status") or {}
    current = status.get("currentRevision")
    canary = (((status.get("canary") or {}).get("weights") or {}).get("canary")) or {}
    if current == status.get("stableRevision") or canary.get("revision") != current:
        return "-"
    weight = canary.get("weight")
    return "-" if weight is None else f"{weight}%"


# -- get ---------------------------------------------------------------------------------------
def strategy_text(spec: Obj) -> str:
    preview = spec.get("previewService")
    services = f"active Service {spec.get('activeService', '?')}, " + (
        f"preview Service {preview}" if preview else "no preview Service"
    )
    routing = spec.get("trafficRouting") or {}
    routers = [k for k in ROUTERS if k in routing]
    return f"blueGreen ({services}; switch by {routers[0] if routers else 'selector'})"


def role(rev: str, rollout: Obj) -> str:
    """A revision's roles, comma-joined: stable | new | old, then active / preview (preview only
    where it differs from active)."""
    s = _state(rollout)
    roles = [s.role(rev)]
    if rev == s.active:
        roles.append("active")
    elif rev == s.preview:
        roles.append("preview")
    return ",".join(roles)


def header_lines(rollout: Obj, revisions: list[Obj]) -> list[str]:
    """Traffic, Active, Preview, Waiting for, Promotion."""
    s = _state(rollout)
    lines: list[str] = []
    weights = (s.status.get("canary") or {}).get("weights") or {}
    stable_w, new_w = weights.get("stable") or {}, weights.get("canary") or {}
    if stable_w and new_w:
        if stable_w.get("revision") == new_w.get("revision"):
            lines.append(f"Traffic:     100% to {stable_w.get('revision')}")
        else:
            lines.append(
                f"Traffic:     stable {stable_w.get('weight')}% ({stable_w.get('revision')})"
                f"  new {new_w.get('weight')}% ({new_w.get('revision')})"
            )
    lines.append(f"Active:      {s.shown(s.active)})")
    preview = s.spec.get("previewService")
    behind = f", behind {preview}" if preview else ", no preview Service"
    lines.append(f"Preview:     {s.shown(s.preview)}{behind})")
    lines.append(f"Waiting for: {waiting_for(s, revisions)}")
    lines.append(f"Promotion:   {_promotion(s)}")
    return lines


def _promotion(s: _State) -> str:
    if s.fast:
        return "at once (rollback window: no checks)"
    spec = s.spec
    if spec.get("autoPromotionEnabled", True) is False:
        how = f"manual (rollout promote {s.name})"
    elif (seconds := _seconds(spec.get("autoPromotionSeconds"))) is not None:
        how = f"auto after {seconds}s with the preview ready (rollout promote {s.name} for sooner)"
    else:
        checks = " and pre-promotion analysis passes" if spec.get("prePromotionAnalysis") else ""
        how = f"auto (as soon as the preview is ready{checks})"
    if not s.updating:
        return how
    if s.aborted:
        return f"{how}; aborted"
    approved = (s.status.get("blueGreen") or {}).get("promotionApproved") or s.active == s.current
    return f"{how}; {'approved' if approved else 'not approved yet'}"


def _seconds(value: object) -> int | None:
    if value is None:
        return None
    try:
        return parse_duration(value)
    except ValueError:
        return None


def _clock(at: datetime) -> str:
    return f"{at:%H:%M:%S} UTC"


def _pods(revisions: list[Obj], rev: str | None) -> tuple[int, int] | None:
    """(available, desired) of a revision's Deployment, if it is listed."""
    for dep in revisions:
        if ((dep.get("metadata") or {}).get("labels") or {}).get(labels.REVISION) == rev:
            available = (dep.get("status") or {}).get("availableReplicas") or 0
            return available, (dep.get("spec") or {}).get("replicas") or 0
    return None


def _scale_downs(s: _State, revisions: list[Obj], keep: set[str | None]) -> list[str]:
    shown = []
    for deadline in s.status.get("scaleDown") or []:
        rev = deadline.get("revision")
        pods = _pods(revisions, rev)
        if rev in keep or (pods is not None and pods[1] == 0):
            continue
        count = f" ({pods[1]} pods)" if pods else ""
        shown.append(f"{rev}{count} at {_clock(parse_time(deadline['at']))}")
    return shown


def waiting_for(s: _State, revisions: list[Obj]) -> str:
    """What the rollout waits for, in a few words, from its status."""
    what = _waiting_for(s, revisions)
    if s.status.get("deadlineExceeded") and s.updating and not s.aborted:
        return f"{what} (progress deadline exceeded)"
    return what


def _waiting_for(s: _State, revisions: list[Obj]) -> str:
    name, status = s.name, s.status
    if s.stable is None:
        return "the controller (no revision deployed yet)"
    if not s.updating:
        old = _scale_downs(s, revisions, keep={s.stable})
        if old:
            return "scale-down of the old revision " + ", ".join(old)
        if status.get("phase") == "Healthy":
            return "nothing (fully rolled out)"
        return status.get("message") or "-"
    if s.aborted:
        leftover = _scale_downs(s, revisions, keep={s.stable})
        then = f"; scale-down of {', '.join(leftover)}" if leftover else ""
        return f"rollout retry {name} to try again (aborted: traffic is back on {s.stable}){then}"
    reasons = [c.get("reason") for c in status.get("pauseConditions") or []]
    if s.paused or "UserPause" in reasons:
        return f"rollout resume {name} (spec.paused)"
    if status.get("preflight") or "PreflightChecks" in reasons:
        return "preflight checks to pass (nothing of the new revision is deployed yet)"
    if "ErrorBudgetExhausted" in reasons:
        return "the release gate to open (the error budget), or rollout promote --skip-gates"
    if "InconclusiveAnalysis" in reasons:
        which = next(
            (
                f"{r} analysis"
                for r in (PRE, POST)
                if (s.run(r) or {}).get("phase") == "Inconclusive"
            ),
            "analysis",
        )
        return (
            f"a person: the {which} is inconclusive (rollout promote {name} accepts it, "
            f"rollout abort {name} rolls back)"
        )
    if "BlueGreenPause" in reasons:
        seconds = _seconds(s.spec.get("autoPromotionSeconds"))
        pause = next(c for c in status["pauseConditions"] if c.get("reason") == "BlueGreenPause")
        if seconds is not None and s.spec.get("autoPromotionEnabled", True) is not False:
            at = parse_time(pause["startTime"]) + timedelta(seconds=seconds)
            return (
                f"auto-promotion at {_clock(at)} (autoPromotionSeconds {seconds}s; "
                f"rollout promote {name} switches now)"
            )
        return f"promote (rollout promote {name}) to switch traffic to {s.current}"
    stage = current_stage(s)
    if stage == "preview":
        pods = _pods(revisions, s.current)
        if pods is not None and pods[1] and pods[0] >= pods[1]:
            return f"the preview Service to select {s.current}"
        counts = f" ({pods[0]}/{pods[1]} available)" if pods else ""
        return f"preview pods of {s.current}{counts}"
    if stage in (PRE, POST):
        run = s.run(stage) or {}
        shown = f" ({run.get('phase')}: {run.get('message')})" if run else ""
        return f"{stage} analysis{shown}"
    if stage == "switch":
        if s.active == s.current:
            routers = [k for k in ROUTERS if k in (s.spec.get("trafficRouting") or {})]
            if routers:
                return f"the {routers[0]} routing to send 100% to {s.current}"
            return f"the active Service {s.spec.get('activeService')} to select {s.current}"
        if not (s.fast or (status.get("blueGreen") or {}).get("promotionApproved")):
            return status.get("message") or "promotion"
        pods = _pods(revisions, s.current)
        if pods is not None and s.replicas and pods[0] < s.replicas:
            return f"new revision pods before the switch ({pods[0]}/{s.replicas} available)"
        return f"the switch of active traffic to {s.current}"
    return f"promotion of {s.current} to complete"


# -- stages ------------------------------------------------------------------------------------
def _stages(s: _State) -> list[tuple[str, str]]:
    """(key, text) of each stage this spec has."""
    spec = s.spec
    pods = spec.get("previewReplicaCount") or s.replicas or "?"
    if s.fast:
        switch = "switch (at once: rollback window)"
    elif spec.get("autoPromotionEnabled", True) is False:
        switch = "switch (on rollout promote)"
    elif (seconds := _seconds(spec.get("autoPromotionSeconds"))) is not None:
        switch = f"switch (auto after {seconds}s)"
    else:
        switch = "switch (auto)"
    stages = [("preview", f"preview ({pods} pods)")]
    for key, field in ((PRE, "prePromotionAnalysis"), (POST, "postPromotionAnalysis")):
        if key == POST:
            stages.append(("switch", switch))
        analysis = spec.get(field)
        if analysis:
            names = [t.get("templateName", "?") for t in analysis.get("templates") or []]
            stages.append((key, f"{key} analysis {', '.join(names)}"))
    delay = spec.get("scaleDownDelaySeconds", 30)
    stages.append(("done", f"promoted (old revision scales down after {delay}s)"))
    return stages


def current_stage(s: _State) -> str:
    """The stage an update in progress is at (not aborted)."""
    if s.active == s.current:
        weights = (s.status.get("canary") or {}).get("weights") or {}
        new = weights.get("canary") or {}
        post = s.run(POST)
        switched = post is not None or (
            new.get("revision") == s.current and new.get("weight") == 100
        )
        if not switched:
            return "switch"
        skip = not s.spec.get("postPromotionAnalysis") or s.fast
        return "done" if skip or (post or {}).get("phase") == "Successful" else POST
    if s.preview != s.current:
        return "preview"
    approved = bool((s.status.get("blueGreen") or {}).get("promotionApproved"))
    skipped = not s.spec.get("prePromotionAnalysis") or s.fast or approved
    return "switch" if skipped or (s.run(PRE) or {}).get("phase") == "Successful" else PRE


def stage_column(rollout: Obj) -> str:
    """`rollout status`'s short form: the current stage (or done / aborted)."""
    s = _state(rollout)
    if s.stable is None:
        return "-"
    if not s.updating:
        return "done"
    if s.aborted:
        return "aborted"
    return current_stage(s)


def stage_lines(rollout: Obj) -> list[str]:
    s = _state(rollout)
    stages = _stages(s)
    keys = [k for k, _ in stages]
    current: int | None = None
    failed: int | None = None
    if s.aborted:
        for key in (POST, PRE):
            if key in keys and (s.run(key) or {}).get("phase") in ("Failed", "Error"):
                failed = keys.index(key)
                break
    elif s.updating:
        current = keys.index(current_stage(s))
    width = max(len(text) for _, text in stages)
    lines = ["Stages:"]
    for i, (key, text) in enumerate(stages):
        skipped = s.fast and key in (PRE, POST)
        if skipped:
            mark = "skipped (rollback window)"
        elif not s.updating:
            mark = "done" if s.stable is not None else ""
        elif current is not None:
            mark = "done" if i < current else ("<- current" if i == current else "")
        elif failed is not None:
            mark = "done" if i < failed else ("<- aborted here" if i == failed else "")
        else:
            mark = ""
        marker = ">" if i in (current, failed) and not skipped else " "
        lines.append(f"  {marker} {i + 1}. {text:<{width}} {mark}".rstrip())
    return lines
