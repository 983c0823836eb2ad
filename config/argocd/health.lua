-- Argo CD health check for eip-operator.dev/ElasticIP (the same rules as kstatus, which Flux uses):
--   being deleted                               -> Progressing (the operator unbinds, then releases)
--   no status yet, or status of an older spec   -> Progressing
--   Stalled=True                                -> Degraded (a human must act: the condition says how)
--   Reconciling=True                            -> Progressing (waiting for the cloud)
--   Ready=True for the current generation       -> Healthy
--   anything else                               -> Progressing
local hs = {}

local function condition(conditions, conditionType)
  if conditions == nil then
    return nil
  end
  for _, c in ipairs(conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function describe(c, fallback)
  if c ~= nil and c.message ~= nil and c.message ~= "" then
    return c.message
  end
  if c ~= nil and c.reason ~= nil and c.reason ~= "" then
    return c.reason
  end
  return fallback
end

local generation = nil
if obj.metadata ~= nil then
  generation = obj.metadata.generation
end
local status = obj.status
local conditions = nil
if status ~= nil then
  conditions = status.conditions
end
local stalled = condition(conditions, "Stalled")

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Deleting: the operator unbinds the address, then releases it"
  if stalled ~= nil and stalled.status == "True" then
    hs.message = "Deleting, blocked: " .. describe(stalled, "stalled")
  end
  return hs
end

if status == nil or conditions == nil or #conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to report status"
  return hs
end

if generation ~= nil and status.observedGeneration ~= generation then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled, "Stalled")
  return hs
end

local reconciling = condition(conditions, "Reconciling")
if reconciling ~= nil and reconciling.status == "True" then
  hs.status = "Progressing"
  hs.message = describe(reconciling, "Reconciling")
  return hs
end

local ready = condition(conditions, "Ready")
if ready ~= nil and ready.status == "True" and (ready.observedGeneration == nil or generation == nil or ready.observedGeneration == generation) then
  hs.status = "Healthy"
  hs.message = describe(ready, "Ready")
  return hs
end

hs.status = "Progressing"
hs.message = describe(ready, "Waiting for the ElasticIP to become Ready")
return hs
