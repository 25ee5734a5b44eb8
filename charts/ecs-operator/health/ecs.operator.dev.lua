-- Argo CD health check for every ecs.operator.dev kind (EcrRepository, TaskDefinition, EcsCluster,
-- EcsService, EcsTask, EcsSchedule, EcrRegistry, EcsExpressService, EcsGateway). Argo CD runs it
-- with gopher-lua (Lua 5.1); `obj` is the live object.
-- Healthy: the latest generation is reconciled and Ready. Degraded: Stalled (a terminal error,
-- a missing permission or credential, a failed rollout or task run). Progressing: anything else (a
-- task still running included).
local hs = {status = "Progressing", message = "waiting for the operator to reconcile"}
if obj.status == nil or obj.status.conditions == nil then
  return hs
end
local function condition(type)
  for _, c in ipairs(obj.status.conditions) do
    if c.type == type then
      return c
    end
  end
  return nil
end
local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    text = text .. ": " .. c.message
  end
  return text
end
local generation = obj.metadata.generation
if generation ~= nil and obj.status.observedGeneration ~= generation then
  local reconciling = condition("Reconciling")
  if reconciling ~= nil and reconciling.status == "True" then
    hs.message = describe(reconciling)
  else
    hs.message = "generation " .. generation .. " is not reconciled yet"
  end
  return hs
end
local stalled = condition("Stalled")
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
local reconciling = condition("Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
  return hs
end
local ready = condition("Ready")
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
elseif ready ~= nil then
  hs.message = describe(ready)
end
return hs
