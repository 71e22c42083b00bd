#!/usr/bin/env bash
# The live playbooks' queue (pb_live on core_queue) never blocks whoever
# delivers: with its worker held in a run (custos.key_info waiting on a
# lock another session holds) and playbooks.queue_max = 3, ten more
# incidents give three queued and seven dropped, each drop logged and
# counted; once the lock goes, the three queued ones are handled in order
# and the stop summary counts the seven.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
# deadline 20 s: the held run is never abandoned while the test fills the queue
export CUSTOS_EFFECTORS_CONTROL=off CUSTOS_PLAYBOOKS_TICK_MS=200 CUSTOS_LOG_ERROR_INTERVAL_MS=0
export CUSTOS_SECURITY_LUA_DEADLINE_MS=20000 CUSTOS_PLAYBOOKS_QUEUE_MAX=3
pbdir=$T_DIR/pb; mkdir -p "$pbdir"; export CUSTOS_PLAYBOOKS_DIR=$pbdir
cat >"$pbdir/held.lua" <<'LUA'
return { name = "held", on = { types = { "probing" } }, run = function(incident)
  custos.key_info(incident.subject.api_key_id)
end }
LUA
cat >"$pbdir/note.lua" <<'LUA'
return { name = "note", on = { types = { "extraction" } }, run = function(incident)
  custos.set_incident({ note = "queued, then handled" })
end }
LUA

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

# the worker takes this one and waits on the lock
pb_incident "$PB_DATA/probing_medium.json" inc-held key-held >&3
t_wait_sql "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
            AND wait_event_type = 'Lock' AND query LIKE '%FROM api_keys WHERE key_id%'" 1 20
for i in $(seq 1 10); do
    pb_incident "$PB_DATA/extraction_high.json" "inc-q-$i" "key-q-$i" >&3
done
deadline=$((SECONDS + 20))
until [ "$(grep -c 'msg="incident queue full, incident dropped"' "$T_DIR/serve.log")" -ge 7 ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "drops not logged: $(grep -c 'queue full' "$T_DIR/serve.log")"
    sleep 0.1
done
sleep 0.5 # nothing more may be dropped
pb_expect "drops logged" "$(grep -c 'msg="incident queue full, incident dropped"' "$T_DIR/serve.log")" 7
grep -q 'msg="incident queue full, incident dropped" dropped_total=7 queue_max=3' "$T_DIR/serve.log" ||
    t_fail "the last drop does not count seven: $(grep 'queue full' "$T_DIR/serve.log" | tail -n 1)"
t_log "ok: a full queue drops at once, logged and counted"

# the lock goes: the held run ends, the three queued incidents are handled
# (this test's database only: stuck_run.sh holds the same lock in its own,
# and may run at the same time under ctest -j)
t_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
       WHERE datname = current_database() AND query LIKE 'BEGIN; LOCK TABLE api_keys%'
       AND pid <> pg_backend_pid()" >/dev/null
t_wait_sql "SELECT count(*) FROM actions WHERE kind = 'set_incident' AND state = 'done'" 3 20
pb_expect "the queued ones, in order" \
    "$(t_sql "SELECT string_agg(incident_id, ',' ORDER BY id) FROM actions WHERE kind = 'set_incident'")" \
    "inc-q-1,inc-q-2,inc-q-3"

kill -TERM "$SERVE"
deadline=$((SECONDS + 15))
while kill -0 "$SERVE" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "serve did not stop on SIGTERM"
    sleep 0.1
done
set +e; wait "$SERVE"; rc=$?; set -e
pb_expect "exit status" "$rc" 0
grep -q 'msg="playbooks stopped".* dropped=7 abandoned=0' "$T_DIR/serve.log" ||
    t_fail "the stop summary does not count the drops: $(grep 'playbooks stopped' "$T_DIR/serve.log")"
t_log "PASS"
