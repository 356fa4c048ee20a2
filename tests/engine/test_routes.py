"""Header and mirror routes through the engine, with a traffic router (exact weights)."""

from __future__ import annotations

from rollout.engine import RemoveManagedRoutes, SetRoute, SetWeight
from rollout.models import Phase
from tests.engine.sim import Sim, make_rollout

ROUTING = {
    "istio": {"virtualService": {"name": "vs"}},
    "managedRoutes": [{"name": "beta-users"}, {"name": "shadow"}],
}
STEPS = [
    {
        "setHeaderRoute": {
            "name": "beta-users",
            "match": [{"headerName": "x-beta", "headerValue": {"exact": "1"}}],
        }
    },
    {"setMirrorRoute": {"name": "shadow", "percentage": 50}},
    {"setWeight": 20},
    {"pause": {}},
]


def routed() -> Sim:
    sim = Sim(
        make_rollout(strategy__canary__trafficRouting=ROUTING, strategy__canary__steps=STEPS),
        traffic_routing=True,
    )
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    return sim


def test_routes_are_set_by_their_steps_and_only_to_a_canary_with_pods() -> None:
    sim = routed()
    v2 = sim.revision_of("demo:v2")
    sim.slow.add(v2)  # the canary's pods take a few reconciles to be ready
    sim.set_image("demo:v2")
    sim.step()
    first = sim.decisions[-1]
    assert not any(isinstance(a, SetRoute) for a in first.actions), "route before any pod"
    sim.run(until=lambda s: s.status.current_step_index == 3)
    assert sim.header_routes == {"beta-users"} and sim.mirror_routes == {"shadow"}
    assert len(sim.route_writes) == 2 and all(n > 0 for n in sim.route_writes)


def test_abort_takes_the_weight_back_before_removing_routes_before_scaling_down() -> None:
    sim = routed()
    v2 = sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.request(abort=True)
    sim.log.clear()
    sim.run(until=lambda s: s.revisions[v2].replicas == 0 and not s.header_routes)
    kinds = [a.split("(")[0] for a in sim.log]
    weight_zero = next(
        i for i, a in enumerate(sim.log) if a.startswith("SetWeight") and "weight=0" in a
    )
    removed = kinds.index(RemoveManagedRoutes.__name__)
    scaled_down = next(
        i
        for i, a in enumerate(sim.log)
        if a.startswith("ScaleRevision") and f"'{v2}', replicas=0" in a
    )
    assert weight_zero < removed < scaled_down
    assert sim.mirror_routes == set()
    assert all(
        not (isinstance(a, SetWeight) and a.weight > 0)
        for d in sim.decisions[-5:]
        for a in d.actions
    )


def test_promotion_removes_the_routes() -> None:
    sim = routed()
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.promote()
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY and not s.header_routes)
    assert sim.mirror_routes == set()
    assert sim.status.stable_revision == sim.revision_of("demo:v2")


def test_a_weight_rises_only_once_the_canary_has_the_pods_for_it() -> None:
    """Scale first, then weight: full promotion must not send 100% to a canary that has only
    some of its pods (seen in the mesh demo: 100% on 3 of 5 pods)."""
    sim = routed()
    v2 = sim.revision_of("demo:v2")
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3)
    sim.slow.add(v2)  # from now on its new pods come one per reconcile
    sim.promote()
    sim.run(until=lambda s: s.status.phase == Phase.HEALTHY)
    to_v2 = [(w, avail) for rev, w, avail in sim.weight_writes if rev == v2 and w > 0]
    assert (100, 5) in to_v2, f"the canary never got full weight with 5 pods: {to_v2}"
    # Every weight sent to the canary was backed by pods in proportion: 20% -> 1, 100% -> 5.
    assert all(avail >= -(-5 * w // 100) for w, avail in to_v2), to_v2
