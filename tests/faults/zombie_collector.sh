#!/usr/bin/env bash
# Fault (d'), the zombie: two collectors in one group; one is frozen
# (SIGSTOP) in the middle of a batch transaction, holding its offset rows
# locked. The other must take its partitions over after the session timeout
# and keep storing while the zombie is still frozen (PostgreSQL ends the
# zombie's idle transaction: idle_in_transaction_session_timeout = the
# session timeout). When the zombie resumes, the offset fence must drop the
# batches it held ("batch fenced") and the group re-forms: every event is
# stored exactly once.
#
# ZOMBIE_FREEZE=tx (default) freezes the zombie inside its transaction
# holding an offset row lock (PostgreSQL shows it "idle in transaction"): the
# test holds that row itself for 3 s so that the zombie's conditional UPDATE
# is waiting for it when it is frozen; idle_in_transaction_session_timeout
# then ends the zombie's transaction.
# ZOMBIE_FREEZE=copy tries to freeze it in the middle of its COPY. The writer
# takes no row lock before its offsets' conditional UPDATE, which follows the
# COPY, so a zombie frozen there blocks nobody. Landing SIGSTOP inside a short
# COPY is chance: the test tries 150 times and fails if it never does.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"
. "$(dirname "$0")/../lib/faults.sh"

N=${ZOMBIE_EVENTS:-45000}
RATE=${ZOMBIE_RATE:-1000}
STOP_AT=12
PARTS=16
SEED=${ZOMBIE_SEED:-$RANDOM}
RANDOM=$SEED
export CUSTOS_KAFKA_SESSION_TIMEOUT_MS=6000ms CUSTOS_KAFKA_GROUP=custos-zombie

t_fault_setup "$PARTS" "$N" 19
t_log "random seed $SEED"
t_fault_collector a
A=$T_LAST_PID
t_fault_collector b
B=$T_LAST_PID
t_wait_split "$T_DIR/a.log" "$T_DIR/b.log" "$PARTS"
oa=$T_OWNED_A

t_fault_stream "$RATE"
sleep "$STOP_AT"
# Freeze a while it is inside a transaction.
P=${oa%% *}
caught=0
if [ "${ZOMBIE_FREEZE:-tx}" = copy ]; then
    # At random until a is caught in a COPY that waits for its data.
    frozen_q="SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND state = 'active' AND wait_event = 'ClientRead' AND query LIKE 'COPY interactions%'
               AND query_start < now() - interval '300 ms'"
    for try in $(seq 1 150); do
        kill -STOP "$A"
        sleep 0.4
        if [ "$(t_sql "$frozen_q")" -gt 0 ]; then caught=$try; break; fi
        kill -CONT "$A"
        sleep "0.$((RANDOM % 10))$((RANDOM % 10))"
    done
else
    # Deterministically: hold a's offset row of partition $P for 3 s, so that
    # a's writer waits for it inside its transaction; freeze a while it
    # waits; when the row is released a's backend takes the lock and then
    # idles in the transaction, for as long as a is frozen.
    t_start locker psql -X -q -d "$T_DSN" -c "BEGIN" \
        -c "SELECT 1 FROM ingest_offsets WHERE consumer_group = 'custos-zombie' AND kafka_partition = $P FOR UPDATE" \
        -c "SELECT pg_sleep(3)" -c "COMMIT"
    waiting_q="SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
                AND wait_event_type = 'Lock' AND query LIKE 'UPDATE ingest_offsets%'"
    for try in $(seq 1 25); do
        if [ "$(t_sql "$waiting_q")" -gt 0 ]; then
            kill -STOP "$A"
            caught=$try
            break
        fi
        sleep 0.1
    done
    [ "$caught" -gt 0 ] || t_fail "a's writer never waited for partition $P's offset row"
    wait "$T_LAST_PID" || t_fail "the lock holder failed"
    frozen_q="SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()
               AND state = 'idle in transaction' AND query LIKE 'UPDATE ingest_offsets%'"
    # Once the row is released, a's backend takes the lock and finishes the
    # UPDATE, then idles in the transaction: on a loaded machine that takes
    # a moment, so wait for it (a condition, with a deadline) instead of
    # looking once.
    deadline=$((SECONDS + 30))
    until [ "$(t_sql "$frozen_q")" -gt 0 ]; do
        [ "$SECONDS" -lt "$deadline" ] || {
            t_sql "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity
                    WHERE datname = current_database() AND pid <> pg_backend_pid()" >&2
            kill -CONT "$A"; t_fail "a is frozen but not inside its transaction"; }
        sleep 0.1
    done
fi
[ "$caught" -gt 0 ] || t_fail "could not freeze a inside a transaction in 150 tries"
STOPPED_AT=$SECONDS
t_log "a frozen inside a batch transaction (${ZOMBIE_FREEZE:-tx} mode, partition $P row locked, try $caught) at t=$((SECONDS - T0))s, stored so far $(t_count)"

t_wait_owns_all "$T_DIR/b.log" "$PARTS" "$B" 'kill -CONT "$A"'
TAKEN_AT=$SECONDS
t_log "b holds all $PARTS partitions $((SECONDS - STOPPED_AT))s after a froze"
# b must store a's partitions while a is still frozen.
before=$(t_sql "SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets
                 WHERE consumer_group = 'custos-zombie' AND kafka_partition IN (${oa// /,})")
deadline=$((SECONDS + 30))
while :; do
    now_off=$(t_sql "SELECT coalesce(sum(next_offset), 0) FROM ingest_offsets
                      WHERE consumer_group = 'custos-zombie' AND kafka_partition IN (${oa// /,})")
    [ "$now_off" -gt "$before" ] && break
    [ "$SECONDS" -lt "$deadline" ] || {
        t_sql "SELECT state, wait_event_type, wait_event, left(query, 60) FROM pg_stat_activity
                WHERE datname = current_database() AND pid <> pg_backend_pid()" >&2
        kill -CONT "$A"
        t_fail "b stored nothing of a's partitions in 30 s while a was frozen: blocked by the zombie's locks"
    }
    sleep 0.5
done
t_log "b advanced a's partitions $((SECONDS - TAKEN_AT))s after the takeover, a still frozen"
sleep 2
A_LINE=$(wc -l <"$T_DIR/a.log")
kill -CONT "$A"
t_log "SIGCONT a at t=$((SECONDS - T0))s, frozen for $((SECONDS - STOPPED_AT))s"

t_wait_stream_stored "$N"
kill -0 "$A" 2>/dev/null || t_fail "a died after resuming: $(tail -n 5 "$T_DIR/a.log")"
kill -0 "$B" 2>/dev/null || t_fail "b died: $(tail -n 5 "$T_DIR/b.log")"
fenced=$(tail -n +"$((A_LINE + 1))" "$T_DIR/a.log" | grep -c 'msg="batch fenced' || true)
t_log "a after resuming: $fenced batch(es) fenced; it holds [$(t_owned "$T_DIR/a.log")], b holds [$(t_owned "$T_DIR/b.log")]"
tail -n +"$((A_LINE + 1))" "$T_DIR/a.log" | grep -m2 'msg="batch fenced' | cut -c1-220 | sed 's/^/    /' >&2 || true
[ "$fenced" -ge 1 ] || t_fail "a resumed with batches of partitions b had moved on, yet none was fenced"
t_check_stream "$N" "$PARTS" "$T_DIR/a.log" "$T_DIR/b.log"
t_log "PASS"
