local k = incident.subject.api_key_id
custos.revoke_key(k, { reason = "r", ttl = 60 })
custos.throttle_key(k, { rps = 2 })
custos.notify("webhook", { text = incident.summary, n = incident.counts.queries })
custos.set_incident({ status = "contained", note = "a\nb" })
custos.log("info", ("x"):rep(10))
local info = custos.key_info(k)
for w in ("a b c"):gmatch("%a") do custos.log("debug", w) end
