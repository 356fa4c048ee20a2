"""The Argo CD health check (deploy/argocd/rollout-health.lua), run in a real Lua interpreter.

Argo CD embeds gopher-lua (Lua 5.1) and runs a script from argocd-cm with only the base and
table libraries (plus a reduced os), `obj` set to the live object. The harness below does the
same with lupa's Lua 5.1 and hands the result over the way Argo CD reads it (a table with a
valid `status` and a `message`). The statuses come from the decision engine itself, driven
through each stage of a rollout's life by the in-memory world of tests/engine/sim.py, so a
change in what the engine writes shows up here.
"""

from __future__ import annotations

import json
import re
from typing import Any

import kubernetes_validate
import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st
from lupa import lua51  # type: ignore[import-untyped, unused-ignore]

from rollout.argocd import CONFIGMAP_FILE, HEALTH_KEY, LUA_FILE, configmap_text, health_script
from rollout.crd import crd_documents
from rollout.engine import decide_invalid
from rollout.models import PauseReason, Phase, Rollout
from tests.engine import test_analysis_flow as analysis_flow
from tests.engine import test_bluegreen_flow as bluegreen_flow
from tests.engine import test_gates_flow as gates_flow
from tests.engine.sim import Sim, make_rollout

# What Argo CD accepts back from a script (util/lua: isValidHealthStatusCode).
VALID_STATUSES = {"Healthy", "Progressing", "Degraded", "Suspended", "Missing", "Unknown"}
NOT_OBSERVED = "Waiting for rollout spec update to be observed"

# A subset of what Argo CD opens for an argocd-cm script (gopher-lua's base and table libraries,
# and a reduced os), so a script that runs here runs there: no string, math, io or debug, and
# no os either (a health check has no business with time or the environment).
_SANDBOX = """
local base = {"assert", "error", "getmetatable", "ipairs", "next", "pairs", "pcall",
  "rawequal", "rawget", "rawset", "select", "setmetatable", "tonumber", "tostring", "type",
  "unpack", "xpcall", "_VERSION"}
local tablelib = table
-- gopher-lua gives strings their methods (s:sub(...)) only with the string library.
getmetatable("").__index = nil
return function(script, obj)
  local env = {table = {}, obj = obj}
  for name, fn in pairs(tablelib) do env.table[name] = fn end
  for _, name in ipairs(base) do env[name] = _G[name] end
  env._G = env
  local chunk, err = loadstring(script, "=rollout-health.lua")
  if chunk == nil then error(err) end
  setfenv(chunk, env)
  return chunk()
end
"""


class ArgoLua:
    """Runs a health script as Argo CD does and returns {status, message}."""

    def __init__(self) -> None:
        self.lua = lua51.LuaRuntime(register_eval=False, register_builtins=False)
        self._run = self.lua.execute(_SANDBOX)

    def _to_lua(self, value: object) -> object:
        # As Argo CD's decodeValue: maps and lists become tables (lists from index 1), null
        # becomes nil (so the key is absent), numbers become Lua numbers.
        if isinstance(value, dict):
            table = self.lua.table()
            for key, item in value.items():
                if item is not None:
                    table[key] = self._to_lua(item)
            return table
        if isinstance(value, list):
            table = self.lua.table()
            for index, item in enumerate(value, start=1):
                table[index] = self._to_lua(item)
            return table
        return value

    def health(self, obj: dict[str, Any], script: str | None = None) -> dict[str, str]:
        # JSON first: what Argo CD sees is the API server's JSON, never a Python datetime.
        result = self._run(script or health_script(), self._to_lua(json.loads(json.dumps(obj))))
        assert lua51.lua_type(result) == "table", f"the script returned {result!r}"
        out = dict(result.items())
        assert set(out) <= {"status", "message"}, out
        assert out.get("status") in VALID_STATUSES, out
        assert isinstance(out.get("message", ""), str), out
        return {"status": out["status"], "message": out.get("message", "")}


