-- Model extraction at high severity: the key is being used to copy the
-- model. Revoke it at once and mark the incident contained. A human
-- restores the key (custos.restore_key or the registry) after review.
return {
  name = "revoke-extraction",
  description = "revoke the key on high-severity extraction",
  on = { types = { "extraction" }, min_severity = "high" },
  when = function(incident)
    return incident.subject.api_key_id ~= nil
  end,
  run = function(incident)
    local key = incident.subject.api_key_id
    local info = custos.key_info(key)
    if info ~= nil and info.status == "revoked" then
      return -- already contained; later updates of the incident change nothing
    end
    -- The reason names the incident, not its changing summary, so that every
    -- update of one incident is the same (idempotent) action.
    local id, state = custos.revoke_key(key, {
      reason = "model extraction, incident " .. incident.id,
    })
    custos.log("info", "revoke of " .. key .. " is action " .. id .. " (" .. state .. ")")
    custos.set_incident({ status = "contained", note = "key " .. key .. " revoked (action " .. id .. ")" })
  end,
}
