"""The analysis part of `rollout get`: each run, each metric, the values and why.

Plain text, read from the status alone (the runs and measurements are kept there), so it works
the same for a finished update and needs nothing but the Rollout object.
"""

from __future__ import annotations

from typing import Any

from rollout.kube.client import Obj


def analysis_lines(status: Obj) -> list[str]:
    lines: list[str] = []
    failing = status.get("preflight") or []
    if failing:
        lines.append("Preflight:   failing (nothing of the new revision is deployed)")
        lines.extend(f"  - {problem}" for problem in failing)
    runs: list[Obj] = list(status.get("analysisRuns") or [])
    if not runs:
        return lines
    lines.append("Analysis:")
    for run in runs:
        where = f" (step {run['step'] + 1})" if run.get("step") is not None else ""
        lines.append(f"  {run['name']}{where}: {run.get('phase', '?')}  {run.get('message', '')}")
        score = run.get("score")
        if score:
            lines.append(
                f"    quality score {score.get('total', 0):.0f}/100: {score.get('result', '?')}"
            )
        for metric in run.get("metrics") or []:
            lines.append("    " + _metric_line(metric))
            last = (metric.get("measurements") or [None])[-1]
            if last:
                lines.append(f"      last: {_measurement(last)}")
                logs = (last.get("metadata") or {}).get("logs")
                if logs:
                    lines.extend(f"      | {line}" for line in str(logs).splitlines()[-5:])
    return lines


def _metric_line(metric: Obj) -> str:
    counts = [
        f"{metric.get(key, 0)} {label}"
        for key, label in (
            ("successful", "ok"),
            ("failed", "failed"),
            ("inconclusive", "inconclusive"),
            ("noData", "no data"),
            ("error", "errors"),
        )
        if metric.get(key)
    ]
    dry = " [dry run]" if metric.get("dryRun") else ""
    shown = ", ".join(counts) or "no measurement yet"
    return f"{metric['name']}{dry}: {metric.get('phase', '?')} ({shown})"


def _measurement(measurement: dict[str, Any]) -> str:
    value = measurement.get("value")
    at = (measurement.get("finishedAt") or measurement.get("startedAt") or "")[11:19]
    shown = f"value {value}, " if value is not None else ""
    return f"{at} {measurement.get('phase', '?')}: {shown}{measurement.get('message', '')}".strip()
