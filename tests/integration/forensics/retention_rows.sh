#!/usr/bin/env bash
# Retention of rejected events and alerts against a real PostgreSQL:
# rejected events older than retention.rejected_days and alerts older than
# retention.alerts_days are deleted, one audit row (retention_deleted) per
# table; a held row survives a run that deletes its neighbours (an alert of
# a held incident, alerts of a held key inside the hold's range, an alert
# and rejected events inside a held time range); recent rows and every
# incident stay; --dry-run lists what would go and changes nothing; after
# the holds are released the next run removes what they kept. The audit
# chain is never dropped: its rows only grow, its first row is still there
# and `custos audit verify` (chain and signed checkpoint) holds after the
# runs.
. "$(dirname "$0")/../../lib/env.sh"

C="$CUSTOS_BIN"
t_db
export CUSTOS_AUDIT_SIGNING_KEY="$T_DIR/signing.key" CUSTOS_RETENTION_ALERTS_DAYS=90
"$C" keys init >/dev/null
# Rejected events: 5 old, 3 old inside the range to be held, 4 recent.
t_sql "INSERT INTO rejected_events (received_at, consumer_group, topic, kafka_partition, kafka_offset, reason, raw, raw_size)
       SELECT ts, 'custos', 'custos.interactions', 0, o, 'not JSON', 'x'::bytea, 1
       FROM (VALUES ('2026-01-01 00:00+00'::timestamptz, 1), ('2026-01-01 01:00+00', 2), ('2026-01-02 00:00+00', 3),
                    ('2026-01-03 00:00+00', 4), ('2026-01-04 00:00+00', 5), ('2026-01-10 01:00+00', 6),
                    ('2026-01-10 02:00+00', 7), ('2026-01-10 23:00+00', 8)) v(ts, o);
       INSERT INTO rejected_events (received_at, consumer_group, topic, kafka_partition, kafka_offset, reason, raw, raw_size)
       SELECT now() - g * interval '1 hour', 'custos', 'custos.interactions', 0, 100 + g, 'not JSON', 'y'::bytea, 1
       FROM generate_series(1, 4) g"
# Incidents (all old but inc-new) and their alerts.
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc)
       SELECT id, 'probing', 'high', k, f, f, f + interval '1 hour', 1, '{}', '{}', 's', '{}'
       FROM (VALUES ('inc-held', 'ak_1', '2026-01-05 00:00+00'::timestamptz), ('inc-free', 'ak_2', '2026-01-05 00:00+00'),
                    ('inc-key', 'ak_k', '2026-01-06 00:00+00'), ('inc-new', 'ak_3', now() - interval '1 day')) v(id, k, f)"
t_sql "INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, summary, evidence)
       SELECT inc, 'probing', 'high', ts, ev, k, 's', '{}'
       FROM (VALUES ('inc-held', '2026-01-05 00:10+00'::timestamptz, 'h1', 'ak_1'), ('inc-held', '2026-01-05 00:20+00', 'h2', 'ak_1'),
                    ('inc-held', '2026-01-05 00:30+00', 'h3', 'ak_1'),
                    ('inc-free', '2026-01-05 00:10+00', 'f1', 'ak_2'), ('inc-free', '2026-01-05 00:20+00', 'f2', 'ak_2'),
                    ('inc-free', '2026-01-05 00:30+00', 'f3', 'ak_2'), ('inc-free', '2026-01-10 12:00+00', 'f-range', 'ak_2'),
                    ('inc-key', '2026-01-06 00:10+00', 'k-in1', 'ak_k'), ('inc-key', '2026-01-06 00:20+00', 'k-in2', 'ak_k'),
                    ('inc-key', '2026-01-06 00:50+00', 'k-out', 'ak_k'),
                    ('inc-new', now() - interval '1 day', 'n1', 'ak_3'), ('inc-new', now() - interval '2 hours', 'n2', 'ak_3')) v(inc, ts, ev, k)"
"$C" hold add --incident inc-held --reason "regulator request" >/dev/null
"$C" hold add --key ak_k --since 2026-01-06T00:00:00Z --until 2026-01-06T00:30:00Z --reason "litigation" >/dev/null
"$C" hold add --since 2026-01-10T00:00:00Z --until 2026-01-11T00:00:00Z --reason "outage review" >/dev/null
"$C" audit checkpoint >/dev/null
audit_before=$(t_sql "SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) FROM audit_log")
first_hash=$(t_sql "SELECT hash FROM audit_log WHERE seq = 1")
incidents_before=$(t_sql "SELECT count(*) FROM incidents")

# ---- dry run: lists what would go, changes nothing ----
"$C" retention run --dry-run >"$T_DIR/dry.out"
cat "$T_DIR/dry.out" >&2
grep -qx "would delete 5 rejected events older than 30 days (2026-01-01T00:00:00Z .. 2026-01-04T00:00:00Z), 3 held kept" "$T_DIR/dry.out" \
    || t_fail "dry run (rejected): $(cat "$T_DIR/dry.out")"
