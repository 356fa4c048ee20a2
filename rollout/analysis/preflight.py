"""Preflight: everything a new revision needs, checked before any of its pods is created.

A canary that cannot start (a missing ConfigMap), cannot take traffic (a missing
VirtualService) or cannot be judged (a missing AnalysisTemplate, an unreachable Prometheus)
fails late and half-deployed: some pods up, a step stuck, a rollback to run. `run_preflight`
finds those problems while nothing has been created yet, so the reconciler can hold the
rollout (and mark it Degraded after `spec.preflight.timeout`) instead.

It returns every check, passed ones too, in a stable order (Services, routing, analysis
templates, their Secrets, Prometheus, the pod template's objects, then the policies), so
`rollout get` can show the whole list and a fixed problem visibly turns green. An API error
that answers (403, a 4xx) is a failed check saying so; one that does not (a 5xx, a 429, a
timeout: TransientKubeError) says nothing about the object and is raised, so that the reconcile
is retried with back-off instead of pausing the rollout on a failed check. The objects checked
are not watched: a rollout held by a failing check is looked at again every
PREFLIGHT_RECHECK_SECONDS (rollout.engine.gating), so one created meanwhile lets it start.

The pieces live beside it: preflight_objects (does an object exist, with its keys),
preflight_analysis (templates, their Secrets, Prometheus) and preflight_policy (the optional
policies of `spec.preflight`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rollout import registry
from rollout.analysis.preflight_analysis import (
    arg_secret_refs,
    prometheus_answers,
    provider_checks,
    resolve_templates,
    template_secret_refs,
)
from rollout.analysis.preflight_objects import Check, Obj, Ref, check_refs, pod_refs
from rollout.analysis.preflight_policy import policy_checks
from rollout.errors import KubeError, NotFoundError, RolloutError, TransientKubeError
from rollout.kube import SERVICES, Kube
from rollout.kube.kinds import INGRESS_CLASSES, INGRESSES
from rollout.models.preflight import Preflight
from rollout.models.resource import AnalysisTemplate, Rollout

__all__ = ["Check", "prometheus_answers", "run_preflight"]


def run_preflight(
    kube: Kube,
    rollout: Rollout,
    template: Mapping[str, Any],
    *,
    templates: Sequence[AnalysisTemplate] = (),
    http_check: Callable[[str], str | None] | None = None,
    services: Mapping[str, Obj | None] | None = None,
) -> list[Check]:
    """Every preflight check for `rollout` whose effective pod template is `template`.

    `templates`: AnalysisTemplates / ClusterAnalysisTemplates the caller already has; those
    are used as given, the others are read from the cluster. `http_check(address)` asks a
    Prometheus to answer (None: it does; else why not); by default `prometheus_answers`.
    `services`: the caller's view of some Services of the Rollout's namespace, by name (the
    controller's watch-fed cache: None for a name it has no Service of); those are not read
    again, the others are. The controller trusts its cache both ways: a Service created later
    comes to it by watch and reconciles the Rollout again.
    """
    preflight = _preflight(rollout)
    if not preflight.enabled:
        return []
    namespace = rollout.metadata.namespace or "default"
    cached = services or {}

    def known(ref: Ref) -> Obj | None:
        if ref.kind != SERVICES or ref.name not in cached:
            return None  # read it
        found = cached[ref.name]
        if found is None:
            raise NotFoundError(f"Service {namespace}/{ref.name} is not in the cache")
        return found

    checks = check_refs(kube, _service_refs(rollout, namespace), known=known)
    checks += _routing_checks(kube, rollout, namespace)
    template_checks, resolved = resolve_templates(kube, rollout, templates)
    checks += template_checks
    secrets = arg_secret_refs(rollout, namespace) + template_secret_refs(resolved, namespace)
    checks += check_refs(kube, secrets)
    if preflight.check_providers:
        prometheus = rollout.spec.analysis.prometheus
        default = prometheus.address if prometheus is not None else None
        checks += provider_checks(resolved, default, http_check or prometheus_answers)
    checks += check_refs(kube, pod_refs(template, namespace))
    checks += policy_checks(preflight, template)
    return checks


def _preflight(rollout: Rollout) -> Preflight:
    # spec.preflight is optional; a Rollout without it gets the defaults (checks on, no
    # policies). Read through getattr so this works before and after the field is wired in.
    value = getattr(rollout.spec, "preflight", None)
    return value if isinstance(value, Preflight) else Preflight()


def _service_refs(rollout: Rollout, namespace: str) -> list[Ref]:
    strategy = rollout.spec.strategy
    refs = [Ref(SERVICES, name, namespace, field) for name, field in strategy.pinned_services]
    routing = strategy.traffic_routing
    split = routing.linkerd.traffic_split if routing and routing.linkerd else None
    if split is not None:
        # The controller creates the TrafficSplit itself, but around an existing root Service.
        where = "trafficRouting.linkerd.trafficSplit.rootService"
        refs.append(Ref(SERVICES, split.root_service, namespace, where))
    return refs


def _routing_checks(kube: Kube, rollout: Rollout, namespace: str) -> list[Check]:
    """The router reads its objects the way it will before its first write: whatever makes
    that fail (an object, a named route or subset missing) fails here first. The routers own
    that knowledge; nothing of it is repeated here."""
    routing = rollout.spec.strategy.traffic_routing
    if routing is None:
        return []
    router = routing.router_name
    name = f"trafficRouting.{router}"
    try:
        registry.load("routers", router)(kube).read(rollout)
    except NotFoundError as err:
        check = Check(name, False, f"{router} routing: {err.message}")
    except TransientKubeError:
        raise  # not an answer: the reconcile is retried (see rollout.analysis.preflight)
    except KubeError as err:
        check = Check(name, False, f"could not check the {router} routing objects: {err.message}")
    except RolloutError as err:  # RoutingObjectNotFoundError, RouterError, RegistryError
        check = Check(name, False, f"{router} routing: {err}")
    else:
        check = Check(name, True, f"the {router} routing objects named in the spec exist")
    checks = [check]
    if routing.nginx is not None:
        checks += _ingress_class(kube, routing.nginx.stable_ingress, namespace)
    return checks


def _ingress_class(kube: Kube, ingress: str, namespace: str) -> list[Check]:
    """The IngressClass the stable Ingress names: the canary Ingress copies it, and without it
    no controller serves either. (Whether the Ingress exists is the router check's.)"""
    try:
        obj = kube.get(INGRESSES, ingress, namespace=namespace)
    except NotFoundError:
        return []  # the router check, reading the same Ingress, says so
    except TransientKubeError:
        raise  # not an answer: the reconcile is retried (see rollout.analysis.preflight)
    except KubeError as err:
        name = f"IngressClass of Ingress {namespace}/{ingress}"
        return [Check(name, False, f"could not check the {name}: {err.message}")]
    class_name = (obj.get("spec") or {}).get("ingressClassName")
    if not isinstance(class_name, str) or not class_name:
        return []
    where = f"ingressClassName of Ingress {namespace}/{ingress}"
    return check_refs(kube, [Ref(INGRESS_CLASSES, class_name, None, where)])
