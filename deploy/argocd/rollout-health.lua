-- Argo CD health check for rollout.dev/Rollout (rollout-controller).
--
-- Argo CD sets the global `obj` to the live Rollout and shows the table returned here:
-- {status = "Healthy" | "Progressing" | "Degraded" | "Suspended" | "Unknown", message = "..."}.
-- ("Missing" is Argo CD's own verdict for an object that does not exist: no script sees one.)
-- A script from argocd-cm runs without Lua's string, math, io and os libraries unless
-- resource.customizations.useOpenLibs is set, so this one uses base functions and `..` only.
--
-- The controller already sums a rollout up in status.phase (rollout/engine/summary.py:
-- Degraded > Paused > Healthy > Progressing). This script translates that verdict and does not
-- second-guess it, except where the status cannot speak for the spec Argo CD just applied.
-- deploy/argocd/argocd-cm.yaml is generated from this file (`python -m rollout.argocd`);
-- tests/install/test_argocd_health.py runs it on statuses the engine produces.

local function health(status, message)
  return {status = status, message = message}
end

local function text(value)
  if value == nil then
    return ""
  end
  return tostring(value)
end

local meta = obj.metadata or {}
if meta.deletionTimestamp ~= nil then
  -- With a traffic router the finalizer first puts all traffic back on the stable revision.
  return health("Progressing", "Rollout is being deleted")
end

local status = obj.status
-- The controller writes observedGeneration with every status it derives from a spec. Without
-- it, or with an older one, the phase (if any) describes the previous spec: a new image must
-- not look Healthy before the controller has even seen it.
if status == nil or status.observedGeneration == nil then
  return health("Progressing", "Waiting for rollout spec update to be observed")
end
local observed = tonumber(status.observedGeneration)
local generation = tonumber(meta.generation)
if observed == nil or (generation ~= nil and observed ~= generation) then
  return health("Progressing", "Waiting for rollout spec update to be observed")
end

-- InvalidSpec (reasons InvalidSpec, WorkloadRefNotFound, RoutingObjectNotFound): the controller
-- touches nothing until the spec or the cluster is fixed.
-- The Progressing condition when it is False (reason RolloutAborted or ProgressDeadlineExceeded).
local stopped = nil
if status.conditions ~= nil then
  for _, condition in ipairs(status.conditions) do
    if condition.type == "InvalidSpec" and condition.status == "True" then
      return health("Degraded", text(condition.reason) .. ": " .. text(condition.message))
    end
    if condition.type == "Progressing" and condition.status == "False" then
      stopped = condition
    end
  end
end

local phase = status.phase
local message = text(status.message)
if phase == "Healthy" then
  -- An old revision may keep its pods for scaleDownDelaySeconds: that is the instant-rollback
  -- window, not unfinished work, so it stays Healthy (the controller's own verdict).
  return health("Healthy", message)
elseif phase == "Progressing" then
  return health("Progressing", message)
elseif phase == "Degraded" then
  -- Aborted (by a person, an analysis, a gate, the progress deadline), or the deadline passed
  -- with progressDeadlineAbort off. The reason leads, as for pauses; the message says why and
  -- how to retry.
  if stopped ~= nil and stopped.reason ~= nil then
    return health("Degraded", text(stopped.reason) .. ": " .. message)
  end
  return health("Degraded", message)
elseif phase == "Paused" then
  -- Every pause is Suspended, timed pause steps included, as with Argo Rollouts: each waits for
  -- something (a timer, a person, a gate, a fix) instead of making progress. The reasons lead
  -- the message, as in `kubectl describe`, so Argo CD's list shows why even when it cuts short.
  local reasons = {}
  if status.pauseConditions ~= nil then
    for _, pause in ipairs(status.pauseConditions) do
      table.insert(reasons, text(pause.reason))
    end
  end
  if #reasons == 0 then
    return health("Suspended", message)
  end
  return health("Suspended", table.concat(reasons, ", ") .. ": " .. message)
elseif phase == nil then
  return health("Progressing", "Waiting for the controller to set a phase")
end
-- A phase this script does not know: a newer controller. Say so rather than guess.
return health("Unknown", "unknown phase " .. text(phase) .. " (update the Argo CD health check)")