@pytest.fixture(scope="module")
def argo() -> ArgoLua:
    # One interpreter per module (hypothesis' examples share it too); each run gets a fresh
    # environment, so nothing one script does reaches the next.
    return ArgoLua()


def live(sim: Sim) -> dict[str, Any]:
    """The Rollout as the API server returns it: the generation the sim reconciled against
    (the API server bumps it on every spec change), the status the engine wrote."""
    doc = sim.rollout.model_dump(by_alias=True, exclude_none=True, mode="json")
    doc["metadata"]["generation"] = sim.rollout.metadata.generation or 1
    doc["status"] = sim.status.to_dict()
    return doc


def edit_spec(sim: Sim, **fields: Any) -> None:
    """A spec change from Git: new generation, status untouched (as with kubectl apply)."""
    doc = live(sim)
    doc["spec"].update(fields)
    doc["metadata"]["generation"] += 1
    sim.rollout = Rollout.model_validate(doc)


def phase(p: Phase) -> Any:
    return lambda s: s.status.phase == p


def deployed() -> Sim:
    sim = Sim(make_rollout(progressDeadlineSeconds=10))
    sim.run(until=phase(Phase.HEALTHY))
    return sim


# ---- the life of a rollout, as the engine writes it -----------------------------------------
# Each scenario returns the sim where it stands; the case names what the engine must show
# (phase, pause reasons) so a scenario that stopped meaning what it says fails loudly.


def first_deploy() -> Sim:
    sim = Sim(make_rollout())
    sim.step()  # the Deployment is created; no pod is ready yet
    return sim


def image_changed_not_yet_observed() -> Sim:
    sim = deployed()
    sim.set_image("demo:v2")  # Argo CD applied it; the controller has not reconciled since
    return sim


def canary_step() -> Sim:
    sim = deployed()
    sim.set_image("demo:v2")
    sim.step()
    return sim


def timed_pause() -> Sim:
    sim = deployed()
    sim.set_image("demo:v2")
    sim.run(until=phase(Phase.PAUSED))  # step 2: pause 2s
    return sim


def manual_pause() -> Sim:
    sim = deployed()
    sim.set_image("demo:v2")
    sim.run(until=lambda s: s.status.current_step_index == 3 and s.status.phase == Phase.PAUSED)
    return sim


def user_pause() -> Sim:
    sim = canary_step()
    edit_spec(sim, paused=True)
    sim.step()
    return sim


def promoted_in_scale_down_window() -> Sim:
    sim = manual_pause()
    sim.promote()
    sim.run(until=phase(Phase.HEALTHY))
    v1 = sim.revision_of("demo:v1")
    assert sim.revisions[v1].replicas > 0  # the old revision still has its pods
    return sim


def aborted_by_request() -> Sim:
    sim = manual_pause()
    sim.request(abort=True)
    sim.run(seconds=5)
    return sim


def retried() -> Sim:
    sim = aborted_by_request()
    sim.request(abort=False)
    sim.step()
    return sim


def progress_deadline_rolls_back() -> Sim:
    sim = deployed()
    sim.never_ready.add(sim.revision_of("demo:v3"))
    sim.set_image("demo:v3")
    sim.run(seconds=30, until=lambda s: s.status.abort)
    return sim


def progress_deadline_without_abort() -> Sim:
    sim = deployed()
    edit_spec(sim, progressDeadlineAbort=False)
    sim.step()
    sim.never_ready.add(sim.revision_of("demo:v3"))
    sim.set_image("demo:v3")
    sim.run(seconds=30, until=lambda s: s.status.deadline_exceeded)
    assert not sim.status.abort
    return sim


def analysis_inconclusive() -> Sim:
    sim = analysis_flow.started()
    sim.metrics = {"step-1": (analysis_flow.success_rate(count=1),)}
    sim.observe = analysis_flow.scripted([analysis_flow.NO_DATA])
    sim.run(seconds=30, until=phase(Phase.PAUSED))
    return sim


