"""The decision engine: (spec, status, observed world, now) -> (new status, actions). Pure.

One call looks at where the rollout stands and decides the next safe move. It never waits and
never remembers: everything it needs next time is in the status it returns. The flow:

1. revisions: is the template new, back to stable, or the first one ever?
2. requests: abort, retry, promote (people write them on the status subresource);
3. plan: steady (current == stable), aborting, or walking the canary steps (the strategy);
4. progress deadline: waiting on pods for too long aborts the update;
5. actions, in the order that keeps traffic safe: selectors, scale-ups, weights, scale-downs;
6. phase, conditions, message and when to look again.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from rollout.engine import gating
from rollout.engine.actions import (
    Action,
    CreateRevision,
    Decision,
    DeleteRevision,
    PinService,
    RemoveManagedRoutes,
    RenumberRevision,
    RestartRevision,
    ScaleWorkload,
    SetRoute,
    SetWeight,
)
from rollout.engine.analysis import due as analysis_due
from rollout.engine.draft import Draft
from rollout.engine.hashing import revision_hash
from rollout.engine.replicas import plan_scaling
from rollout.engine.revisions import blue_green_at_rest, reset_update, track_revision
from rollout.engine.summary import summarize
from rollout.engine.world import BASELINE_SUFFIX, Inputs, baseline_of
from rollout.models import RevisionWeight, ScaleDownDeadline
from rollout.models.time import parse_time
from rollout.models.traffic import SetHeaderRoute, SetMirrorRoute
from strategies.bluegreen import BlueGreenStrategy
from strategies.canary import CanaryStrategy, StepPlan, baseline_verified

_CANARY = CanaryStrategy()
_BLUE_GREEN = BlueGreenStrategy()


@dataclass(frozen=True)
class _Plan:
    targets: dict[str, int]
    weight: int
    waiting_for_pods: bool
    message: str
    requeue_at: datetime | None = None
    route: SetHeaderRoute | SetMirrorRoute | None = None
    active: str | None = None
    """The revision the stable / active Service serves (None: the stable revision)."""
    preview: str | None = None
    """The revision the canary / preview Service serves (None: the stable revision)."""
    baseline_weight: int = 0
    """Behind a router: the baseline's weight (the stable gets the rest)."""


