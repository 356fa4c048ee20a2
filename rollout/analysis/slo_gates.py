"""Measuring the SLO gates: the count queries, then the SLO maths and the judge.

Each gate measurement is one observation of one SLO:
- release gate: bad/total over the SLO window and over the burn-rate windows (5m, 30m, 1h, 6h
  for the defaults) -> `slo.release_gate` -> Successful (open), Failed (closed) or NoData
  (closed too: a gate that cannot see does not wave releases through).
- step gate: the canary slice's and the stable slice's bad/total since the update started, and
  the service's over the SLO window (for the rollout's budget allowance) -> `judge.judge` ->
  Failed on "rollback", Inconclusive on "pause" (both slices burn: a shared incident),
  Successful otherwise, NoData when the canary has no traffic yet. The
  judge's sequential-test state rides in the measurement's metadata, so a restarted controller
  continues the same test (its false-rollback bound holds across restarts).

Counting rules: an empty vector for a *bad* query is 0 (no series of errors: none happened); an
empty *total* is no data. `or vector(0)` on a denominator would fake data; we never add it.
"""

from __future__ import annotations

import json
import math
import threading
from dataclasses import dataclass
from datetime import datetime
from string import Template

from rollout.analysis.judge import JudgePolicy, JudgeState, judge
from rollout.analysis.provider import MeasureContext, Observation, Outcome
from rollout.analysis.providers.prometheus import PrometheusClient, PrometheusConnection
from rollout.analysis.slo import (
    Counts,
    budget_remaining,
    burn_pairs,
    format_window,
    release_gate,
    rollout_allowance,
)
from rollout.models import Rollout
from rollout.models.analysis_status import Measurement
from rollout.models.slo import SLI, ServiceLevelObjective

JUDGE_KEY = "judge"
MIN_WINDOW = 60
"""The canary's counting window is at least this long (s): increase() needs two samples."""


class QueryError(Exception):
    """A count query errored: the measurement is an Error with this message."""


@dataclass(frozen=True)
class _Query:
    client: PrometheusClient
    ctx: MeasureContext

    def counts(self, sli: SLI, window: int) -> Counts:
        total = self.number(sli.total, window)
        if sli.bad is not None:
            bad = self.number(sli.bad, window, zero_if_empty=True)
            return Counts(bad=min(bad or 0.0, total or 0.0), total=total or 0.0)
        good = self.number(sli.good or "", window, zero_if_empty=True)
        return Counts.from_good(min(good or 0.0, total or 0.0), total or 0.0)

    def number(self, query: str, window: int, *, zero_if_empty: bool = False) -> float | None:
        promql = Template(query).safe_substitute(
            window=format_window(window),
            revision=self.ctx.revision,
            stable=self.ctx.stable_revision,
            baseline=f"{self.ctx.stable_revision}-baseline",
            namespace=self.ctx.namespace,
            rollout=self.ctx.rollout,
        )
        seen = self.client.query(promql, self.ctx.now)
        if seen.outcome is Outcome.VALUE and isinstance(seen.value, float):
            if math.isinf(seen.value):
                raise QueryError(f"{promql}: {seen.display}, a count cannot be infinite")
            return max(0.0, seen.value)
        if seen.outcome is Outcome.NO_DATA:
            return 0.0 if zero_if_empty else None
        raise QueryError(seen.message or f"{promql}: unexpected {seen.outcome.value}")


