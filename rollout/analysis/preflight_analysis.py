"""Preflight: can the analysis this Rollout asks for run at all?

An analysis step that finds its template missing, or a metric whose Secret or Prometheus is
not there, fails only when the canary is already up and taking traffic. So before the first
pod: every referenced AnalysisTemplate / ClusterAnalysisTemplate exists and is valid, every
Secret (and key) the templates and the Rollout's args read exists, and every Prometheus the
metrics (and spec.analysis) query answers a trivial query. Web providers are not called: a
request to an arbitrary endpoint may have effects; only their Secrets are checked.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
from pydantic import ValidationError

from rollout.analysis.gates import template_runs
from rollout.analysis.preflight_objects import Check, Ref
from rollout.errors import KubeError, NotFoundError, TransientKubeError
from rollout.kube import Kube
from rollout.kube.kinds import ANALYSIS_TEMPLATES, CLUSTER_ANALYSIS_TEMPLATES, SECRETS
from rollout.models.analysis import (
    ARG_REFERENCE,
    CLUSTER_ANALYSIS_TEMPLATE,
    Header,
    SecretKeyRef,
    TLSOptions,
    ValueFrom,
)
from rollout.models.resource import AnalysisTemplate, Rollout
from rollout.parsing import first_problem

HttpCheck = Callable[[str], str | None]
PROBE_TIMEOUT = 5.0


@dataclass(frozen=True)
class TemplateUse:
    """One reference to a template: where it is and the literal args it passes."""

    cluster_scope: bool
    name: str
    where: str
    """`steps[2].analysis` or `background analysis`."""
    args: Mapping[str, str]
    """Literal values (`value:`), to fill `{{args.x}}` in addresses."""
    passed: frozenset[str]
    """Names of every arg given, literal or `valueFrom`."""


@dataclass(frozen=True)
class Resolved:
    """A template found (in `templates` or the cluster) and the references to it."""

    template: AnalysisTemplate
    label: str
    uses: tuple[TemplateUse, ...]


def template_uses(rollout: Rollout) -> list[TemplateUse]:
    """Every template reference, in spec order."""
    uses = []
    for _, where, step in template_runs(rollout.spec):
        args = {a.name: a.value for a in step.args if a.value is not None}
        passed = frozenset(a.name for a in step.args)
        for ref in step.templates:
            uses.append(TemplateUse(ref.cluster_scope, ref.template_name, where, args, passed))
    return uses


def arg_secret_refs(rollout: Rollout, namespace: str) -> list[Ref]:
    """Secrets the Rollout's own analysis args read (`valueFrom.secretKeyRef`)."""
    refs = []
    for _, where, step in template_runs(rollout.spec):
        for arg in step.args:
            ref = arg.value_from.secret_key_ref if arg.value_from else None
            if ref is not None:
                refs.append(_secret(ref, namespace, f"{where} arg '{arg.name}'"))
    return refs


def resolve_templates(
    kube: Kube, rollout: Rollout, given: Sequence[AnalysisTemplate]
) -> tuple[list[Check], list[Resolved]]:
    """A check per referenced template, and those found. `given` templates (already read by
    the caller, or lint's local files) are used as they are, without a request."""
    namespace = rollout.metadata.namespace or "default"
    groups: dict[tuple[bool, str], list[TemplateUse]] = {}
    for use in template_uses(rollout):
        groups.setdefault((use.cluster_scope, use.name), []).append(use)
    checks: list[Check] = []
    resolved: list[Resolved] = []
    for (cluster, name), uses in groups.items():
        kind = CLUSTER_ANALYSIS_TEMPLATES if cluster else ANALYSIS_TEMPLATES
        label = f"{kind.kind} {name}" if cluster else f"{kind.kind} {namespace}/{name}"
        what = f"{label} ({', '.join(dict.fromkeys(u.where for u in uses))})"
        template = _given(given, kind.kind, name, namespace)
        if template is None:
            try:
                raw = kube.get(kind, name, namespace=None if cluster else namespace)
            except NotFoundError:
                checks.append(Check(label, False, f"{what} not found"))
                continue
            except TransientKubeError:
                raise  # not an answer: the reconcile is retried (see rollout.analysis.preflight)
            except KubeError as err:
                checks.append(Check(label, False, f"could not check {what}: {err.message}"))
                continue
            try:
                template = AnalysisTemplate.model_validate(raw)
            except ValidationError as err:
                checks.append(Check(label, False, f"{what} is invalid: {first_problem(err)}"))
                continue
        missing = _missing_args(template, uses)
        if missing:
            checks.append(Check(label, False, f"{what} needs args not given: {missing}"))
        else:
            checks.append(Check(label, True, f"{what} found"))
        resolved.append(Resolved(template, label, tuple(uses)))
    return checks, resolved