def decide(inputs: Inputs) -> Decision:
    spec, world, now = inputs.spec, inputs.world, inputs.now
    strategy = spec.strategy
    draft = Draft(inputs.status.detached(), now)
    status = draft.status
    status.observed_generation = inputs.generation
    revision = inputs.revision or revision_hash(inputs.template)

    track_revision(inputs, draft, revision)
    _handle_abort_requests(inputs, draft)

    plan = _plan(inputs, draft)
    if _check_progress_deadline(inputs, draft, plan):
        plan = _plan(inputs, draft)  # the deadline just aborted the update

    stable, current = status.stable_revision, status.current_revision
    assert stable is not None and current is not None
    surge, unavailable = strategy.surge_and_unavailable(spec.replicas)
    actions: list[Action] = []

    # Numbers: the current revision always carries the newest number (an undo renumbers).
    numbers = {rev: state.number for rev, state in world.revisions.items()}
    newest = max(numbers.values(), default=0)
    if current in numbers and numbers[current] < newest:
        actions.append(RenumberRevision(current, newest + 1))

    # 1. Selectors first: the stable Service points at the stable revision, except blue-green's
    #    active Service from the switch to the end of promotion (a router switches by weight).
    if strategy.stable_service:
        active = stable if inputs.traffic_routing else (plan.active or stable)
        if world.available(active) == 0:
            # Switched, and its pods stopped serving: back to the stable revision (still at
            # full size) until they do, as a router's weight goes to 0 for a canary without
            # pods, even when the stable has none either (the side that recovers first is
            # then the stable's, which is where a rollback goes). The plan switches again
            # once they are back.
            active = stable
        actions += _pin(inputs, strategy.stable_service, active, serving=True)

    # 2. Create missing revisions, then scale up.
    baseline = baseline_of(stable)
    wants_baseline = plan.targets.get(baseline, 0) > 0 and baseline not in world.revisions
    if wants_baseline and world.stable_template is not None:
        # Fresh pods of the stable's template: same version, same age as the canary's.
        actions.append(CreateRevision(baseline, 0, 0, dict(world.stable_template)))
    for rev in dict.fromkeys((stable, current)):
        if rev not in world.revisions:
            others = sum(state.replicas for state in world.revisions.values())
            wanted = plan.targets.get(rev, 0)
            if not inputs.traffic_routing and rev == current != stable:
                wanted = min(wanted, max(0, spec.replicas + surge - others))
            avoid = stable if rev == current != stable else None
            actions.append(
                CreateRevision(rev, newest + 1, wanted, dict(inputs.template), avoid=avoid)
            )
    # After the last step the canary grows to full size beside the old stable, which keeps its
    # pods until the scale-down delay: bounded by maxSurge there, a canary would stay short of
    # full size whenever the stable kept more than maxSurge pods, and wait for ever.
    steps_done = (status.current_step_index or 0) >= len(strategy.steps)
    bounded = not (inputs.traffic_routing or current == stable or steps_done)
    scaling = plan_scaling(
        targets=plan.targets,
        world=world,
        replicas=spec.replicas,
        max_surge=surge,
        max_unavailable=unavailable,
        surge_bounded=frozenset((current, baseline) if bounded else ()),
        down_order=[r for r in world.revisions if r not in (stable, current)] + [current, stable],
    )
    actions += [a for a in scaling if a.replicas > world.replicas(a.revision)]

    # 3. The canary / preview Service follows the new revision only while one is in progress,
    # and only once it has an available pod: header and mirror routes, smoke tests and anyone
    # calling the canary Service reach it directly, whatever the weights say.
    if strategy.canary_service:
        actions += _pin(inputs, strategy.canary_service, plan.preview or stable, serving=True)
    baseline_service = strategy.baseline_service
    if baseline_service:
        running = world.available(baseline) > 0 and current != stable and not status.abort
        actions += _pin(inputs, baseline_service, baseline if running else stable, serving=True)

    # 4. Weights (only a traffic router sets them; without one they follow pod counts).
    if inputs.traffic_routing:
        canary_rev = current if current != stable and not status.abort else stable
        # A revision with no available pods gets no traffic, whatever the step says.
        has_pods = world.available(canary_rev) > 0
        weight = plan.weight if canary_rev != stable and has_pods else 0
        verified = world.weights
        # Scale first, then weight: a weight only rises once the canary has the pods the
        # step sized it for (lowering is always allowed).
        in_force = (
            verified.canary.weight
            if verified is not None and verified.canary.revision == canary_rev
            else 0
        )
        if weight > in_force and world.available(canary_rev) < plan.targets.get(canary_rev, 0):
            weight = in_force
        baseline_weight = _baseline_weight(inputs, draft, plan, canary_rev)
        if (
            verified is None
            or verified.canary.weight != weight
            or verified.canary.revision != canary_rev
            or verified.stable.revision != stable
            or not baseline_verified(verified, stable, baseline_weight)
        ):
            pair = RevisionWeight(revision=baseline, weight=baseline_weight)
            actions.append(
                SetWeight(stable, canary_rev, weight, baseline=pair if baseline_weight else None)
            )

    # 5. Managed header / mirror routes: set by the current step (to a canary that has pods),
    #    and all removed, after the weight went back, once no update is in progress.
    updating = current != stable and not status.abort
    if plan.route is not None and updating:
        adding = bool(plan.route.match) or (
            isinstance(plan.route, SetMirrorRoute) and plan.route.percentage is not None
        )
        if not adding or world.available(current) > 0:
            actions.append(SetRoute(plan.route))
    if not updating and (world.header_routes or world.mirror_routes):
        actions.append(RemoveManagedRoutes())

    # 6. Scale down, once traffic has left (a baseline behind a router: once it reads 0%;
    #    the revision blue-green's active Service selects, which carries all of the traffic:
    #    once this decision's pins, carried out first, have moved it. It can still be on a
    #    revision that a newer one has just superseded. A canary's stable Service is left
    #    out: without a router its revision shrinks under it by design, as the canary grows).
    baseline_serving = bool(
        world.weights and world.weights.baseline and world.weights.baseline.weight
    )
    serving = None
    if strategy.blue_green is not None and strategy.stable_service:
        serving = world.services.get(strategy.stable_service)
        for action in actions:
            if isinstance(action, PinService) and action.service == strategy.stable_service:
                serving = action.revision
    actions += [
        a
        for a in scaling
        if a.replicas < world.replicas(a.revision)
        and not (a.revision.endswith(BASELINE_SUFFIX) and baseline_serving)
        and a.revision != serving
    ]
    actions += _restart(inputs, draft)
    if (
        spec.workload_ref is not None
        and world.workload_replicas
        and current == stable
        and world.available(stable) >= spec.replicas
    ):
        actions.append(ScaleWorkload(spec.workload_ref.name, 0))
    actions += _collect_garbage(inputs, draft, plan.targets)

    requeue = [
        plan.requeue_at,
        analysis_due(inputs.analysis, draft),
        *(d.at for d in status.scale_down if d.at > now),
    ]
    if plan.waiting_for_pods and status.last_progress_at and not status.deadline_exceeded:
        requeue.append(status.last_progress_at + timedelta(seconds=spec.progress_deadline_seconds))
    summarize(inputs, draft, plan.message, waiting=plan.waiting_for_pods)
    return Decision(
        status=status,
        actions=actions,
        events=draft.events,
        requeue_at=min((t for t in requeue if t is not None), default=None),
        terminations=draft.terminations,
    )