class SLOGates:
    """The two gate measurers the Analyst dispatches to (see rollout.analysis.gates)."""

    def __init__(self) -> None:
        self._clients: dict[str, PrometheusClient] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()

    def _query(self, rollout: Rollout, ctx: MeasureContext) -> _Query:
        prometheus = rollout.spec.analysis.prometheus
        if prometheus is None:
            raise QueryError("spec.analysis.prometheus.address is needed by the SLO gates")
        with self._lock:
            client = self._clients.get(prometheus.address)
            if client is None:
                client = PrometheusClient(PrometheusConnection(address=prometheus.address))
                self._clients[prometheus.address] = client
        return _Query(client, ctx)

    @staticmethod
    def _slo(rollout: Rollout, name: str) -> ServiceLevelObjective:
        for slo in rollout.spec.analysis.slos:
            if slo.name == name:
                return slo
        raise QueryError(f"no SLO named {name!r} in spec.analysis.slos")

    def release(
        self, rollout: Rollout, name: str, ctx: MeasureContext, previous: Measurement | None
    ) -> Observation:
        try:
            slo = self._slo(rollout, name)
            query = self._query(rollout, ctx)
            period = query.counts(slo.sli, slo.window)
            windows = {
                w: query.counts(slo.sli, w)
                for pair in burn_pairs(slo.window)
                for w in (pair.long, pair.short)
            }
        except QueryError as err:
            return Observation(Outcome.ERROR, message=str(err))
        verdict = release_gate(period, windows, slo, rollout.spec.analysis.gates.release)
        outcome = {
            "open": Outcome.SUCCEEDED,
            "closed": Outcome.FAILED,
            "no-data": Outcome.NO_DATA,
        }[verdict.outcome]
        remaining = verdict.figures.get("budgetRemaining")
        return Observation(
            outcome,
            display=None if remaining is None else f"{remaining:.4f}",
            message=verdict.message,
            metadata={"reason": verdict.reason, **_figures(verdict.figures)},
        )

    def step(
        self, rollout: Rollout, name: str, ctx: MeasureContext, previous: Measurement | None
    ) -> Observation:
        started = self._run_start(rollout, ctx)
        window = max(MIN_WINDOW, math.ceil((ctx.now - started).total_seconds()))
        try:
            slo = self._slo(rollout, name)
            assert slo.canary_sli is not None  # step_gate_metrics only makes these
            query = self._query(rollout, ctx)
            canary = query.counts(slo.canary_sli, window)
            stable = query.counts(slo.stable_sli or slo.sli, window)
            period = query.counts(slo.sli, slo.window)
        except QueryError as err:
            return Observation(Outcome.ERROR, message=str(err))
        gate = rollout.spec.analysis.gates.step
        remaining = budget_remaining(period, slo.error_budget)
        allowance = (
            rollout_allowance(period.total, slo.error_budget, remaining, gate.budget_share / 100)
            if remaining is not None
            else None
        )
        policy = JudgePolicy(
            error_budget=slo.error_budget,
            fast_burn_factor=burn_pairs(slo.window)[0].factor if gate.fast_burn else math.inf,
            excess_allowance=allowance,
        )
        state = _state(previous)
        result = judge(canary, stable, state, policy)
        if result.reason == "NoData":
            outcome = Outcome.NO_DATA
        elif result.verdict == "rollback":
            outcome = Outcome.FAILED
        elif result.verdict == "pause":
            # Both slices burn (a shared incident): not the canary's fault, not a pass either.
            outcome = Outcome.INCONCLUSIVE
        else:
            outcome = Outcome.SUCCEEDED
        ratio = canary.ratio
        return Observation(
            outcome,
            display=None if ratio is None else f"{ratio:.6f}",
            message=result.message,
            metadata={
                "verdict": result.verdict,
                "reason": result.reason,
                JUDGE_KEY: json.dumps(result.state.to_dict()),
                **_figures(result.figures),
            },
        )

    @staticmethod
    def _run_start(rollout: Rollout, ctx: MeasureContext) -> datetime:
        run = next((r for r in rollout.status.analysis_runs if r.name == ctx.run), None)
        return run.started_at if run is not None else ctx.now


def _state(previous: Measurement | None) -> JudgeState:
    """The judge's state from the last measurement; a fresh one if there is none (or it is
    unreadable: then a new test starts, which is safe, only slower to decide)."""
    if previous is None or JUDGE_KEY not in previous.metadata:
        return JudgeState()
    try:
        return JudgeState.from_dict(json.loads(previous.metadata[JUDGE_KEY]))
    except ValueError:
        return JudgeState()


def _figures(figures: dict[str, float | None]) -> dict[str, str]:
    return {k: "none" if v is None else f"{v:.6g}" for k, v in figures.items()}
