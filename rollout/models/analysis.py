"""AnalysisTemplate and ClusterAnalysisTemplate: the metrics a rollout is judged by.

A template lists metrics; each metric names one provider (prometheus, web, job, or a third-party
one registered under the entry-point group `rollout.providers`), how often to measure, and the
CEL conditions that classify each measurement. `{{args.NAME}}` in any provider string is replaced
by the argument's value before the provider sees it.

The limits, exactly (the docs repeat this; Argo users know the first three under these names):
- `failureLimit: N` tolerates N Failed measurements in the run; the (N+1)-th fails the metric.
  The default 0 fails the metric at the first Failed measurement. -1 never fails it on count.
- `consecutiveFailureLimit: N` (optional) fails the metric once N Failed measurements come in a
  row, even below failureLimit.
- `inconclusiveLimit: N` tolerates N Inconclusive (and NoData, by default) measurements; the
  (N+1)-th makes the metric Inconclusive, which pauses the rollout. -1 never does.
- `consecutiveErrorLimit: N` tolerates N provider errors in a row; the (N+1)-th makes the metric
  Error, which rolls back like Failed. A successful measurement resets the count.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from rollout.analysis.cel import check_syntax
from rollout.models.base import Duration, SpecModel

ANALYSIS_TEMPLATE = "AnalysisTemplate"
CLUSTER_ANALYSIS_TEMPLATE = "ClusterAnalysisTemplate"
ARG_REFERENCE = re.compile(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}")


class SecretKeyRef(SpecModel):
    """A key of a Secret in the rollout's namespace."""

    name: str
    key: str


class FieldRef(SpecModel):
    """A field of the Rollout, e.g. `metadata.name` or `metadata.labels['app']`."""

    field_path: str


class ValueFrom(SpecModel):
    secret_key_ref: SecretKeyRef | None = None
    field_ref: FieldRef | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> ValueFrom:
        if (self.secret_key_ref is None) == (self.field_ref is None):
            raise ValueError("give exactly one of secretKeyRef and fieldRef")
        return self


class Argument(SpecModel):
    """A template argument: a default value, a value from a Secret or a Rollout field, or none
    (then the Rollout must pass it)."""

    name: str
    value: str | None = None
    value_from: ValueFrom | None = None


class Header(SpecModel):
    """An HTTP header sent to a provider; the value may come from a Secret."""

    name: str
    value: str | None = None
    value_from: ValueFrom | None = None

    @model_validator(mode="after")
    def _one_value(self) -> Header:
        if (self.value is None) == (self.value_from is None):
            raise ValueError("give exactly one of value and valueFrom")
        return self


class BasicAuth(SpecModel):
    username: SecretKeyRef
    password: SecretKeyRef


class TLSOptions(SpecModel):
    insecure_skip_verify: bool = False
    """Do not verify the server's certificate (testing only)."""
    ca_secret: SecretKeyRef | None = None
    """A PEM CA bundle that signs the server's certificate."""
    server_name: str | None = None


class PrometheusMetric(SpecModel):
    """An instant query, evaluated at the measurement time (`time=` is always sent)."""

    address: str | None = None
    """Base URL of the Prometheus HTTP API, e.g. http://prometheus.monitoring:9090. Defaults to
    the Rollout's `spec.analysis.prometheus.address`."""
    query: str | None = None
    """PromQL returning one number: a scalar, or a vector with exactly one series."""
    builtin: str | None = None
    """Instead of `query`: a query the rollout's traffic router ships, by name (e.g.
    `error-ratio`, `request-duration-p99-ms`), for the canary's workload."""
    timeout: Annotated[Duration, Field(ge=1)] = 10
    bearer_token: SecretKeyRef | None = None
    basic_auth: BasicAuth | None = None
    tls: TLSOptions | None = None
    headers: list[Header] = []

    @model_validator(mode="after")
    def _query_or_builtin(self) -> PrometheusMetric:
        if (self.query is None) == (self.builtin is None):
            raise ValueError("give exactly one of query and builtin")
        if self.bearer_token is not None and self.basic_auth is not None:
            raise ValueError("give at most one of bearerToken and basicAuth")
        return self


class WebMetric(SpecModel):
    """An HTTP request to a JSON endpoint; the value is picked with a JSONPath."""

    url: str
    method: Literal["GET", "POST"] = "GET"
    headers: list[Header] = []
    body: str | None = None
    json_path: str = "$"
    """JSONPath of the value, e.g. `$.data.ok`. No match is NoData."""
    timeout: Duration = 10
    tls: TLSOptions | None = None


class JobMetric(SpecModel):
    """A Kubernetes Job (smoke or load test). Successful when the Job succeeds."""

    spec: Annotated[
        dict[str, Any],
        Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}),
    ]
    """A batch/v1 JobSpec. The controller adds labels and an owner reference."""
    logs_tail_lines: Annotated[int, Field(ge=0, le=500)] = 20
    """Lines of the Job's pod log kept with the measurement."""


class CompareMetric(SpecModel):
    """Canary against baseline latency, from histogram buckets."""

    address: str | None = None
    """Prometheus; defaults to the Rollout's spec.analysis.prometheus.address."""
    canary: str
    """Buckets of the canary since `$window`, one series per le, e.g.
    sum by (le) (increase(http_request_duration_seconds_bucket{revision="$revision"}[$window]))"""
    baseline: str
    """The same for the baseline, e.g. with revision="$stable"."""
    alpha: Annotated[float, Field(gt=0, lt=0.5)] = 0.01
    min_effect: Annotated[float, Field(ge=0.5, le=1)] = 0.56
    min_p99_delta_seconds: Annotated[float, Field(ge=0)] = 0.05
    min_p99_ratio: Annotated[float, Field(ge=0)] = 0.1
    min_requests: Annotated[int, Field(ge=1)] = 50
    timeout: Annotated[Duration, Field(ge=1)] = 10
    bearer_token: SecretKeyRef | None = None
    basic_auth: BasicAuth | None = None
    tls: TLSOptions | None = None
    headers: list[Header] = []


