"""Human-readable rendering of Rollouts for `list` and `get` (plain text, no colour codes)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import yaml

from rollout import jsonwire, labels
from rollout.cli import render_bluegreen as bluegreen
from rollout.cli.render_analysis import analysis_lines
from rollout.kube.client import Obj
from rollout.models.time import parse_time


def dump(obj: Any, fmt: str) -> str:
    if fmt == "json":
        return jsonwire.dumps_indented(obj)
    return yaml.safe_dump(obj, sort_keys=False).rstrip()


def age(stamp: str | None, now: datetime | None = None) -> str:
    if not stamp:
        return "-"
    seconds = int(((now or datetime.now(UTC)) - parse_time(stamp)).total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{max(seconds, 0)}s"


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    )


def steps_of(rollout: Obj) -> list[Obj]:
    return list(
        ((rollout.get("spec") or {}).get("strategy") or {}).get("canary", {}).get("steps") or []
    )


def step_text(step: Obj) -> str:
    if "setWeight" in step:
        return f"setWeight {step['setWeight']}"
    if "pause" in step:
        duration = (step["pause"] or {}).get("duration")
        return f"pause {duration}" if duration is not None else "pause (until promoted)"
    if "setCanaryScale" in step:
        return f"setCanaryScale {json.dumps(step['setCanaryScale'])}"
    if "confirm" in step:
        gate = step["confirm"] or {}
        timeout = gate.get("timeout")
        limit = f"; {gate.get('onTimeout', 'Abort')} after {timeout}" if timeout else ""
        return f"confirm (promote or approval webhooks{limit})"
    if "analysis" in step:
        names = [t.get("templateName", "?") for t in step["analysis"].get("templates", [])]
        return f"analysis {', '.join(names)}"
    return json.dumps(step)


def step_column(rollout: Obj) -> str:
    if bluegreen.blue_green_spec(rollout) is not None:
        return "-"  # no steps: `rollout get` shows its stages
    steps = steps_of(rollout)
    index = (rollout.get("status") or {}).get("currentStepIndex")
    if index is None or not steps:
        return "-"
    return (
        f"{min(index + 1, len(steps))}/{len(steps)}"
        if index < len(steps)
        else f"{len(steps)}/{len(steps)}"
    )


def canary_weight(rollout: Obj) -> str:
    if bluegreen.blue_green_spec(rollout) is not None:
        return bluegreen.weight_column(rollout)
    weights = ((rollout.get("status") or {}).get("canary") or {}).get("weights") or {}
    weight = (weights.get("canary") or {}).get("weight")
    return "-" if weight is None else f"{weight}%"


def list_rows(rollouts: list[Obj], *, namespaces: bool) -> str:
    header = ["NAME", "PHASE", "STEP", "WEIGHT", "DESIRED", "AVAILABLE", "STABLE", "CANARY", "AGE"]
    rows = [(["NAMESPACE"] if namespaces else []) + header]
    now = datetime.now(UTC)  # one clock for every row (and one call, not ten thousand)
    for r in rollouts:
        status = r.get("status") or {}
        current, stable = status.get("currentRevision"), status.get("stableRevision")
        rows.append(
            ([r["metadata"].get("namespace", "")] if namespaces else [])
            + [
                r["metadata"]["name"],
                status.get("phase") or "-",
                step_column(r),
                canary_weight(r),
                str((r.get("spec") or {}).get("replicas", "-")),
                str(status.get("availableReplicas", 0)),
                stable or "-",
                current if current and current != stable else "-",
                age(r["metadata"].get("creationTimestamp"), now),
            ]
        )
    return table(rows)


def routing_text(spec: Obj) -> str:
    routing = ((spec.get("strategy") or {}).get("canary") or {}).get("trafficRouting") or {}
    routers = [k for k in ("istio", "linkerd", "nginx", "gatewayAPI") if k in routing]
    return f"traffic routed by {routers[0]}" if routers else "weights follow pod counts"


def _step_lines(rollout: Obj) -> list[str]:
    status = rollout.get("status") or {}
    steps = steps_of(rollout)
    index = status.get("currentStepIndex")
    updating = status.get("currentRevision") != status.get("stableRevision")
    lines = ["Steps:"]
    if not steps:
        lines.append("  (none: a new revision is rolled out at once)")
    for i, step in enumerate(steps):
        done = index is not None and (i < index or not updating)
        marker = ">" if updating and i == index else " "
        mark = "done" if done else ("<- current" if marker == ">" else "")
        lines.append(f"  {marker} {i + 1}. {step_text(step):<28} {mark}".rstrip())
    return lines


def describe(rollout: Obj, revisions: list[Obj], events: list[Obj]) -> str:
    meta, spec, status = rollout["metadata"], rollout.get("spec") or {}, rollout.get("status") or {}
    stable, current = status.get("stableRevision"), status.get("currentRevision")
    weights = (status.get("canary") or {}).get("weights") or {}
    blue_green = bluegreen.blue_green_spec(rollout)
    strategy = (
        bluegreen.strategy_text(blue_green)
        if blue_green is not None
        else f"canary ({routing_text(spec)})"
    )
    lines = [
        f"Name:        {meta['name']}",
        f"Namespace:   {meta.get('namespace', '')}",
        f"Phase:       {status.get('phase', '-')}",
        f"Message:     {status.get('message', '')}",
        f"Strategy:    {strategy}",
        f"Replicas:    desired {spec.get('replicas', '-')}, "
        f"available {status.get('availableReplicas', 0)}",
    ]
    if blue_green is not None:
        lines.extend(bluegreen.header_lines(rollout, revisions))
    elif weights:
        twin = weights.get("baseline")
        lines.append(
            f"Traffic:     stable {weights['stable']['weight']}% ({weights['stable']['revision']})"
            f"  canary {weights['canary']['weight']}% ({weights['canary']['revision']})"
            + (f"  baseline {twin['weight']}% ({twin['revision']})" if twin else "")
        )
    if spec.get("paused"):
        lines.append("Paused:      yes (spec.paused) - rollout resume to continue")
    if status.get("abort"):
        lines.append(f"Aborted:     {status.get('abortMessage', '')}")

    if blue_green is not None:
        lines.extend(bluegreen.stage_lines(rollout))
    else:
        lines.extend(_step_lines(rollout))

    lines.append("Revisions:")
    rows = [["", "REV", "HASH", "IMAGES", "ROLE", "PODS (available/desired)"]]
    for dep in revisions:
        dmeta = dep["metadata"]
        rev = (dmeta.get("labels") or {}).get(labels.REVISION, "?")
        images = ",".join(
            c.get("image", "?") for c in dep["spec"]["template"]["spec"].get("containers", [])
        )
        if blue_green is not None:
            role = bluegreen.role(rev, rollout)
        else:
            role = "stable" if rev == stable else ("canary" if rev == current else "old")
        if rev.endswith("-baseline"):
            role = "baseline"
        avail = (dep.get("status") or {}).get("availableReplicas") or 0
        rows.append(
            [
                "",
                (dmeta.get("annotations") or {}).get(labels.REVISION_NUMBER, "?"),
                rev,
                images,
                role,
                f"{avail}/{dep['spec'].get('replicas', 0)}",
            ]
        )
    lines.append(table(rows) if len(rows) > 1 else "  (none yet)")

    lines.extend(analysis_lines(status))
    lines.append("Conditions:")
    for c in status.get("conditions") or []:
        lines.append(
            f"  {c['type']:<12} {c['status']:<6} {c['reason']:<26} {c.get('message', '')}".rstrip()
        )
    lines.append("Events:")
    for e in events:
        stamp = (e.get("lastTimestamp") or "")[11:19]
        lines.append(
            f"  {stamp}  {e.get('type', ''):<8} {e.get('reason', ''):<24} {e.get('message', '')}"
        )
    if not events:
        lines.append("  (none)")
    return "\n".join(lines)
