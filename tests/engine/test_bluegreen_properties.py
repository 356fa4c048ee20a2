"""Blue-green invariants under random programs of what people and the cluster do (hypothesis),
with the same operations as the canary's property tests, through both switches (selector and
router weight). Checked after every reconcile against the world the decision was made from."""

from __future__ import annotations

from hypothesis import HealthCheck, example, given, settings

from rollout.engine import PinService, ScaleRevision
from rollout.models import Phase
from tests.engine.sim import Sim, make_rollout
from tests.engine.test_bluegreen_flow import ACTIVE, PREVIEW, blue_green
from tests.engine.test_properties import PROGRAMS, drive

ROUTING = {"istio": {"virtualService": {"name": "demo"}}}


def check_blue_green(
    sim: Sim, world_available: dict[str, int], pins: dict[str, str | None]
) -> None:
    active_before = pins[ACTIVE]
    decision = sim.decisions[-1]
    for action in decision.actions:
        # The active Service never moves from a revision with pods to one without.
        if isinstance(action, PinService) and action.service == ACTIVE:
            assert world_available.get(action.revision, 0) > 0 or not world_available.get(
                active_before or "", 0
            ), f"active moved to {action.revision} with no available pods"
        # The revision the active Service serves is never scaled down under it.
        if isinstance(action, ScaleRevision) and action.revision == sim.services[ACTIVE]:
            assert action.replicas >= sim.rollout.spec.replicas, (
                f"active revision {action.revision} scaled to {action.replicas}"
            )
    status = sim.status
    # Promoted and aborted at once: never.
    if status.abort and status.current_revision != status.stable_revision:
        assert status.blue_green.active_revision == status.stable_revision
    # Before the switch, the active Service serves the stable revision.
    if status.blue_green.active_revision == status.stable_revision and not sim.traffic_routing:
        pinned = sim.services[ACTIVE]
        assert pinned in (status.stable_revision, active_before), (pinned, status.stable_revision)


def run_program(program: list[tuple[str, object]], *, routed: bool) -> None:
    fields = {"trafficRouting": ROUTING} if routed else {}
    sim = Sim(
        make_rollout(strategy=blue_green(**fields), progressDeadlineSeconds=15),
        services={ACTIVE: None, PREVIEW: None},
        traffic_routing=routed,
    )
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    drive(sim, program, extra=check_blue_green)

    # Once people stop (unpaused, promoting when asked), it settles.
    spec = sim.rollout.spec.model_copy(update={"paused": False})
    sim.rollout = sim.rollout.model_copy(update={"spec": spec})

    def settled(s: Sim) -> bool:
        if s.status.phase == Phase.PAUSED:
            s.promote()
        return s.status.phase in (Phase.HEALTHY, Phase.DEGRADED)

    sim.run(seconds=600, tick=1, until=settled)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
# Found by hypothesis 6.170 and kept: the active Service left on a revision whose pods had
# gone (stable without pods either), and a superseded revision scaled to 0 under it.
@example([("image", "v2"), ("never_ready", "v2"), ("image", "v3"), ("never_ready", "v3")])
@example(
    [
        ("image", "v3"),
        ("image", "v1"),
        ("image", "v4"),
        ("never_ready", "v4"),
        ("image", "v3"),
        ("image", "v1"),
    ]
)
def test_blue_green_invariants_with_the_selector_switch(program: list[tuple[str, object]]) -> None:
    run_program(program, routed=False)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(PROGRAMS)
def test_blue_green_invariants_with_a_router(program: list[tuple[str, object]]) -> None:
    run_program(program, routed=True)
