-- params: since, until
-- Who approved or rejected what: every decision on a containment action in
-- the audit chain between two times, with the action and its incident.
SELECT l.seq, l.ts, l.actor, l.event, l.action_id, a.kind, a.subject, l.incident_id,
       a.decision_reason, l.hash
FROM audit_log l
LEFT JOIN actions a ON a.id = l.action_id
WHERE l.event IN ('approved', 'rejected') AND l.action_id IS NOT NULL
  AND l.ts >= $1::timestamptz AND l.ts < $2::timestamptz
ORDER BY l.seq
