#!/usr/bin/env bash
# Fault (d): two collectors in one consumer group share the partitions; one
# is SIGKILLed mid-stream. After the dead member's session times out the
# other takes its partitions over (it holds all of them afterwards) and every
# event is stored exactly once: nothing lost, nothing doubled.
#
# Pacing: the dead member's partitions wait for the session timeout plus a
# rebalance (~12 s); the busiest partition gets ~20 % of the traffic and the
# mock keeps ~5 MiB a partition, hence 1000 events/s (~3 MB of backlog).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"
. "$(dirname "$0")/../lib/faults.sh"

N=${TWO_COLLECTORS_EVENTS:-45000}
RATE=${TWO_COLLECTORS_RATE:-1000}
KILL_AT=20
PARTS=16
export CUSTOS_KAFKA_SESSION_TIMEOUT_MS=6000ms CUSTOS_KAFKA_GROUP=custos-pair

t_fault_setup "$PARTS" "$N" 17
t_fault_collector a
A=$T_LAST_PID
t_fault_collector b
B=$T_LAST_PID
# Wait for the split to settle: disjoint, together all partitions.
t_wait_split "$T_DIR/a.log" "$T_DIR/b.log" "$PARTS"

t_fault_stream "$RATE"
sleep "$KILL_AT"
B_LINE=$(wc -l <"$T_DIR/b.log")
before=$(t_count)
a_stored=$(grep 'msg="stats"' "$T_DIR/a.log" | tail -n1 | sed -nE 's/^.* stored=([0-9]+).*$/\1/p')
kill -KILL "$A"
wait "$A" 2>/dev/null || true
KILLED_AT=$SECONDS
t_log "SIGKILL a at t=$((SECONDS - T0))s (stored so far $before; a's last stats said stored=${a_stored:-0})"

# b takes a's partitions over after a's session times out.
t_wait_owns_all "$T_DIR/b.log" "$PARTS" "$B"
t_log "b holds all $PARTS partitions $((SECONDS - KILLED_AT))s after the kill (session timeout 6 s)"
tail -n +"$((B_LINE + 1))" "$T_DIR/b.log" | grep -m3 'msg="partition assigned"' | sed 's/^/    /' >&2

t_wait_stream_stored "$N"
kill -0 "$B" 2>/dev/null || t_fail "b died: $(tail -n 5 "$T_DIR/b.log")"
t_check_stream "$N" "$PARTS" "$T_DIR/a.log" "$T_DIR/b.log"

kill -TERM "$B"
rc=0
wait "$B" || rc=$?
[ "$rc" = 0 ] || t_fail "b exited $rc on SIGTERM"
t_log "b: $(grep 'msg="collector stopped"' "$T_DIR/b.log" | sed 's/^.*msg="collector stopped" //')"
[ "${a_stored:-0}" -gt 0 ] || t_fail "a stored nothing before it was killed: the test did not share the work"
t_log "PASS"
