-- Probing (jailbreak and prompt-injection attempts): on the first delivery
-- of the incident, slow the key down for an hour; when the incident comes
-- back (a later delivery: more attempts) and the probing is repeated
-- (medium or above, 3 attempts in the hour), or the key is already
-- throttled, revoke it.
--
-- It listens from low severity on purpose: the analytics open a probing
-- incident at low (one attempt) and deliver it again each time its
-- severity rises. Listening from medium, the first delivery this playbook
-- saw was already the incident's second (counts.deliveries = 2), so it
-- revoked at once and never throttled.
local rank = { low = 1, medium = 2, high = 3, critical = 4 }

return {
  name = "throttle-then-revoke-probing",
  description = "throttle on the first probing delivery, revoke when it comes back",
  on = { types = { "probing" }, min_severity = "low" },
  when = function(incident)
    return incident.subject.api_key_id ~= nil
  end,
  run = function(incident)
    local key = incident.subject.api_key_id
    local info = custos.key_info(key)
    if info ~= nil and info.status == "revoked" then
      return -- already contained; later updates of the incident change nothing
    end
    local throttled = info ~= nil and info.throttle_rps ~= nil
    local again = incident.counts.deliveries >= 2 or throttled
    -- The reasons name the incident, not its changing summary or severity,
    -- so that every delivery of one incident asks for the same (idempotent)
    -- action.
    if again and rank[incident.severity] >= rank.medium then
      custos.revoke_key(key, { reason = "repeated probing, incident " .. incident.id })
      custos.set_incident({ status = "contained", note = "probing continued: key revoked" })
    elseif not throttled then
      custos.throttle_key(key, { rps = 1, ttl = 3600, reason = "probing, incident " .. incident.id })
      custos.set_incident({ note = "key throttled to 1 request/s for an hour" })
    end
  end,
}