def _given(
    given: Sequence[AnalysisTemplate], kind: str, name: str, namespace: str
) -> AnalysisTemplate | None:
    for template in given:
        meta = template.metadata
        same_namespace = kind == CLUSTER_ANALYSIS_TEMPLATE or meta.namespace in (None, namespace)
        if template.kind == kind and meta.name == name and same_namespace:
            return template
    return None


def _missing_args(template: AnalysisTemplate, uses: Sequence[TemplateUse]) -> str:
    """Args with neither a default, a valueFrom, nor a value from every reference: the run
    could not even start."""
    missing = []
    for arg in template.spec.args:
        if arg.value is not None or arg.value_from is not None:
            continue
        if any(arg.name not in u.passed for u in uses):
            missing.append(arg.name)
    return ", ".join(missing)


# -- Secrets the templates read ------------------------------------------------------------
def template_secret_refs(resolved: Sequence[Resolved], namespace: str) -> list[Ref]:
    """Every Secret key a template reads (args, provider headers, auth, TLS CA). Always in the
    Rollout's namespace, ClusterAnalysisTemplates included: that is where the run reads them."""
    refs: list[Ref] = []
    for item in resolved:
        spec = item.template.spec
        for arg in spec.args:
            refs += _value_from(arg.value_from, namespace, f"{item.label} arg '{arg.name}'")
        for metric in spec.metrics:
            where = f"{item.label} metric '{metric.name}'"
            provider = metric.provider
            if provider.prometheus is not None:
                prom = provider.prometheus
                if prom.bearer_token is not None:
                    refs.append(_secret(prom.bearer_token, namespace, f"{where} bearerToken"))
                if prom.basic_auth is not None:
                    auth = prom.basic_auth
                    refs.append(_secret(auth.username, namespace, f"{where} basicAuth"))
                    refs.append(_secret(auth.password, namespace, f"{where} basicAuth"))
                refs += _tls(prom.tls, namespace, where)
                refs += _headers(prom.headers, namespace, where)
            if provider.web is not None:
                refs += _tls(provider.web.tls, namespace, where)
                refs += _headers(provider.web.headers, namespace, where)
            if provider.plugin is not None:
                # A third-party provider's schema is its own; `secretKeyRef: {name, key}` is
                # the convention every Kubernetes API uses, so look for that shape anywhere.
                refs += [
                    _secret_dict(d, namespace, where) for d in _secret_key_refs(provider.config)
                ]
    # A name still holding `{{args.x}}` is only known when the run starts.
    return [r for r in refs if "{{" not in r.name]


def _secret(ref: SecretKeyRef, namespace: str, where: str) -> Ref:
    return Ref(SECRETS, ref.name, namespace, where, (ref.key,))


def _secret_dict(ref: Mapping[str, Any], namespace: str, where: str) -> Ref:
    return Ref(SECRETS, str(ref["name"]), namespace, where, (str(ref["key"]),))


def _value_from(value_from: ValueFrom | None, namespace: str, where: str) -> list[Ref]:
    ref = value_from.secret_key_ref if value_from is not None else None
    return [_secret(ref, namespace, where)] if ref is not None else []


