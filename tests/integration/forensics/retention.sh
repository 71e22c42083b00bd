#!/usr/bin/env bash
# Retention with legal holds against a real PostgreSQL: daily partitions
# past retention.interactions_days are dropped whole, each drop an audit
# row; a held row survives a run that drops its neighbours (the other rows
# of its day, and the whole days around it), and stays queryable in
# interactions; a dry run changes nothing; releasing needs a reason and is
# audited, after which the next run removes the rows it kept. Recent days
# are never touched. Also `custos run` applies the retention by itself.
. "$(dirname "$0")/../../lib/env.sh"

C="$CUSTOS_BIN"
t_db
# Three old days (300 rows each, 2026-01-01..03) and today's traffic.
t_sql "SELECT custos_ensure_partitions('2026-01-01', 3)" >/dev/null
t_sql "INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, prompt)
       SELECT date '2026-01-01' + d * interval '1 day' + g * interval '1 min', 'old-' || d || '-' || g,
              'ak_' || (g % 30), 'm', 'v', 'p' FROM generate_series(0, 2) d, generate_series(1, 300) g;
       INSERT INTO interactions (ts, event_id, api_key_id, model, model_version)
       SELECT now() - g * interval '1 s', 'new-' || g, 'ak_1', 'm', 'v' FROM generate_series(1, 50) g"
# One incident on 2026-01-02 whose key's events over its span are held.
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
       last_seen, alerts, atlas, owasp, summary, doc) VALUES ('inc-held', 'probing', 'high', 'ak_7',
       '2026-01-02 01:00+00', '2026-01-02 02:00+00', '2026-01-02 03:00+00', 1, '{}', '{}', 's', '{}')"
want_held=$(t_sql "SELECT count(*) FROM interactions WHERE api_key_id = 'ak_7' AND ts BETWEEN '2026-01-02 01:00+00' AND '2026-01-02 03:00+00'")
[ "$want_held" -gt 0 ] || t_fail "the fixture holds nothing"
t_sql "SELECT event_id FROM interactions WHERE api_key_id = 'ak_7' AND ts BETWEEN '2026-01-02 01:00+00' AND '2026-01-02 03:00+00' ORDER BY 1" >"$T_DIR/held_before.txt"

set +e
"$C" hold add --incident inc-held >/dev/null 2>"$T_DIR/err.txt"; rc=$?
"$C" hold add --incident inc-nope --reason x >/dev/null 2>>"$T_DIR/err.txt"; rc2=$?
set -e
[ "$rc" = 2 ] && [ "$rc2" = 1 ] && grep -q "no incident inc-nope" "$T_DIR/err.txt" || t_fail "bad holds: rc $rc $rc2, $(cat "$T_DIR/err.txt")"
"$C" hold add --incident inc-held --reason "regulator request 2026-17" | grep -q "hold 1 placed" || t_fail "hold add"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'legal_hold_placed' AND incident_id = 'inc-held' AND detail::jsonb->>'reason' = 'regulator request 2026-17'")" = 1 ] \
    || t_fail "the hold is not audited"

# Dry run: says what would go, changes nothing.
before=$(t_sql "SELECT count(*) FROM interactions")
"$C" retention run --dry-run >"$T_DIR/dry.out"
grep -q "would drop interactions_20260102 (2026-01-02): $((300 - want_held)) rows dropped, $want_held held rows kept" "$T_DIR/dry.out" \
    || t_fail "dry run said: $(cat "$T_DIR/dry.out")"
[ "$(t_sql "SELECT count(*) FROM interactions")" = "$before" ] || t_fail "the dry run changed interactions"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event LIKE 'retention%'")" = 0 ] || t_fail "the dry run was audited as a drop"

"$C" retention run >"$T_DIR/run.out"
cat "$T_DIR/run.out" >&2
# The old days' partitions are gone, today's is there, the held rows stay.
[ "$(t_sql "SELECT count(*) FROM pg_class WHERE relname IN ('interactions_20260101', 'interactions_20260102', 'interactions_20260103')")" = 0 ] \
    || t_fail "an old partition was not dropped"
[ "$(t_sql "SELECT count(*) FROM interactions WHERE event_id LIKE 'new-%'")" = 50 ] || t_fail "recent rows were dropped"
t_sql "SELECT event_id FROM interactions WHERE event_id LIKE 'old-%' ORDER BY 1" >"$T_DIR/held_after.txt"
diff "$T_DIR/held_before.txt" "$T_DIR/held_after.txt" >/dev/null || t_fail "the old rows left are not exactly the held ones: $(diff "$T_DIR/held_before.txt" "$T_DIR/held_after.txt" | head -5)"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'retention_dropped'")" = 3 ] || t_fail "not one audit row per drop"
got=$(t_sql "SELECT (detail::jsonb->>'rows_dropped') || ' ' || (detail::jsonb->>'rows_held') || ' ' || (detail::jsonb->>'holds') FROM audit_log WHERE event = 'retention_dropped' AND detail::jsonb->>'day' = '2026-01-02'")
[ "$got" = "$((300 - want_held)) $want_held [1]" ] || t_fail "the drop's audit row: $got"
# A second run finds nothing more to drop: the held rows stay.
"$C" retention run | grep -q "^retention: 0 partitions" || t_fail "a second run dropped something"
[ "$(t_sql "SELECT count(*) FROM interactions WHERE event_id LIKE 'old-%'")" = "$want_held" ] || t_fail "held rows went on the second run"

# Release: a reason required, audited; then the next run removes the rows.
set +e
"$C" hold release 1 >/dev/null 2>"$T_DIR/err.txt"; rc=$?
"$C" hold release 99 --reason x >/dev/null 2>>"$T_DIR/err.txt"; rc2=$?
set -e
[ "$rc" = 2 ] && [ "$rc2" = 1 ] && grep -q "no active hold 99" "$T_DIR/err.txt" || t_fail "bad releases: rc $rc $rc2"
"$C" hold release 1 --reason "case closed" >/dev/null
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'legal_hold_released' AND detail::jsonb->>'reason' = 'case closed'")" = 1 ] || t_fail "release not audited"
"$C" hold list | grep -q "released by cli:" || t_fail "the released hold is not listed"

# custos run applies the retention by itself, one interval (2 s here)
# after it starts.
t_broker 1
CUSTOS_COLLECTOR_ANALYTICS=off CUSTOS_WEB_ENABLED=off CUSTOS_RETENTION_INTERVAL_MS=2s t_start run "$C" run
t_wait_sql "SELECT count(*) FROM interactions WHERE event_id LIKE 'old-%'" 0 60
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'retention_deleted' AND actor = 'system' AND detail::jsonb->>'rows_deleted' = '$want_held'" 1 60
kill -TERM "$T_LAST_PID"; wait "$T_LAST_PID" || t_fail "custos run exited $?"
[ "$(t_sql "SELECT count(*) FROM interactions WHERE event_id LIKE 'new-%'")" = 50 ] || t_fail "recent rows were dropped by custos run"
"$C" audit verify >/dev/null || t_fail "the audit chain does not verify"
t_log "ok: 3 old days dropped, $want_held held rows kept and later released, recent rows untouched"
