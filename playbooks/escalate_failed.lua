-- An action failed after its retries (a gateway down, a rollback target
-- missing): escalate the incident and tell the humans.
return {
  name = "escalate-failed-action",
  description = "escalate when an action fails",
  on = { types = "*", events = { "action_failed" } },
  run = function(incident)
    local f = incident.failed_action
    custos.set_incident({
      status = "escalated",
      severity = "critical",
      note = string.format("action %d (%s) failed: %s", f.action_id, f.kind, f.error),
    })
    custos.notify("webhook", {
      text = string.format("ESCALATED %s: action %d (%s on %s) failed: %s", incident.id,
        f.action_id, f.kind, f.subject or "?", f.error),
      incident_id = incident.id,
      failed_action = f,
    })
  end,
}
