"""The metric provider protocol, and what a provider gives back.

A provider takes one measurement. It never decides Successful / Failed for a value: it reports
an `Observation` (a value, no data, an error, or, for a Job, its own verdict), and the core
classifies values with the metric's CEL conditions (rollout.analysis.conditions). So no data and
errors are classified in one place, the same way for every provider.

Providers are registered like routers (entry-point group `rollout.providers`, see pyproject.toml)
and are constructed once per controller with `provider_class(kube)`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any, ClassVar, Protocol

from pydantic import BaseModel

from rollout.models.analysis_status import Measurement


class Outcome(StrEnum):
    VALUE = "value"  # `value` holds a number (or JSON value) for the conditions
    NO_DATA = "no-data"  # nothing to judge: empty vector, NaN, no JSONPath match, no traffic
    ERROR = "error"  # the provider could not measure (HTTP error, bad query, timeout, ...)
    RUNNING = "running"  # a long measurement (a Job) is still going; measure() is called again
    SUCCEEDED = "succeeded"  # the provider's own verdict (a Job that succeeded)
    FAILED = "failed"  # the provider's own verdict (a Job that failed)
    INCONCLUSIVE = "inconclusive"  # the provider's own "cannot tell" (a shared incident)


@dataclass(frozen=True)
class Observation:
    outcome: Outcome
    value: Any = None
    """For VALUE: a float (Prometheus) or any JSON value (web). ±Inf is a VALUE; NaN is NO_DATA."""
    display: str | None = None
    """The value as text for the status ("0.997", "NaN", "+Inf"); None when there was none."""
    message: str = ""
    """Why (for NO_DATA and ERROR always set): e.g. "empty vector: no series matched"."""
    metadata: Mapping[str, str] = field(default_factory=dict)
    """Kept with the measurement (a Job's name, the tail of its log, Prometheus warnings)."""


@dataclass(frozen=True)
class MeasureContext:
    """What a provider may know about the measurement it takes."""

    namespace: str
    rollout: str
    revision: str
    """The canary (current) revision's hash."""
    stable_revision: str
    now: datetime
    """The measurement time: Prometheus queries are pinned to it with `time=`."""
    metric: str
    run: str
    secret: Callable[[str, str], str]
    """secret(name, key) -> value from a Secret in the rollout's namespace; raises
    rollout.errors.ConfigError naming the Secret and key when it is missing."""
    owner: Mapping[str, Any] = field(default_factory=dict)
    """The Rollout's owner reference, for objects a provider creates (Jobs)."""
    builtin_queries: Mapping[str, str] = field(default_factory=dict)
    """The traffic router's built-in PromQL (already filled for the canary workload)."""
    default_prometheus: str | None = None
    """The Rollout's spec.analysis.prometheus.address, if any."""
    run_started: datetime | None = None
    """When the measurement's analysis run started (counts "since the step began")."""


class MetricProvider(Protocol):
    name: ClassVar[str]
    config_model: ClassVar[type[BaseModel]]
    """The pydantic model of the provider's configuration (for plugins, checked by lint)."""

    def measure(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        """Take a measurement. `running` is this metric's measurement still in phase Running
        (a Job), when there is one: continue it instead of starting anew. Must not raise for
        anything the far side does (report Outcome.ERROR); may raise only for programming
        errors."""
        ...

    def terminate(
        self, config: BaseModel, ctx: MeasureContext, running: Measurement | None
    ) -> None:
        """The run ended while this measurement was Running: stop it (delete the Job). `running`
        None: nothing is on record as Running, but a measurement may have been started whose
        record was lost (the status write failed); stop any the provider can find."""
        ...
