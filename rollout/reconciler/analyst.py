"""The I/O half of analysis: resolve templates and args, take the measurements that are due,
stop Jobs of ended runs. The pure half (what a measurement means) is in rollout.engine.analysis.

Per reconcile: templates are read (GET; a handful per rollout), args are resolved (Secrets are
read, never logged or stored), `{{args.NAME}}` is substituted into provider configurations, and
every metric of a running run whose next measurement is due gets measured, each within its
provider's timeout. The measurements go to the engine, which records them in the status.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from datetime import datetime
from string import Template
from typing import Any

from pydantic import BaseModel, ValidationError

from rollout import registry
from rollout.analysis.assess import next_due
from rollout.analysis.conditions import classify
from rollout.analysis.gates import (
    RELEASE_GATE_PROVIDER,
    STEP_GATE_PROVIDER,
    release_gate_metrics,
    step_gate_metrics,
    template_runs,
    webhook_runs,
)
from rollout.analysis.provider import MeasureContext, MetricProvider, Observation, Outcome
from rollout.analysis.run_names import RELEASE_GATE_RUN, STEP_GATE_RUN
from rollout.engine.analysis import AnalysisInputs
from rollout.engine.draft import Termination
from rollout.errors import ConfigError, KubeError, NotFoundError, TransientKubeError
from rollout.kube import Kube
from rollout.kube.client import Obj
from rollout.kube.kinds import ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES, Kind
from rollout.models import Rollout
from rollout.models.analysis import ARG_REFERENCE, Metric
from rollout.models.analysis_ref import AnalysisArg, AnalysisStep
from rollout.models.analysis_status import Measurement, MeasurementPhase, MetricResult
from rollout.models.resource import AnalysisTemplate
from rollout.parsing import first_problem
from rollout.secrets import secret_value

log = logging.getLogger(__name__)

MIN_SCRUBBED = 4
"""Secret values shorter than this are not scrubbed from texts (it would mangle them)."""
GateMeasurer = Callable[[Rollout, str, MeasureContext, Measurement | None], Observation]
"""(rollout, slo name, context, previous measurement) -> observation, for the SLO gates."""
MeasurementObserver = Callable[[str, str, str], None]
"""(run kind, metric provider, phase) of each finished measurement taken (for metrics)."""


class Analyst:
    def __init__(
        self,
        kube: Kube,
        *,
        gates: Mapping[str, GateMeasurer] | None = None,
        on_measurement: MeasurementObserver | None = None,
    ) -> None:
        self._kube = kube
        self._on_measurement = on_measurement
        self._providers: dict[str, MetricProvider] = {}
        self._gates = dict(gates or {})
        self._lock = threading.Lock()
        # Every Secret value read: a value substituted into a query or header through an arg
        # can come back in a provider's error text, so every recorded text is scrubbed of them.
        self._hidden: set[str] = set()

    # -- resolving ---------------------------------------------------------------------------
    def resolve(self, rollout: Rollout) -> AnalysisInputs:
        """Metrics of every run the spec defines (or why a run's cannot be had)."""
        spec = rollout.spec
        metrics: dict[str, tuple[Metric, ...]] = {}
        errors: dict[str, str] = {}
        for name, _, analysis in template_runs(spec):
            try:
                metrics[name] = self._metrics(rollout, analysis)
            except ConfigError as err:
                errors[name] = err.message
        release = release_gate_metrics(spec)
        if release:
            metrics[RELEASE_GATE_RUN] = release
        step_gate = step_gate_metrics(spec)
        if step_gate:
            metrics[STEP_GATE_RUN] = step_gate
        metrics.update(webhook_runs(spec))
        return AnalysisInputs(metrics=metrics, errors=errors)

    def _metrics(self, rollout: Rollout, analysis: AnalysisStep) -> tuple[Metric, ...]:
        namespace = rollout.metadata.namespace or "default"
        found: list[Metric] = []
        for ref in analysis.templates:
            kind = CLUSTER_ANALYSIS_TEMPLATES if ref.cluster_scope else ANALYSIS_TEMPLATES
            where = f"{kind.kind} {ref.template_name}"
            try:
                raw = self._template(
                    kind, ref.template_name, None if ref.cluster_scope else namespace
                )
            except NotFoundError:
                raise ConfigError(f"{where} not found") from None
            except TransientKubeError:
                # A 5xx, 429 or timeout says nothing of the template: the reconcile fails and
                # is retried with back-off, as for any other failed read, instead of turning
                # into a run in Error (which aborts the update at once).
                raise
            except KubeError as err:
                raise ConfigError(f"{where} could not be read: {err}") from None
            try:
                template = AnalysisTemplate.model_validate(raw)
            except ValidationError as err:
                raise ConfigError(f"{where} is invalid: {first_problem(err)}") from None
            values = self._args(rollout, template, analysis.args, where)
            for metric in template.spec.metrics:
                found.append(_substitute(metric, values, where))
        names = [m.name for m in found]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ConfigError(f"metric names repeat across the templates: {', '.join(repeated)}")
        return tuple(found)

    def _template(self, kind: Kind, name: str, namespace: str | None) -> Obj:
        """Read on every reconcile of an update, uncached: an edited template must apply to
        the very next decision (a release started right after a fix must see the fix)."""
        return self._kube.get(kind, name, namespace=namespace)

    def _args(
        self,
        rollout: Rollout,
        template: AnalysisTemplate,
        given: list[AnalysisArg],
        where: str,
    ) -> dict[str, str]:
        passed = {a.name: a for a in given}
        values: dict[str, str] = {}
        for arg in template.spec.args:
            source: Any = passed.get(arg.name) or arg
            if source.value is not None:
                values[arg.name] = source.value
            elif source.value_from is not None:
                values[arg.name] = self._value_from(rollout, source.value_from, arg.name)
            else:
                raise ConfigError(f"{where}: arg {arg.name} has no value (pass it in the Rollout)")
        return values

    def _value_from(self, rollout: Rollout, value_from: Any, arg: str) -> str:
        if value_from.secret_key_ref is not None:
            ref = value_from.secret_key_ref
            return self.secret(rollout.metadata.namespace or "default", ref.name, ref.key)
        path = value_from.field_ref.field_path
        value = _field(rollout.model_dump(by_alias=True, mode="json"), path)
        if value is None:
            raise ConfigError(f"arg {arg}: the Rollout has no field {path}")
        return str(value)

    def secret(self, namespace: str, name: str, key: str) -> str:
        value = secret_value(self._kube, namespace, name, key)
        if len(value) >= MIN_SCRUBBED:
            with self._lock:
                self._hidden.add(value)
        return value

    # -- measuring ---------------------------------------------------------------------------
    def measure(
        self,
        rollout: Rollout,
        resolved: AnalysisInputs,
        now: datetime,
        *,
        builtin_queries: Mapping[str, str],
    ) -> AnalysisInputs:
        """`resolved` plus a measurement for every metric that is due now."""
        status = rollout.status
        taken: dict[tuple[str, str], Measurement] = {}
        for run in status.analysis_runs:
            if run.phase.done or run.revision != status.current_revision:
                continue
            results = {m.name: m for m in run.metrics}
            for metric in resolved.metrics.get(run.name, ()):
                result = results.get(metric.name) or MetricResult(name=metric.name)
                at = next_due(metric, result, run.started_at)
                if at is None or at > now:
                    continue
                running = result.last
                if running is not None and running.phase is not MeasurementPhase.RUNNING:
                    running = None
                ctx = self._context(rollout, run.name, metric, now, builtin_queries)
                measurement = self._take(rollout, metric, ctx, running, now)
                taken[(run.name, metric.name)] = measurement
                if self._on_measurement is not None and measurement.finished_at is not None:
                    # A Job still running is polled again; it counts once, when it ends.
                    self._on_measurement(
                        run.kind.value, metric.provider.kind, measurement.phase.value
                    )
        return AnalysisInputs(metrics=resolved.metrics, errors=resolved.errors, measurements=taken)

    def _context(
        self,
        rollout: Rollout,
        run: str,
        metric: Metric,
        now: datetime,
        builtin_queries: Mapping[str, str],
    ) -> MeasureContext:
        namespace = rollout.metadata.namespace or "default"
        status = rollout.status
        revision = status.current_revision or ""
        interval = f"{metric.interval or 60}s"
        prometheus = rollout.spec.analysis.prometheus
        return MeasureContext(
            namespace=namespace,
            rollout=rollout.metadata.name,
            revision=revision,
            stable_revision=status.stable_revision or "",
            now=now,
            metric=metric.name,
            run=run,
            secret=lambda name, key: self.secret(namespace, name, key),
            owner=rollout.owner_reference(),
            builtin_queries={
                k: Template(q).safe_substitute(
                    namespace=namespace,
                    workload=f"{rollout.metadata.name}-{revision}",
                    interval=interval,
                )
                for k, q in builtin_queries.items()
            },
            default_prometheus=prometheus.address if prometheus else None,
            run_started=next((r.started_at for r in status.analysis_runs if r.name == run), None),
        )

    def _take(
        self,
        rollout: Rollout,
        metric: Metric,
        ctx: MeasureContext,
        running: Measurement | None,
        now: datetime,
    ) -> Measurement:
        started = running.started_at if running is not None else now
        try:
            observation = self._observe(rollout, metric, ctx, running)
        except (ConfigError, TransientKubeError) as err:
            # A failed read (of a Secret, of a Job) is an Error measurement, which
            # consecutiveErrorLimit counts: the next interval measures again.
            observation = Observation(Outcome.ERROR, message=err.message)
        except Exception as err:  # a provider bug must not stop the other rollouts
            log.exception("provider for metric %s failed", metric.name)
            observation = Observation(Outcome.ERROR, message=f"provider crashed: {err!r}"[:300])
        phase, why = classify(metric, observation)
        finished = None if phase is MeasurementPhase.RUNNING else now
        return Measurement(
            phase=phase,
            value=None if observation.display is None else self._scrub(observation.display),
            message=self._scrub(why)[:500],
            started_at=started,
            finished_at=finished,
            metadata={k: self._scrub(v) for k, v in observation.metadata.items()},
        )

    def _scrub(self, text: str) -> str:
        with self._lock:
            hidden = sorted(self._hidden, key=len, reverse=True)
        for value in hidden:
            text = text.replace(value, "***")
        return text

    def _observe(
        self, rollout: Rollout, metric: Metric, ctx: MeasureContext, running: Measurement | None
    ) -> Observation:
        kind = metric.provider.kind
        config = metric.provider.config
        if kind in (RELEASE_GATE_PROVIDER, STEP_GATE_PROVIDER):
            gate = self._gates.get(kind)
            if gate is None:
                return Observation(Outcome.ERROR, message=f"no measurer for {kind}")
            return gate(rollout, str(config.get("slo", "")), ctx, running)
        provider = self._provider(kind)
        try:
            model: BaseModel = provider.config_model.model_validate(config)
        except ValidationError as err:
            return Observation(Outcome.ERROR, message=f"{kind}: {first_problem(err)}")
        return provider.measure(model, ctx, running)

    def _provider(self, kind: str) -> MetricProvider:
        if kind not in self._providers:
            try:
                cls = registry.load("providers", kind)
            except Exception as err:
                raise ConfigError(str(err)) from None
            self._providers[kind] = cls(self._kube)
        return self._providers[kind]

    def close(self) -> None:
        """Close the providers that hold connections (those with a close() method)."""
        for provider in self._providers.values():
            close = getattr(provider, "close", None)
            if callable(close):
                close()
        self._providers.clear()

    # -- stopping ----------------------------------------------------------------------------
    def terminate(
        self, rollout: Rollout, resolved: AnalysisInputs, stops: list[Termination], now: datetime
    ) -> None:
        for stop in stops:
            metric = next(
                (m for m in resolved.metrics.get(stop.run, ()) if m.name == stop.metric), None
            )
            if metric is None or metric.provider.plugin is not None:
                continue
            try:
                provider = self._provider(metric.provider.kind)
                model = provider.config_model.model_validate(metric.provider.config)
                ctx = self._context(rollout, stop.run, metric, now, {})
                provider.terminate(model, ctx, stop.measurement)
            except KubeError as err:  # stopping is best effort: Jobs also carry a TTL and an owner
                log.warning("could not stop measurement of %s/%s: %s", stop.run, stop.metric, err)
            except Exception:
                log.exception("could not stop measurement of %s/%s", stop.run, stop.metric)


def _substitute(metric: Metric, values: Mapping[str, str], where: str) -> Metric:
    """`{{args.NAME}}` replaced in every string of the provider's configuration."""

    def replace(node: Any) -> Any:
        if isinstance(node, str):
            return ARG_REFERENCE.sub(lambda m: values[m.group(1)], node)
        if isinstance(node, dict):
            return {k: replace(v) for k, v in node.items()}
        if isinstance(node, list):
            return [replace(v) for v in node]
        return node

    document = metric.to_dict()
    document["provider"] = replace(document["provider"])
    try:
        return Metric.model_validate(document)
    except (ValidationError, KeyError) as err:
        raise ConfigError(f"{where}: metric {metric.name} after args: {err}") from None


_INDEX = re.compile(r"^(\w+)\['([^']+)'\]$")


def _field(document: Mapping[str, Any], path: str) -> Any:
    """A field by a simple path: `metadata.name`, `metadata.labels['app']`, `spec.replicas`."""
    node: Any = document
    for part in path.split("."):
        match = _INDEX.match(part)
        keys = [match.group(1), match.group(2)] if match else [part]
        for key in keys:
            if not isinstance(node, Mapping) or key not in node:
                return None
            node = node[key]
    return node