def _headers(headers: Sequence[Header], namespace: str, where: str) -> list[Ref]:
    refs: list[Ref] = []
    for header in headers:
        refs += _value_from(header.value_from, namespace, f"{where} header {header.name}")
    return refs


def _tls(tls: TLSOptions | None, namespace: str, where: str) -> list[Ref]:
    if tls is None or tls.ca_secret is None:
        return []
    return [_secret(tls.ca_secret, namespace, f"{where} tls.caSecret")]


def _secret_key_refs(node: Any) -> Iterator[Mapping[str, Any]]:
    if isinstance(node, Mapping):
        for key, value in node.items():
            if key == "secretKeyRef" and isinstance(value, Mapping):
                if isinstance(value.get("name"), str) and isinstance(value.get("key"), str):
                    yield value
            else:
                yield from _secret_key_refs(value)
    elif isinstance(node, list):
        for item in node:
            yield from _secret_key_refs(item)


# -- Prometheus --------------------------------------------------------------------------------
def provider_checks(
    resolved: Sequence[Resolved], default_address: str | None, http_check: HttpCheck
) -> list[Check]:
    """One check per distinct Prometheus address (the default one first), naming who uses it."""
    users: dict[str, list[str]] = {}
    checks: list[Check] = []
    if default_address:
        users.setdefault(default_address, []).append("spec.analysis.prometheus")
    for item in resolved:
        args = {a.name: a.value for a in item.template.spec.args if a.value is not None}
        for metric in item.template.spec.metrics:
            prom = metric.provider.prometheus
            if prom is None:
                continue
            where = f"{item.label} metric '{metric.name}'"
            if not (prom.address or default_address):
                checks.append(
                    Check(
                        f"Prometheus for {item.label}",
                        False,
                        f"{where} names no prometheus address and spec.analysis.prometheus "
                        "is not set",
                    )
                )
                continue
            for use in item.uses:
                address = _fill(prom.address or default_address or "", {**args, **use.args})
                users.setdefault(address, []).append(where)
    for address, who in users.items():
        shown = redact(address)
        name = f"Prometheus {shown}"
        what = f"{name} ({', '.join(dict.fromkeys(who))})"
        if ARG_REFERENCE.search(address):
            checks.append(Check(name, True, f"{what} depends on args set by the run; not checked"))
            continue
        problem = http_check(address)
        if problem is None:
            checks.append(Check(name, True, f"{what} answers"))
        else:
            checks.append(Check(name, False, f"{what} does not answer: {problem}"))
    return checks


def _fill(text: str, args: Mapping[str, str]) -> str:
    def value(match: re.Match[str]) -> str:
        return args.get(match.group(1), match.group(0))

    return ARG_REFERENCE.sub(value, text)


def redact(address: str) -> str:
    """The address without credentials (`http://user:pass@host` shows as `http://host`)."""
    parts = urlsplit(address)
    if parts.username is None and parts.password is None:
        return address
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit(parts._replace(netloc=netloc))


def prometheus_answers(address: str) -> str | None:
    """GET `{address}/api/v1/query?query=1`: None when Prometheus answers, else why not.

    401 and 403 count as answering: a Prometheus behind an authenticating proxy refuses a
    request without the metric's credentials, and the credentials' Secrets are checked on
    their own; what matters here is that the address leads somewhere alive."""
    url = address.rstrip("/") + "/api/v1/query"
    try:
        response = httpx.get(url, params={"query": "1"}, timeout=PROBE_TIMEOUT)
    except httpx.HTTPError as err:
        return f"{type(err).__name__}: {redact(str(err)) or 'no answer'}"
    if response.status_code in (401, 403):
        return None
    if response.status_code != 200:
        return f"HTTP {response.status_code} from {redact(url)}"
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict) or body.get("status") != "success":
        return f"{redact(url)} answered, but not as the Prometheus HTTP API"
    return None