def analysis_failed() -> Sim:
    sim = analysis_flow.started()
    sim.metrics = {"step-1": (analysis_flow.success_rate(),)}
    sim.observe = analysis_flow.scripted([analysis_flow.value(0.93)])
    sim.run(seconds=60, until=phase(Phase.DEGRADED))
    return sim


def release_gate_closed() -> Sim:
    sim = analysis_flow.gated()
    answers = {"release-gate": analysis_flow.CLOSED, "step-gate": analysis_flow.OPEN}
    sim.observe = lambda run, metric, now: answers[run]
    sim.run(seconds=10)
    return sim


def preflight_failing() -> Sim:
    sim = analysis_flow.started()
    sim.preflight = ("ConfigMap default/app-config (volume 'config') not found",)
    sim.run(seconds=5)
    return sim


def awaiting_approval() -> Sim:
    sim = gates_flow.releasing(gates_flow.canary([{"setWeight": 20}, {"confirm": {}}], []), {})
    sim.run(seconds=30, until=phase(Phase.PAUSED))
    return sim


def blue_green_waiting_for_promotion() -> Sim:
    sim = bluegreen_flow.started(autoPromotionEnabled=False)
    sim.run(seconds=30, until=phase(Phase.PAUSED))
    return sim


def blue_green_promoted() -> Sim:
    sim = bluegreen_flow.started()
    sim.run(seconds=60, until=phase(Phase.HEALTHY))
    return sim


def invalid_spec() -> Sim:
    # What the reconciler writes for a spec that fails to parse (reconcile.py: decide_invalid).
    sim = canary_step()
    generation = sim.rollout.metadata.generation or 1
    decision = decide_invalid(
        sim.status, generation, "spec.strategy.canary.steps[0].setWeight: must be <= 100", sim.now
    )
    sim.rollout = sim.rollout.model_copy(update={"status": decision.status})
    return sim


def routing_object_missing() -> Sim:
    sim = deployed()
    generation = sim.rollout.metadata.generation or 1
    decision = decide_invalid(
        sim.status,
        generation,
        "VirtualService default/shop not found",
        sim.now,
        reason="RoutingObjectNotFound",
    )
    sim.rollout = sim.rollout.model_copy(update={"status": decision.status})
    return sim


# (scenario, the engine's phase, its pause reasons, Argo CD's status, text in the message)
LIFE = [
    (first_deploy, Phase.PROGRESSING, [], "Progressing", "waiting for stable pods (0/5"),
    (deployed, Phase.HEALTHY, [], "Healthy", "healthy"),
    (image_changed_not_yet_observed, Phase.HEALTHY, [], "Progressing", NOT_OBSERVED),
    (canary_step, Phase.PROGRESSING, [], "Progressing", "step 1/4 setWeight 20"),
    (timed_pause, Phase.PAUSED, ["CanaryPauseStep"], "Suspended", "CanaryPauseStep: step 2/4"),
    (manual_pause, Phase.PAUSED, ["CanaryPauseStep"], "Suspended", "waiting for promote"),
    (user_pause, Phase.PAUSED, ["UserPause"], "Suspended", "UserPause: paused by user"),
    (promoted_in_scale_down_window, Phase.HEALTHY, [], "Healthy", "healthy"),
    (aborted_by_request, Phase.DEGRADED, [], "Degraded", "RolloutAborted: aborted: aborted by"),
    (retried, Phase.PROGRESSING, [], "Progressing", "step 1/4"),
    (
        progress_deadline_rolls_back,
        Phase.DEGRADED,
        [],
        "Degraded",
        "RolloutAborted: aborted: progress deadline",
    ),
    (
        progress_deadline_without_abort,
        Phase.DEGRADED,
        [],
        "Degraded",
        "ProgressDeadlineExceeded: step 1/4",
    ),
    (
        analysis_inconclusive,
        Phase.PAUSED,
        ["InconclusiveAnalysis"],
        "Suspended",
        "InconclusiveAnalysis: step 2/4 analysis",
    ),
    (analysis_failed, Phase.DEGRADED, [], "Degraded", "RolloutAborted: aborted: step 2/4 analysis"),
    (
        release_gate_closed,
        Phase.PAUSED,
        ["ErrorBudgetExhausted"],
        "Suspended",
        "ErrorBudgetExhausted: release gate closed",
    ),
    (
        preflight_failing,
        Phase.PAUSED,
        ["PreflightChecks"],
        "Suspended",
        "PreflightChecks: preflight checks failing",
    ),
    (awaiting_approval, Phase.PAUSED, ["AwaitingApproval"], "Suspended", "waiting for approval"),
    (
        blue_green_waiting_for_promotion,
        Phase.PAUSED,
        ["BlueGreenPause"],
        "Suspended",
        "BlueGreenPause: preview ready",
    ),
    (blue_green_promoted, Phase.HEALTHY, [], "Healthy", "healthy"),
    (invalid_spec, Phase.DEGRADED, [], "Degraded", "InvalidSpec: spec.strategy.canary.steps[0]"),
    (
        routing_object_missing,
        Phase.DEGRADED,
        [],
        "Degraded",
        "RoutingObjectNotFound: VirtualService default/shop not found",
    ),
]


