"""Phase, conditions, message and replica counts: how a decision reads to people and kubectl.

Phases, checked in this order (as Argo Rollouts users expect):
Degraded (aborted, or progress deadline exceeded) > Paused (spec.paused or a pause condition) >
Progressing (an update in progress, or stable not fully available) > Healthy.
"""

from __future__ import annotations

from rollout.engine.draft import Draft
from rollout.engine.world import Inputs, baseline_of
from rollout.models import Condition, ConditionType, Phase, RevisionWeight, TrafficWeights
from rollout.models.status import PauseReason


def summarize(inputs: Inputs, draft: Draft, message: str, *, waiting: bool) -> None:
    status, world, spec = draft.status, inputs.world, inputs.spec
    stable, current = status.stable_revision, status.current_revision
    if spec.paused:
        draft.pause(PauseReason.USER_PAUSE)
    else:
        draft.unpause(PauseReason.USER_PAUSE)

    updating = current != stable
    aborted = status.abort and updating
    healthy = (
        not updating
        and world.replicas(stable) == spec.replicas
        and world.available(stable) >= spec.replicas
        and _traffic_settled(inputs, stable)
    )
    if aborted or status.deadline_exceeded:
        phase = Phase.DEGRADED
    elif status.pause_conditions:
        phase = Phase.PAUSED
    elif healthy:
        phase = Phase.HEALTHY
    else:
        phase = Phase.PROGRESSING
    status.phase = phase
    if spec.paused and not aborted:
        message = f"paused by user (rollout resume {inputs.name}); {message}"
    status.message = message

    if aborted:
        progressing = ("False", "RolloutAborted", status.abort_message)
    elif status.deadline_exceeded:
        progressing = ("False", "ProgressDeadlineExceeded", message)
    elif healthy:
        progressing = ("True", "RolloutCompleted", f"revision {stable} is fully rolled out")
    elif updating and status.withdrawal is not None:
        progressing = ("True", "CanaryWithdrawn", message)
    elif updating:
        progressing = ("True", "RolloutProgressing", message)
    else:
        progressing = ("True", "ReplicasUpdating", message)
    # Available means capacity, as for a Deployment: pods of every revision serve, and without
    # a traffic router the stable shrinks on purpose while the canary grows.
    _, unavailable = spec.strategy.surge_and_unavailable(spec.replicas)
    serving = sum(s.available for s in world.revisions.values())
    enough = serving >= spec.replicas - unavailable
    _set(draft, ConditionType.PROGRESSING, *progressing)
    _set(
        draft,
        ConditionType.AVAILABLE,
        "True" if enough else "False",
        "MinimumReplicasAvailable" if enough else "MinimumReplicasUnavailable",
        f"{serving} pods available for {spec.replicas} replicas "
        f"(at least {spec.replicas - unavailable} needed)",
    )
    _set(
        draft,
        ConditionType.PAUSED,
        "True" if status.pause_conditions else "False",
        status.pause_conditions[0].reason if status.pause_conditions else "NotPaused",
        # Why, with the figures (a closed release gate's budget and burn, an inconclusive
        # analysis' values), so `kubectl describe` alone tells it.
        message if status.pause_conditions else "",
    )
    _set(
        draft, ConditionType.HEALTHY, "True" if phase == Phase.HEALTHY else "False", phase.value, ""
    )
    status.conditions = [c for c in status.conditions if c.type != ConditionType.INVALID_SPEC]

    revisions = world.revisions.values()
    status.replicas = sum(s.replicas for s in revisions)
    status.updated_replicas = world.replicas(current)
    status.ready_replicas = sum(s.ready for s in revisions)
    status.available_replicas = sum(s.available for s in revisions)
    status.selector = ",".join(f"{k}={v}" for k, v in sorted(spec.selector.match_labels.items()))
    _record_weights(inputs, draft)


def _traffic_settled(inputs: Inputs, stable: str | None) -> bool:
    """Every Service we pin selects the stable revision and a router's weights, read back, give
    it all traffic. Status is written before the actions run, so without this a promotion's
    status says Healthy while the stable Service still selects the old revision, and a CI job
    waiting for Healthy goes on before traffic moved. The write's watch event (a Service) or
    the read-back requeue (a route) brings the rollout back to say Healthy."""
    world, strategy = inputs.world, inputs.spec.strategy
    for service, _ in strategy.pinned_services:
        if service in world.services and world.services[service] != stable:
            return False
    if not inputs.traffic_routing:
        return True
    weights = world.weights
    return (
        weights is not None
        and weights.stable.revision == stable
        and (weights.canary.weight == 0 or weights.canary.revision == stable)
        and (weights.baseline is None or weights.baseline.weight == 0)
    )


def _record_weights(inputs: Inputs, draft: Draft) -> None:
    """Weights as they are, never as planned: read back from the router, or (without one)
    each revision's share of available pods, so a revision with none gets none."""
    status, world = draft.status, inputs.world
    stable, current = status.stable_revision or "", status.current_revision or ""
    if inputs.traffic_routing:
        status.canary.weights = world.weights
        return
    active = inputs.spec.strategy.stable_service
    if inputs.spec.strategy.blue_green is not None and active is not None:
        # Blue-green: all traffic goes where the active Service's selector points.
        switched = current != stable and world.services.get(active) == current
        status.canary.weights = TrafficWeights(
            stable=RevisionWeight(revision=stable, weight=0 if switched else 100),
            canary=RevisionWeight(revision=current, weight=100 if switched else 0),
        )
        return
    canary_available = world.available(current) if current != stable else 0
    # A baseline's pods run the stable version: they count on the stable's side.
    total = world.available(stable) + world.available(baseline_of(stable)) + canary_available
    weight = round(100 * canary_available / total) if total else 0
    status.canary.weights = TrafficWeights(
        stable=RevisionWeight(revision=stable, weight=100 - weight),
        canary=RevisionWeight(revision=current, weight=weight),
    )


def _set(draft: Draft, kind: ConditionType, value: str, reason: str, message: str) -> None:
    """Set a condition, keeping lastTransitionTime unless its status actually changes."""
    conditions = draft.status.conditions
    old = next((c for c in conditions if c.type == kind), None)
    since = old.last_transition_time if old is not None and old.status == value else draft.now
    new = Condition(
        type=kind, status=value, reason=reason, message=message, last_transition_time=since
    )
    draft.status.conditions = (
        [new if c.type == kind else c for c in conditions] if old else [*conditions, new]
    )