def _baseline_weight(inputs: Inputs, draft: Draft, plan: _Plan, canary: str) -> int:
    """The baseline's weight: the plan's, only while an update runs and the baseline has the
    pods the step sized it for (raising waits for pods, as the canary's does)."""
    stable = draft.status.stable_revision or ""
    if not plan.baseline_weight or canary == stable:
        return 0
    world, baseline = inputs.world, baseline_of(stable)
    if world.available(baseline) == 0:
        return 0
    verified = world.weights
    in_force = verified.baseline.weight if verified and verified.baseline else 0
    if plan.baseline_weight > in_force and world.available(baseline) < plan.targets.get(
        baseline, 0
    ):
        return in_force
    return plan.baseline_weight


def _handle_abort_requests(inputs: Inputs, draft: Draft) -> None:
    status = draft.status
    updating = status.current_revision != status.stable_revision
    if status.abort and not updating:
        status.abort = False
        if status.aborted_at is None:
            draft.record("AbortIgnored", "abort ignored: no update in progress")
        return
    if status.abort and status.aborted_at is None:
        status.aborted_at = draft.now
        status.abort_message = status.abort_message or "aborted by request"
        status.pause_conditions = []
        status.promote_step = None
        status.promote_full = False
        status.withdrawal = None
        status.blue_green = blue_green_at_rest(inputs, draft)
        gating.end_all(inputs, draft, "aborted")
        draft.record(
            "RolloutAborted",
            f"{status.abort_message}: traffic goes back to stable {status.stable_revision}",
            revision=status.current_revision,
            step=status.current_step_index,
        )
    elif not status.abort and status.aborted_at is not None and updating:
        draft.record(
            "Retried",
            "retry: the update starts again from step 1",
            revision=status.current_revision,
            step=0,
        )
        status.current_step_index = 0
        reset_update(inputs, draft)