@pytest.mark.parametrize("case", LIFE, ids=[case[0].__name__ for case in LIFE])
def test_what_argo_cd_shows_through_a_rollouts_life(argo: ArgoLua, case: tuple[Any, ...]) -> None:
    scenario, engine_phase, reasons, expected, says = case
    sim = scenario()
    assert sim.status.phase == engine_phase, sim.status.message
    assert [c.reason for c in sim.status.pause_conditions] == reasons
    got = argo.health(live(sim))
    assert got["status"] == expected, got
    assert says in got["message"], got


def test_the_life_cycle_covers_every_phase_and_pause_reason() -> None:
    assert {case[1] for case in LIFE} == set(Phase)
    assert {r for case in LIFE for r in case[2]} == {r.value for r in PauseReason}


# ---- every value the models allow has a deliberate mapping ----------------------------------

# Adding a Phase or a PauseReason fails these until someone decides what Argo CD should show.
PHASE_HEALTH = {
    Phase.HEALTHY: "Healthy",
    Phase.PROGRESSING: "Progressing",
    Phase.PAUSED: "Suspended",
    Phase.DEGRADED: "Degraded",
}
PAUSE_HEALTH = {reason: "Suspended" for reason in PauseReason}  # timed pauses too, as Argo's


def observed(status: dict[str, Any], generation: int = 3) -> dict[str, Any]:
    return {
        "apiVersion": "rollout.dev/v1alpha1",
        "kind": "Rollout",
        "metadata": {"name": "demo", "namespace": "default", "generation": generation},
        "spec": {},
        "status": {"observedGeneration": generation, **status},
    }


def test_every_phase_has_a_mapping(argo: ArgoLua) -> None:
    assert set(PHASE_HEALTH) == set(Phase)
    for value, expected in PHASE_HEALTH.items():
        got = argo.health(observed({"phase": value.value, "message": "m"}))
        assert got["status"] == expected, (value, got)
    # The CRD's status schema allows exactly these phases (nothing else reaches Argo CD).
    rollout_crd = next(c for c in crd_documents() if c["spec"]["names"]["kind"] == "Rollout")
    schema = rollout_crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    assert set(schema["properties"]["status"]["properties"]["phase"]["enum"]) == {
        p.value for p in PHASE_HEALTH
    }


