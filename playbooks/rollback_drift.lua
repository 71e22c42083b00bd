-- Severe drift of a model version: propose a rollback to the previous
-- version. The drift detector raises medium (largest PSI >= 0.2) or high
-- (>= 0.5), never critical, so this listens from high: a version whose
-- behaviour moved a long way. A rollback always waits for a human
-- (approval = "required", and the global policy playbooks.approval_kinds
-- says so too); the evidence is frozen before it runs.
return {
  name = "rollback-drift",
  description = "roll back the model version on high drift (approval required)",
  on = { types = { "drift" }, min_severity = "high" },
  when = function(incident)
    return incident.subject.model ~= nil and incident.subject.model_version ~= nil
  end,
  run = function(incident)
    custos.rollback_model(incident.subject.model, {
      from = incident.subject.model_version,
      to = "previous",
      approval = "required",
    })
    custos.set_incident({ note = "rollback of " .. incident.subject.model .. " "
      .. incident.subject.model_version .. " proposed, waiting for approval" })
  end,
}
