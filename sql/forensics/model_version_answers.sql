-- params: model, version, since, until
-- What a model version answered between two times: each answer's length,
-- SHA-256, tokens, finish reason and refusal, content masked.
SELECT i.ts, i.event_id, i.api_key_id, i.tenant, length(i.response) AS response_chars,
       encode(sha256(convert_to(i.response, 'UTF8')), 'hex') AS response_sha256,
       i.completion_tokens, i.latency_ms, i.status, i.finish_reason, i.refusal, i.scores
FROM interactions i
WHERE i.model = $1 AND i.model_version = $2
  AND i.ts >= $3::timestamptz AND i.ts < $4::timestamptz
  AND $4::timestamptz - $3::timestamptz <= interval '31 days'
ORDER BY i.ts, i.event_id COLLATE "C"