def test_every_pause_reason_has_a_mapping(argo: ArgoLua) -> None:
    assert set(PAUSE_HEALTH) == set(PauseReason)
    for reason, expected in PAUSE_HEALTH.items():
        status = {
            "phase": "Paused",
            "message": "why",
            "pauseConditions": [{"reason": reason.value, "startTime": "2026-01-01T00:00:00Z"}],
        }
        assert argo.health(observed(status)) == {
            "status": expected,
            "message": f"{reason.value}: why",
        }


# ---- edge cases ------------------------------------------------------------------------------


def test_a_rollout_without_status_waits_for_the_controller(argo: ArgoLua) -> None:
    doc = observed({})
    del doc["status"]
    assert argo.health(doc) == {"status": "Progressing", "message": NOT_OBSERVED}
    doc["status"] = {}
    assert argo.health(doc)["status"] == "Progressing"


def test_requests_written_before_the_first_reconcile_are_no_status(argo: ArgoLua) -> None:
    doc = observed({})
    doc["status"] = {"abort": True}  # `rollout abort` on a Rollout never reconciled
    assert argo.health(doc) == {"status": "Progressing", "message": NOT_OBSERVED}


@pytest.mark.parametrize("status_phase", [p.value for p in Phase])
def test_a_stale_status_is_progressing_whatever_it_says(argo: ArgoLua, status_phase: str) -> None:
    doc = observed({"phase": status_phase, "message": "old"})
    doc["metadata"]["generation"] = 4  # a spec change the controller has not seen
    assert argo.health(doc) == {"status": "Progressing", "message": NOT_OBSERVED}


def test_a_stale_invalid_spec_is_not_reported(argo: ArgoLua) -> None:
    """The fix has been applied (new generation): the old InvalidSpec must not linger."""
    sim = invalid_spec()
    doc = live(sim)
    doc["metadata"]["generation"] += 1
    assert argo.health(doc)["status"] == "Progressing"


def test_generations_compare_as_numbers(argo: ArgoLua) -> None:
    doc = observed({"phase": "Healthy", "message": "healthy"})
    doc["status"]["observedGeneration"] = "3"  # written as a string by some tool: same number
    assert argo.health(doc)["status"] == "Healthy"
    doc["status"]["observedGeneration"] = "three"
    assert argo.health(doc)["status"] == "Progressing"
    del doc["metadata"]["generation"]  # nothing to compare with: trust the status
    doc["status"]["observedGeneration"] = 3
    assert argo.health(doc)["status"] == "Healthy"


def test_a_phase_not_yet_written_and_an_unknown_phase(argo: ArgoLua) -> None:
    assert argo.health(observed({"message": ""}))["status"] == "Progressing"
    got = argo.health(observed({"phase": "Scaling", "message": ""}))
    assert got["status"] == "Unknown" and "unknown phase Scaling" in got["message"]


def test_a_pause_reason_from_a_newer_controller_is_still_suspended(argo: ArgoLua) -> None:
    status = {"phase": "Paused", "message": "m", "pauseConditions": [{"reason": "Later"}]}
    assert argo.health(observed(status)) == {"status": "Suspended", "message": "Later: m"}
    assert argo.health(observed({"phase": "Paused", "message": "m"}))["status"] == "Suspended"


def test_invalid_spec_only_when_true(argo: ArgoLua) -> None:
    condition = {"type": "InvalidSpec", "status": "False", "reason": "InvalidSpec"}
    doc = observed({"phase": "Healthy", "message": "healthy", "conditions": [condition]})
    assert argo.health(doc)["status"] == "Healthy"


