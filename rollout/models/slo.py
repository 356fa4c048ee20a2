"""Service level objectives and the two gates built on them.

An SLO is an objective (e.g. 99.9 %) over a rolling window (e.g. 28d) of an SLI given as counts:
`bad` and `total` PromQL, each with `$window` where the range goes (the controller fills it with
5m, 1h, 28d, ...). The same counts for the canary slice (`canaryBad` / `canaryTotal`, usually the
same queries with a version label; `$revision` is the canary revision's hash) feed the step gate.

- **Release gate** (before step 0): the rollout does not start while the error budget remaining
  is below `minBudgetRemaining` or a fast burn (a page-level window pair) is active.
- **Step gate** (every step): roll back when the canary slice burns fast, or when its excess bad
  events (beyond what the stable's error ratio predicts) exceed `budgetShare` of the remaining
  error budget. With `retries` left at this step (default 1), a canary first withdraws:
  weight 0 for `retryAfter`, then the same step again with a fresh test; the next failed
  verdict at that step rolls back, unless it comes `retryAfter` or more after the retry began
  (a new incident: the step's retries come back, once).
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from rollout.models.base import Duration, SpecModel


class SLI(SpecModel):
    """Counts over `$window`. Give bad or good, and total."""

    total: str
    bad: str | None = None
    good: str | None = None

    @model_validator(mode="after")
    def _bad_or_good(self) -> SLI:
        if (self.bad is None) == (self.good is None):
            raise ValueError("give exactly one of bad and good (and total)")
        for name in ("total", "bad", "good"):
            query = getattr(self, name)
            if query is not None and "$window" not in query:
                raise ValueError(f"{name}: the query needs $window where its range goes")
        return self


class ServiceLevelObjective(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    objective: Annotated[float, Field(gt=0, lt=100)]
    """Target percentage of good events, e.g. 99.9."""
    window: Duration = 28 * 86400
    """The rolling period of the objective: 28d or 30d (burn-rate windows follow from it)."""
    sli: SLI
    """The whole service's counts."""
    canary_sli: SLI | None = None
    """The canary slice's counts (needed by the step gate)."""
    stable_sli: SLI | None = None
    """The stable slice's counts; the step gate compares the canary with it. Without it the
    whole service's ratio stands in."""

    @property
    def error_budget(self) -> float:
        """The allowed bad fraction, e.g. 0.001 for 99.9."""
        return 1 - self.objective / 100


class ReleaseGate(SpecModel):
    enabled: bool = True
    min_budget_remaining: Annotated[float, Field(ge=0, le=100)] = 10
    """Percent of the error budget that must remain for a rollout to start."""
    block_on_fast_burn: bool = True
    """Do not start while a page-level burn-rate pair is active."""
    interval: Duration = 60
    """How often a closed gate is checked again."""


class StepGate(SpecModel):
    enabled: bool = True
    fast_burn: bool = True
    """Roll back when the canary slice burns budget at a page-level rate."""
    budget_share: Annotated[float, Field(ge=0, le=100)] = 5
    """Percent of the remaining error budget this rollout's excess bad events may spend."""
    interval: Duration = 60
    retries: Annotated[int, Field(ge=0, le=10)] = 1
    """Canary only: how many times per step a failed verdict withdraws the canary's traffic
    and retries the step (after `retryAfter`, with a fresh test) instead of rolling back. A
    burst of errors on one canary pod is really worse while it lasts; only a second look,
    later, tells it from a regression, which fails again. A failed verdict that comes
    `retryAfter` or more after the retry began is a new incident (a regression shows again as
    soon as traffic is back): the step's retries come back, once, so a step is withdrawn at most
    2 x retries times. 0 rolls back on the first failed verdict."""
    retry_after: Duration = 300
    """The cool-off (canary at weight 0, its pods kept) before a withdrawn step starts again."""


class Gates(SpecModel):
    release: ReleaseGate = ReleaseGate()
    step: StepGate = StepGate()


class PrometheusDefaults(SpecModel):
    address: str
    """Base URL of the Prometheus HTTP API used by SLOs and metrics that name no address."""


class RolloutAnalysis(SpecModel):
    """spec.analysis: the rollout-wide analysis settings."""

    prometheus: PrometheusDefaults | None = None
    slos: list[ServiceLevelObjective] = []
    gates: Gates = Gates()
    inconclusive_timeout: Duration | None = 3600
    """How long a rollout may stay paused on an inconclusive analysis before it rolls back.
    Null waits for a person for ever."""

    @model_validator(mode="after")
    def _slos_need_prometheus(self) -> RolloutAnalysis:
        if self.slos and self.prometheus is None:
            raise ValueError("slos: need prometheus.address to query their SLIs")
        names = [s.name for s in self.slos]
        if len(names) != len(set(names)):
            raise ValueError("slos: names must be unique")
        return self