class MetricProvider(SpecModel):
    """Exactly one provider."""

    prometheus: PrometheusMetric | None = None
    web: WebMetric | None = None
    job: JobMetric | None = None
    compare: CompareMetric | None = None
    """Canary vs baseline latency (Mann-Whitney U on histogram buckets); its own verdict."""
    plugin: Annotated[
        dict[str, Any] | None,
        Field(json_schema_extra={"x-kubernetes-preserve-unknown-fields": True}),
    ] = None
    """A third-party provider: `{name: {its configuration}}`, one key."""

    @model_validator(mode="after")
    def _exactly_one(self) -> MetricProvider:
        given = [k for k, v in self.to_dict().items() if v is not None]
        if len(given) != 1:
            found = ", ".join(given) if given else "none"
            raise ValueError(
                f"give exactly one of prometheus, web, job, compare, plugin (found: {found})"
            )
        if self.plugin is not None and len(self.plugin) != 1:
            raise ValueError("plugin: give exactly one provider name as its only key")
        return self

    @property
    def kind(self) -> str:
        """The provider's registered name."""
        if self.plugin is not None:
            return next(iter(self.plugin))
        return next(k for k, v in self.to_dict().items() if v is not None)

    @property
    def config(self) -> dict[str, Any]:
        """The provider's own configuration (document form)."""
        if self.plugin is not None:
            value = next(iter(self.plugin.values()))
            return dict(value) if isinstance(value, dict) else {}
        return dict(self.to_dict()[self.kind])

    @property
    def measures_value(self) -> bool:
        """Prometheus and web return a value that conditions classify; a Job is its own verdict."""
        return self.prometheus is not None or self.web is not None


class NoDataPolicy(StrEnum):
    INCONCLUSIVE = "Inconclusive"
    FAILED = "Failed"


class Metric(SpecModel):
    name: Annotated[str, Field(min_length=1, max_length=63)]
    provider: MetricProvider
    interval: Duration | None = None
    """Time between measurements. Without it (and without count) the metric is measured once."""
    count: Annotated[int, Field(ge=1)] | None = None
    """Measurements to take; with interval but no count, it measures until the run ends."""
    initial_delay: Duration = 0
    """Wait this long after the run starts before the first measurement."""
    success_condition: str | None = None
    """CEL over `result`, e.g. `result >= 0.99`."""
    failure_condition: str | None = None
    """CEL over `result`, e.g. `result > 0.01`. Checked first: when it holds, the measurement
    is Failed whatever successCondition says."""
    failure_limit: Annotated[int, Field(ge=-1)] = 0
    consecutive_failure_limit: Annotated[int, Field(ge=1)] | None = None
    inconclusive_limit: Annotated[int, Field(ge=-1)] = 0
    consecutive_error_limit: Annotated[int, Field(ge=0)] = 4
    no_data: NoDataPolicy = NoDataPolicy.INCONCLUSIVE
    """What a measurement with no data counts as. Never Successful."""
    dry_run: bool = False
    """Measure and record, but never let this metric fail, pause or pass the run."""
    weight: Annotated[int, Field(ge=0)] = 1
    """Its weight in the run's quality score (Keptn-style: pass = weight, warning = half)."""
    key: bool = False
    """A key objective: when it fails, the quality score fails whatever its total."""

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9]([A-Za-z0-9_.-]*[A-Za-z0-9])?", value):
            raise ValueError("letters, digits, '-', '_' and '.', starting and ending alphanumeric")
        return value

    @field_validator("success_condition", "failure_condition")
    @classmethod
    def _cel(cls, value: str | None) -> str | None:
        if value is not None:
            check_syntax(value)  # a typo is found by lint, not at the first measurement
        return value

    @model_validator(mode="after")
    def _conditions(self) -> Metric:
        has_condition = self.success_condition or self.failure_condition
        if self.provider.measures_value and not has_condition and not self.dry_run:
            raise ValueError(
                "a prometheus or web metric needs successCondition or failureCondition "
                "(or dryRun: true to only record its values)"
            )
        if self.count is not None and self.count > 1 and self.interval is None:
            raise ValueError("count above 1 needs an interval between the measurements")
        return self


class AnalysisTemplateSpec(SpecModel):
    args: list[Argument] = []
    metrics: Annotated[list[Metric], Field(min_length=1)]

    @model_validator(mode="after")
    def _unique(self) -> AnalysisTemplateSpec:
        names = [m.name for m in self.metrics]
        duplicated = sorted({n for n in names if names.count(n) > 1})
        if duplicated:
            raise ValueError(f"metric names must be unique (repeated: {', '.join(duplicated)})")
        declared = {a.name for a in self.args}
        for metric in self.metrics:
            used = set(ARG_REFERENCE.findall(str(metric.provider.to_dict())))
            missing = sorted(used - declared)
            if missing:
                raise ValueError(
                    f"metric {metric.name} uses undeclared args: {', '.join(missing)} "
                    "(declare them under spec.args)"
                )
        return self
