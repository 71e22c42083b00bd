-- params: prompt_sha256, since, until
-- Every key that sent a given prompt (by the SHA-256 of its text, as the
-- forensic queries show it), with how often and when, between two times.
SELECT i.api_key_id, count(*) AS times, min(i.ts) AS first, max(i.ts) AS last,
       array_agg(DISTINCT i.tenant) FILTER (WHERE i.tenant IS NOT NULL) AS tenants
FROM interactions i
WHERE i.ts >= $2::timestamptz AND i.ts < $3::timestamptz
  AND $3::timestamptz - $2::timestamptz <= interval '366 days'
  AND encode(sha256(convert_to(i.prompt, 'UTF8')), 'hex') = lower($1)
GROUP BY i.api_key_id
ORDER BY times DESC, i.api_key_id
