#!/usr/bin/env bash
# The in-flight cap and the writers' pacing:
#  (a) at collector.max_inflight_bytes the collector holds (takes no message
#      while the writers make room; librdkafka keeps its prefetch) and does
#      not pause while collector.inflight_hold_ms has not passed; nothing is
#      lost or doubled;
#  (b) held past collector.inflight_hold_ms it pauses the partitions, and
#      resumes by itself once the writers made room; nothing lost or doubled;
#  (c) an idle writer does not wait for collector.batch_max_ms: open batches
#      go to it once collector.batch_min_ms old.
#
# The writers are held back for real: another session holds a SHARE lock on
# interactions (each COPY waits for it) until the test lets go. The cap is
# 1 MiB (the smallest allowed): a few hundred events in flight reach it.
# Every wait is on a condition with a deadline.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

TOPIC=custos.interactions
PARTS=4
export CUSTOS_COLLECTOR_ANALYTICS=off CUSTOS_KAFKA_GROUP=hold
export CUSTOS_COLLECTOR_MAX_INFLIGHT_BYTES=1MiB

t_db
t_broker "$PARTS" "$TOPIC"
t_gen "$T_DIR/all.jsonl" 6000 47
head -n 3000 "$T_DIR/all.jsonl" >"$T_DIR/a.jsonl"
tail -n 3000 "$T_DIR/all.jsonl" >"$T_DIR/b.jsonl"
t_gen "$T_DIR/c.jsonl" 20 48

# lock_table / unlock_table: a session holding a SHARE lock on interactions
# (the collector's COPY needs ROW EXCLUSIVE) from lock_table to unlock_table.
lock_table() {
    rm -f "$T_DIR/lock.fifo"
    mkfifo "$T_DIR/lock.fifo"
    psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$T_DSN" <"$T_DIR/lock.fifo" >"$T_DIR/lock.out" 2>&1 &
    LOCK_PID=$!
    T_PIDS+=("$LOCK_PID")
    exec 7>"$T_DIR/lock.fifo"
    echo "BEGIN; LOCK TABLE interactions IN SHARE MODE; SELECT 'locked';" >&7
    t_wait_log "$T_DIR/lock.out" '^locked$' 60 "$LOCK_PID"
}
unlock_table() {
    echo "COMMIT;" >&7
    exec 7>&-
    wait "$LOCK_PID" || t_fail "the locking session failed: $(cat "$T_DIR/lock.out")"
}
produce() {
    "$CUSTOS_BIN" produce --rate 0 --topic "$TOPIC" "$1" 2>"$T_DIR/produce.log" ||
        t_fail "producer failed: $(tail -n 3 "$T_DIR/produce.log")"
}

# ---- (a) held, not paused ------------------------------------------------------

t_start_collector run1 CUSTOS_COLLECTOR_INFLIGHT_HOLD_MS=120s
C=$T_LAST_PID
t_wait_log "$T_DIR/run1.log" 'msg="partition assigned"' 60 "$C"
lock_table
produce "$T_DIR/a.jsonl"
# the stats line (every 10 s) counts the holds
t_wait_log "$T_DIR/run1.log" 'msg="stats".* holds=[1-9]' 90 "$C"
[ "$(t_count)" = 0 ] || t_fail "rows stored while interactions was locked"
if grep -q 'consumption paused' "$T_DIR/run1.log"; then
    t_fail "paused although inflight_hold_ms (120 s) had not passed: $(grep 'consumption paused' "$T_DIR/run1.log")"
fi
t_log "held at the cap: $(grep 'msg="stats"' "$T_DIR/run1.log" | tail -n1 | grep -oE 'inflight_bytes=[0-9]+ .*holds=[0-9]+ pauses=[0-9]+')"
unlock_table
t_wait_count 3000 60
t_check_exactly_once "$T_DIR/a.jsonl"
t_stop_collector "$C"
stats=$(grep 'msg="collector stopped"' "$T_DIR/run1.log")
grep -qE ' holds=[1-9][0-9]* pauses=0 ' <<<"$stats" || t_fail "want holds > 0 and no pause: $stats"

# ---- (b) held too long: paused, then resumed ---------------------------------------

t_start_collector run2 CUSTOS_COLLECTOR_INFLIGHT_HOLD_MS=300ms
C=$T_LAST_PID
t_wait_log "$T_DIR/run2.log" 'msg="partition assigned"' 60 "$C"
lock_table
produce "$T_DIR/b.jsonl"
t_wait_log "$T_DIR/run2.log" 'msg="consumption paused: in-flight cap reached"' 90 "$C"
unlock_table
t_wait_count 6000 60
t_wait_log "$T_DIR/run2.log" 'msg="consumption resumed"' 60 "$C"
t_check_exactly_once "$T_DIR/all.jsonl"
t_check_offsets "$TOPIC" "$PARTS"
gaps=$(t_sql "SELECT count(*) FROM ingest_gaps")
[ "$gaps" = 0 ] || t_fail "$gaps offset gaps recorded"
t_stop_collector "$C"

# ---- (c) an idle writer takes batches from batch_min_ms ---------------------------

# batch_max_ms at its largest (60 s): the events must not wait for it
t_start_collector run3 CUSTOS_COLLECTOR_BATCH_MAX_MS=60s
C=$T_LAST_PID
t_wait_log "$T_DIR/run3.log" 'msg="partition assigned"' 60 "$C"
s0=$SECONDS
produce "$T_DIR/c.jsonl"
t_wait_sql "SELECT count(*) FROM interactions" 6020 40
t_log "20 events stored $((SECONDS - s0))s after they were sent (batch_max_ms 60 s)"
t_stop_collector "$C"
t_check_exactly_once "$T_DIR/all.jsonl" "$T_DIR/c.jsonl"
t_log "ok"
