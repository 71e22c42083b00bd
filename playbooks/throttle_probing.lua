-- Repeated probing (jailbreak and prompt-injection attempts): the first
-- time, slow the key down for an hour; when the incident comes back (more
-- alerts) or the key is already throttled, revoke it.
return {
  name = "throttle-then-revoke-probing",
  description = "throttle, then revoke, on repeated probing",
  on = { types = { "probing" }, min_severity = "medium" },
  when = function(incident)
    return incident.subject.api_key_id ~= nil
  end,
  run = function(incident)
    local key = incident.subject.api_key_id
    local info = custos.key_info(key)
    local throttled = info ~= nil and info.throttle_rps ~= nil
    if info ~= nil and info.status == "revoked" then
      return -- already contained; later updates of the incident change nothing
    end
    if incident.counts.deliveries >= 2 or throttled then
      -- The reason names the incident, not its changing summary, so that
      -- every update of one incident is the same (idempotent) action.
      custos.revoke_key(key, { reason = "repeated probing, incident " .. incident.id })
      custos.set_incident({ status = "contained", note = "probing continued: key revoked" })
    else
      custos.throttle_key(key, { rps = 1, ttl = 3600 })
      custos.set_incident({ note = "key throttled to 1 request/s for an hour" })
    end
  end,
}