def _plan(inputs: Inputs, draft: Draft) -> _Plan:
    status, world, replicas = draft.status, inputs.world, inputs.spec.replicas
    stable, current = status.stable_revision, status.current_revision
    assert stable is not None and current is not None
    if current != stable and not status.abort:
        gate = gating.check(inputs, draft)
        if gate.abort is not None:
            return _abort(inputs, draft, gate.abort)
        if gate.withdraw is not None:
            return _withdrawn(inputs, draft, gate.withdraw, gate.requeue_at)
        if gate.before_start is not None:
            # Nothing is deployed before the gates open: the canary stays at 0 pods.
            targets = _old_revision_targets(inputs, draft, keep={stable, current})
            targets[stable], targets[current] = replicas, 0
            preview = current if inputs.spec.strategy.canary is not None else None
            return _Plan(targets, 0, False, gate.before_start, gate.requeue_at, preview=preview)
        walker = _CANARY if inputs.spec.strategy.canary is not None else _BLUE_GREEN
        step: StepPlan = walker.walk(inputs, draft, stable=stable, canary=current, hold=gate.hold)
        if step.abort is not None:
            return _abort(inputs, draft, step.abort)
        if step.promote:
            _promote(inputs, draft)
        else:
            baseline = baseline_of(stable)
            with_baseline = step.baseline_target > 0 or baseline in world.revisions
            keep = {stable, current, baseline} if with_baseline else {stable, current}
            targets = _old_revision_targets(inputs, draft, keep=keep)
            targets[stable] = step.stable_target
            targets[current] = step.canary_target
            if with_baseline:
                targets[baseline] = step.baseline_target
            return _Plan(
                targets,
                step.weight,
                step.waiting_for_pods,
                step.message,
                step.requeue_at,
                step.route,
                active=step.active,
                # A canary Service follows the canary from the start (header routes and smoke
                # tests reach it before any weight moves); blue-green's preview, once ready.
                preview=current if inputs.spec.strategy.canary is not None else step.preview,
                baseline_weight=step.baseline_weight,
            )

    stable = status.stable_revision
    assert stable is not None
    if status.abort and current != stable:
        # Stable back to full size first; the canary goes only once stable can carry everything.
        stable_back = world.available(stable) >= replicas
        if stable_back:
            delay = inputs.spec.strategy.abort_scale_down_delay(routed=inputs.traffic_routing)
            _set_deadline(draft, current, seconds=delay)
        targets = _old_revision_targets(
            inputs, draft, keep={stable} if stable_back else {stable, current}
        )
        if not stable_back:
            # Keep the canary pods that serve, drop the ones still starting: a canary must not
            # gain pods (and, without a router, traffic share) while the update is aborted.
            targets[current] = min(world.replicas(current), world.available(current))
        targets[stable] = replicas
        message = f"aborted: {status.abort_message} (rollout retry {inputs.name} to try again)"
        return _Plan(targets, 0, world.available(stable) < replicas, message)

    targets = _old_revision_targets(inputs, draft, keep={stable})
    targets[stable] = replicas
    ready = world.available(stable) >= replicas and world.replicas(stable) == replicas
    message = (
        "healthy"
        if ready
        else (f"waiting for stable pods ({world.available(stable)}/{replicas} available)")
    )
    return _Plan(targets, 0, not ready, message)


def _withdrawn(inputs: Inputs, draft: Draft, why: str, until: datetime | None) -> _Plan:
    """The step gate's cool-off: the stable at full size takes all the traffic. With a router
    the canary (and a baseline) keep their pods, so the retry is one weight write away;
    without one, traffic follows pods, so the canary's go."""
    world, replicas = inputs.world, inputs.spec.replicas
    stable, current = draft.status.stable_revision, draft.status.current_revision
    assert stable is not None and current is not None
    baseline = baseline_of(stable)
    targets = _old_revision_targets(inputs, draft, keep={stable, current, baseline})
    routed = inputs.traffic_routing
    targets[stable] = replicas
    targets[current] = world.replicas(current) if routed else 0
    if baseline in world.revisions:
        targets[baseline] = world.replicas(baseline) if routed else 0
    return _Plan(targets, 0, False, why, until, preview=current)


def _abort(inputs: Inputs, draft: Draft, why: str) -> _Plan:
    """Analysis or a gate says roll back: the same path as `rollout abort`, with the reason."""
    draft.status.abort = True
    draft.status.abort_message = why
    _handle_abort_requests(inputs, draft)
    return _plan(inputs, draft)


def _promote(inputs: Inputs, draft: Draft) -> None:
    status = draft.status
    gating.end_all(inputs, draft, "promoted")
    old = status.stable_revision
    assert old is not None and status.current_revision is not None
    delay = inputs.spec.strategy.scale_down_delay_seconds
    _set_deadline(draft, old, seconds=delay)
    status.stable_revision = status.current_revision
    status.pause_conditions = []
    status.fast_rollback = False
    status.blue_green = blue_green_at_rest(inputs, draft)
    draft.record(
        "Promoted",
        f"revision {status.current_revision} is stable; {old} scales down in {delay}s",
        revision=status.current_revision,
    )


def _set_deadline(draft: Draft, revision: str, *, seconds: int) -> None:
    if any(d.revision == revision for d in draft.status.scale_down):
        return
    at = draft.now + timedelta(seconds=seconds)
    draft.status.scale_down = [
        *draft.status.scale_down,
        ScaleDownDeadline(revision=revision, at=at),
    ]