grep -qx "would delete 4 alerts older than 90 days (2026-01-05T00:10:00Z .. 2026-01-06T00:50:00Z), 6 held kept" "$T_DIR/dry.out" \
    || t_fail "dry run (alerts): $(cat "$T_DIR/dry.out")"
grep -qx "dry run: 5 rejected events would be deleted (3 held), 4 alerts would be deleted (6 held)" "$T_DIR/dry.out" \
    || t_fail "dry run summary: $(cat "$T_DIR/dry.out")"
[ "$(t_sql "SELECT (SELECT count(*) FROM rejected_events) || ' ' || (SELECT count(*) FROM alerts)")" = "12 12" ] || t_fail "the dry run deleted rows"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event LIKE 'retention%'")" = 0 ] || t_fail "the dry run was audited"

# ---- the run: held rows survive, their neighbours go ----
"$C" retention run >"$T_DIR/run.out"
cat "$T_DIR/run.out" >&2
[ "$(t_sql "SELECT string_agg(kafka_offset::text, ',' ORDER BY kafka_offset) FROM rejected_events")" = "6,7,8,101,102,103,104" ] \
    || t_fail "rejected events left: $(t_sql "SELECT string_agg(kafka_offset::text, ',' ORDER BY kafka_offset) FROM rejected_events")"
[ "$(t_sql "SELECT string_agg(event_id, ',' ORDER BY event_id) FROM alerts")" = "f-range,h1,h2,h3,k-in1,k-in2,n1,n2" ] \
    || t_fail "alerts left: $(t_sql "SELECT string_agg(event_id, ',' ORDER BY event_id) FROM alerts")"
[ "$(t_sql "SELECT count(*) FROM incidents")" = "$incidents_before" ] || t_fail "an incident was deleted"
got=$(t_sql "SELECT string_agg((detail::jsonb->>'table') || ':' || (detail::jsonb->>'rows_deleted') || ':' || (detail::jsonb->>'rows_held') || ':' || (detail::jsonb->>'holds'), ' ' ORDER BY seq) FROM audit_log WHERE event = 'retention_deleted'")
[ "$got" = "rejected_events:5:3:[1, 2, 3] alerts:4:6:[1, 2, 3]" ] || t_fail "retention audit rows: [$got]"
"$C" retention run | grep -qx "retention: 0 rejected events deleted (3 held), 0 alerts deleted (6 held)" || t_fail "a second run deleted more"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'retention_deleted'")" = 2 ] || t_fail "a run that deleted nothing was audited"

# ---- released: the next run removes what the holds kept ----
for h in 1 2 3; do "$C" hold release $h --reason "case closed" >/dev/null; done
"$C" retention run >/dev/null
[ "$(t_sql "SELECT string_agg(kafka_offset::text, ',' ORDER BY kafka_offset) FROM rejected_events")" = "101,102,103,104" ] || t_fail "released rejected events stayed"
[ "$(t_sql "SELECT string_agg(event_id, ',' ORDER BY event_id) FROM alerts")" = "n1,n2" ] || t_fail "released alerts stayed"
[ "$(t_sql "SELECT count(*) FROM incidents")" = "$incidents_before" ] || t_fail "an incident was deleted"

# ---- the audit chain is never dropped ----
audit_after=$(t_sql "SELECT count(*) || ' ' || min(seq) || ' ' || max(seq) FROM audit_log")
read -r n0 lo0 hi0 <<<"$audit_before"
read -r n1 lo1 hi1 <<<"$audit_after"
# 3 releases and 4 retention rows were appended; nothing was removed.
[ "$lo1" = "$lo0" ] && [ "$n1" = $((n0 + 7)) ] && [ "$hi1" = $((hi0 + 7)) ] || t_fail "audit rows before [$audit_before], after [$audit_after]"
[ "$(t_sql "SELECT hash FROM audit_log WHERE seq = 1")" = "$first_hash" ] || t_fail "the first audit row changed"
"$C" audit verify >"$T_DIR/verify.out" || t_fail "the audit chain does not verify: $(cat "$T_DIR/verify.out")"
# ... and cannot be: the table refuses a DELETE of its rows.
set +e
t_sql "DELETE FROM audit_log WHERE seq = 1" >/dev/null 2>"$T_DIR/err.txt"; rc=$?
set -e
[ "$rc" != 0 ] && [ "$(t_sql "SELECT count(*) FROM audit_log WHERE seq = 1")" = 1 ] || t_fail "an audit row could be deleted: $(cat "$T_DIR/err.txt")"
# Settings are checked: a negative number of days stops start-up naming the key.
set +e
CUSTOS_RETENTION_REJECTED_DAYS=-1 "$C" retention run --dry-run >/dev/null 2>"$T_DIR/err.txt"; rc=$?
set -e
[ "$rc" != 0 ] && grep -q "CUSTOS_RETENTION_REJECTED_DAYS" "$T_DIR/err.txt" || t_fail "a bad rejected_days: rc $rc, $(cat "$T_DIR/err.txt")"
t_log "ok: 5 rejected events and 4 alerts deleted, 3 and 6 held kept until released; audit chain intact ($audit_before -> $audit_after)"
