#!/usr/bin/env bash
# A playbook run that no sandbox limit can end: its host call
# (custos.key_info) waits on a PostgreSQL lock that another session holds.
# The daemon (`custos playbook serve`, the same pb_live as `custos run`)
# must log and count the run once it overstays its deadline by the margin,
# stop feeding that worker, keep acting on later incidents through a
# replacement worker, and still end on SIGTERM within the grace period,
# with exit status 4 (a run was abandoned), while the run is still stuck.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
# deadline 300 ms: abandoned after 300 ms + the 1 s minimum margin
export CUSTOS_EFFECTORS_CONTROL=off CUSTOS_PLAYBOOKS_TICK_MS=200 CUSTOS_LOG_ERROR_INTERVAL_MS=0
export CUSTOS_SECURITY_LUA_DEADLINE_MS=300 CUSTOS_COLLECTOR_SHUTDOWN_GRACE_MS=3000
pbdir=$T_DIR/pb; mkdir -p "$pbdir"; export CUSTOS_PLAYBOOKS_DIR=$pbdir
cat >"$pbdir/stuck.lua" <<'LUA'
return { name = "stuck", on = { types = { "probing" } }, run = function(incident)
  custos.key_info(incident.subject.api_key_id)
end }
LUA
cat >"$pbdir/note.lua" <<'LUA'
return { name = "note", on = { types = { "extraction" } }, run = function(incident)
  custos.set_incident({ note = "handled after the stuck run" })
end }
LUA

# Another session takes api_keys and keeps it.
psql -X -q -d "$T_DSN" -c "BEGIN; LOCK TABLE api_keys IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(600);" \
    >"$T_DIR/locker.out" 2>&1 &
T_PIDS+=("$!")
t_wait_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
            WHERE c.relname = 'api_keys' AND l.mode = 'AccessExclusiveLock' AND l.granted" 1 20

mkfifo "$T_DIR/in"
exec 3<>"$T_DIR/in"
"$B" playbook serve --log-level info <&3 >"$T_DIR/serve.out" 2>"$T_DIR/serve.log" &
SERVE=$!
T_PIDS+=("$SERVE")
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" 1 20

# the run that hangs in C
pb_incident "$PB_DATA/probing_medium.json" inc-stuck-1 key-stuck-1 >&3
t_wait_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
            AND wait_event_type = 'Lock' AND query LIKE '%FROM api_keys WHERE key_id%'" 1 20
deadline=$((SECONDS + 20))
until grep -q 'msg="playbook run overstayed its deadline, its worker is abandoned" playbook="stuck" incident="inc-stuck-1"' \
    "$T_DIR/serve.log"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
        # what the server and the daemon's threads were doing, for the record
        t_sql "SELECT pid, state, wait_event_type, wait_event, left(query, 120) FROM pg_stat_activity
               WHERE datname = current_database()" >&2 || true
        grep -E '^(Name|State)|^Threads' "/proc/$SERVE/status" >&2 2>/dev/null || true
        t_fail "the stuck run was not reported: $(tail -n 5 "$T_DIR/serve.log")"
    fi
    sleep 0.2
done
t_log "ok: the overstaying run is logged"
# the replacement loads the playbooks (audited) and acts on the next incident
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" 2 20
pb_incident "$PB_DATA/extraction_high.json" inc-after-1 key-after-1 >&3
t_wait_sql "SELECT state FROM actions WHERE incident_id = 'inc-after-1' AND kind = 'set_incident'" done 20
pb_expect "the stuck incident got no action" \
    "$(t_sql "SELECT count(*) FROM actions WHERE incident_id = 'inc-stuck-1'")" 0
t_log "ok: a later incident acted through the replacement worker"

# SIGTERM: out within the grace period (3 s; 15 s allowed for a loaded
# machine), status 4, while the run is still stuck on the lock
kill -TERM "$SERVE"
deadline=$((SECONDS + 15))
while kill -0 "$SERVE" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "serve did not stop on SIGTERM: $(tail -n 5 "$T_DIR/serve.log")"
    sleep 0.1
done
set +e; wait "$SERVE"; rc=$?; set -e
pb_expect "exit status of a stop with an abandoned run" "$rc" 4
pb_expect "the run was still stuck" \
    "$(t_sql "SELECT count(*) FROM pg_locks l JOIN pg_class c ON c.oid = l.relation
              WHERE c.relname = 'api_keys' AND l.mode = 'AccessExclusiveLock' AND l.granted")" 1
grep -q 'msg="playbooks stopped".* abandoned=1' "$T_DIR/serve.log" ||
    t_fail "the stop summary does not count the abandoned run: $(grep 'playbooks stopped' "$T_DIR/serve.log")"
grep -q 'msg="exiting with an abandoned playbook run" exit_status=4' "$T_DIR/serve.log" ||
    t_fail "no exit line: $(tail -n 3 "$T_DIR/serve.log")"
t_log "PASS"