def _old_revision_targets(inputs: Inputs, draft: Draft, *, keep: set[str]) -> dict[str, int]:
    """Revisions outside `keep` go to 0 once their scale-down deadline passes (a revision with
    no deadline yet gets one now: it has no reason to keep its pods)."""
    status = draft.status
    status.scale_down = [d for d in status.scale_down if d.revision not in keep]
    targets: dict[str, int] = {}
    for rev, state in inputs.world.revisions.items():
        if rev in keep:
            continue
        if state.replicas == 0:
            status.scale_down = [d for d in status.scale_down if d.revision != rev]
            targets[rev] = 0
            continue
        _set_deadline(draft, rev, seconds=0)
        deadline = next(d.at for d in status.scale_down if d.revision == rev)
        targets[rev] = 0 if draft.now >= deadline else state.replicas
    return targets


def _check_progress_deadline(inputs: Inputs, draft: Draft, plan: _Plan) -> bool:
    """Move the deadline clock on progress; on expiry mark it and (by default) abort.
    Returns True when it aborted the update."""
    status, world, spec = draft.status, inputs.world, inputs.spec
    marker = ":".join(
        str(x)
        for x in (
            status.current_revision,
            status.stable_revision,
            status.current_step_index,
            world.available(status.current_revision),
            world.available(status.stable_revision),
            status.abort,
            spec.paused,
            plan.waiting_for_pods,
        )
    )
    if marker != status.progress_marker or status.last_progress_at is None:
        status.progress_marker = marker
        status.last_progress_at = draft.now
        status.deadline_exceeded = False
        return False
    if not plan.waiting_for_pods or status.deadline_exceeded:
        return False
    if draft.now < status.last_progress_at + timedelta(seconds=spec.progress_deadline_seconds):
        return False
    status.deadline_exceeded = True
    waited = f"no progress for {spec.progress_deadline_seconds}s: {plan.message}"
    draft.record(
        "ProgressDeadlineExceeded",
        waited,
        revision=status.current_revision,
        step=status.current_step_index,
    )
    if (
        spec.progress_deadline_abort
        and status.current_revision != status.stable_revision
        and not status.abort
    ):
        status.abort = True
        status.abort_message = f"progress deadline exceeded ({waited})"
        _handle_abort_requests(inputs, draft)
        return True
    return False


def _pin(inputs: Inputs, service: str, revision: str, *, serving: bool = False) -> list[Action]:
    """`serving`: the Service takes traffic, so its selector never moves from a revision with
    available pods to one without (it waits; the plan brings the pods)."""
    world = inputs.world
    if service not in world.services:
        return []  # a missing Service is reported in the conditions, not created by us
    pinned = world.services[service]
    if pinned == revision:
        return []
    if serving and world.available(revision) == 0 and world.available(pinned) > 0:
        return []
    return [PinService(service, revision)]


def _restart(inputs: Inputs, draft: Draft) -> list[Action]:
    wanted = inputs.spec.restart_at
    if wanted is None:
        return []
    at = parse_time(wanted)
    status = draft.status
    if at > draft.now or (status.restarted_at is not None and status.restarted_at >= at):
        return []
    status.restarted_at = at
    draft.record("Restarted", f"pods restarted (restartAt {wanted})")
    revisions = dict.fromkeys((status.stable_revision, status.current_revision))
    return [
        RestartRevision(r, at) for r in revisions if r is not None and r in inputs.world.revisions
    ]


def _collect_garbage(inputs: Inputs, draft: Draft, wanted: dict[str, int]) -> list[Action]:
    status = draft.status
    pending = {d.revision for d in status.scale_down}
    idle = sorted(
        (
            s
            for r, s in inputs.world.revisions.items()
            if r not in (status.stable_revision, status.current_revision)
            and s.replicas == 0
            and r not in pending
            and wanted.get(r, 0) == 0
        ),
        key=lambda s: s.number,
        reverse=True,
    )
    # A baseline is no revision to go back to: gone as soon as it is idle.
    baselines = [s for s in idle if s.revision.endswith(BASELINE_SUFFIX)]
    revisions = [s for s in idle if not s.revision.endswith(BASELINE_SUFFIX)]
    old = revisions[inputs.spec.revision_history_limit :]
    return [DeleteRevision(s.revision) for s in [*baselines, *old]]
