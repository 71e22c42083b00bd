-- params: incident_id, margin
-- Everything an incident's key did around it: the key's interactions from
-- margin (an interval: '1 hour', '30 minutes') before the incident's first
-- event to margin after its last, content masked (length and SHA-256).
SELECT i.ts, i.event_id, i.api_key_id, i.model, i.model_version, i.tenant, i.user_id,
       i.session_id, host(i.client_ip) AS client_ip, length(i.prompt) AS prompt_chars,
       encode(sha256(convert_to(i.prompt, 'UTF8')), 'hex') AS prompt_sha256,
       length(i.response) AS response_chars, i.status, i.finish_reason, i.refusal,
       EXISTS (SELECT 1 FROM incident_events ie WHERE ie.incident_id = n.incident_id
               AND ie.event_id = i.event_id AND ie.ts = i.ts) AS evidence
FROM incidents n
JOIN interactions i ON i.api_key_id = n.api_key_id
 AND i.ts >= n.first_seen - $2::interval AND i.ts <= n.last_seen + $2::interval
WHERE n.incident_id = $1 AND $2::interval <= interval '31 days'
ORDER BY i.ts, i.event_id COLLATE "C"