def test_a_rollout_being_deleted_is_progressing(argo: ArgoLua) -> None:
    doc = observed({"phase": "Healthy", "message": "healthy"})
    doc["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    assert argo.health(doc) == {"status": "Progressing", "message": "Rollout is being deleted"}


_TEXT = st.text(alphabet="abcXYZ :-", max_size=8)


_CONDITIONS = st.lists(
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["Progressing", "Available", "Paused", "InvalidSpec"]),
            "status": st.sampled_from(["True", "False", "Unknown"]),
        },
        optional={"reason": _TEXT, "message": _TEXT},
    ),
    max_size=4,
)
# Shapes the CRD's status schema admits, with values it does not know (a newer controller's).
_STATUSES = st.fixed_dictionaries(
    {
        "pauseConditions": st.lists(
            st.fixed_dictionaries(
                {"reason": st.one_of(st.sampled_from([r.value for r in PauseReason]), _TEXT)}
            )
        ),
        "conditions": _CONDITIONS,
    },
    optional={
        "phase": st.one_of(st.sampled_from([p.value for p in Phase]), _TEXT),
        "message": _TEXT,
    },
)


@settings(max_examples=150, deadline=None)
@given(status=_STATUSES, generations=st.tuples(st.integers(1, 3), st.integers(1, 3)))
def test_any_status_the_crd_admits_gets_a_valid_answer(
    argo: ArgoLua, status: dict[str, Any], generations: tuple[int, int]
) -> None:
    """Never a Lua error (Argo CD would show the error instead of a health), always a status
    Argo CD accepts (ArgoLua.health checks), and a stale status is never anything but
    Progressing."""
    doc = observed(status, generation=generations[0])
    doc["metadata"]["generation"] = generations[1]
    got = argo.health(doc)
    if generations[0] != generations[1]:
        assert got == {"status": "Progressing", "message": NOT_OBSERVED}
    elif any(c["type"] == "InvalidSpec" and c["status"] == "True" for c in status["conditions"]):
        assert got["status"] == "Degraded"


# ---- the harness is as strict as Argo CD ----------------------------------------------------


def test_the_sandbox_has_no_string_or_math_library(argo: ArgoLua) -> None:
    for script in (
        "return {status = string.upper('healthy')}",
        "return {status = ('x'):upper()}",
        "return {status = tostring(math.floor(1))}",
        "return {status = os.getenv('HOME')}",
    ):
        with pytest.raises(lua51.LuaError):
            argo.health({}, script)
    assert argo.health({}, "return {status = 'Healthy', message = table.concat({'a', 'b'})}") == {
        "status": "Healthy",
        "message": "ab",
    }


# ---- the ConfigMap that installs it ---------------------------------------------------------


def test_the_configmap_is_generated_from_the_script() -> None:
    assert CONFIGMAP_FILE.read_text(encoding="utf-8") == configmap_text(health_script()), (
        "deploy/argocd/argocd-cm.yaml is out of date with deploy/argocd/rollout-health.lua: "
        "run `python -m rollout.argocd` and commit the result"
    )


def test_the_configmap_carries_the_script_verbatim() -> None:
    cm = yaml.safe_load(CONFIGMAP_FILE.read_text(encoding="utf-8"))
    assert cm["data"] == {HEALTH_KEY: LUA_FILE.read_text(encoding="utf-8")}
    # Argo CD's key for a group and kind: resource.customizations.health.<group>_<kind>.
    assert HEALTH_KEY == "resource.customizations.health.rollout.dev_Rollout"
    assert (cm["metadata"]["name"], cm["metadata"]["namespace"]) == ("argocd-cm", "argocd")


@pytest.mark.parametrize("version", ["1.30", kubernetes_validate.latest_version()])
def test_the_configmap_is_valid_upstream(version: str) -> None:
    cm = yaml.safe_load(CONFIGMAP_FILE.read_text(encoding="utf-8"))
    kubernetes_validate.validate(cm, version, strict=True)
    # What the API server checks beyond the schema: ConfigMap keys are [-._a-zA-Z0-9]+.
    assert all(re.fullmatch(r"[-._a-zA-Z0-9]+", key) for key in cm["data"])


def test_the_renderer_refuses_what_a_literal_block_cannot_hold() -> None:
    with pytest.raises(ValueError, match="trailing blanks"):
        configmap_text("return {}  \n")
    with pytest.raises(ValueError, match="tabs"):
        configmap_text("\treturn {}\n")
