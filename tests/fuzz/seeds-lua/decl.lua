return { name = "decl", on = { types = { "extraction", "probing" }, min_severity = "medium",
  events = { "opened" } }, approval = "required", dry_run = true,
  when = function(incident) return incident.severity == "high" end,
  run = function(incident) custos.rollback_model(incident.subject.model, { to = "previous" }) end }
