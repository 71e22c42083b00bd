-- Every new incident, whatever its type and severity, goes to the
-- notification webhook (effectors.webhook_url; nothing is sent without one).
return {
  name = "notify-new",
  description = "notify on every new incident",
  on = { types = "*", events = { "opened" } },
  run = function(incident)
    custos.notify("webhook", {
      text = string.format("[%s] %s incident %s: %s", incident.severity, incident.type,
        incident.id, incident.summary or ""),
      incident_id = incident.id,
      type = incident.type,
      severity = incident.severity,
      subject = incident.subject,
      atlas = incident.atlas,
      owasp = incident.owasp,
    })
  end,
}
