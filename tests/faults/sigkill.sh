#!/usr/bin/env bash
# Fault (a): SIGKILL the collector at random moments during a paced
# 60k-event stream and restart it, five times. Every event must be stored
# exactly once: count, distinct event ids and content checksum equal the
# input's, no Kafka offset stored twice, ingest_offsets = high watermarks.
#
# Pacing, so that a loaded machine cannot make the broker drop data: the
# mock broker keeps ~5 MiB a partition (~4,700 of these ~1.1 KB events). The
# busiest api key sends ~18 % of the traffic, so its partition gets
# 18 % + 82 %/16 = ~23 %: at 1000 events/s that is ~230 events/s, and the
# partition overflows only after ~20 s without a consumer. One outage here is
# the kill, the restart and the rejoin (the dead member's 4 s session
# timeout, then a join): 5-8 s, under half of that even on a busy machine.
# The producer batches for 100 ms (t_produce), so the restarted collector
# drains a backlog ~50 events a fetch, far faster than it fills, and each
# kill waits until it has caught up (on progress, not on a clock). 60 s of
# stream give each kill a slot of ~10 s: a kill lands while the last
# restart's backlog drains or in steady state; a slow machine only moves
# the next kill to right after the catch-up.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"
. "$(dirname "$0")/../lib/faults.sh"

N=${SIGKILL_EVENTS:-60000}
RATE=${SIGKILL_RATE:-1000}
KILLS=5
PARTS=16
SEED=${SIGKILL_SEED:-$RANDOM}
RANDOM=$SEED
export CUSTOS_KAFKA_SESSION_TIMEOUT_MS=4000ms

t_fault_setup "$PARTS" "$N" 7
t_log "random seed $SEED (SIGKILL_SEED=$SEED reproduces the kill times)"
t_fault_collector run0
COLL=$T_LAST_PID
t_fault_stream "$RATE"
DURATION=$((N / RATE))
SLOT=$((DURATION * 85 / 100 / KILLS)) # kills within the first 85 % of the stream

for k in $(seq 1 $KILLS); do
    # A random moment in this kill's slot, after the previous restart is
    # back in the group.
    at=$(((k - 1) * SLOT + 2 + RANDOM % (SLOT > 4 ? SLOT - 2 : 2)))
    now=$((SECONDS - T0))
    [ "$at" -gt "$now" ] && sleep $((at - now))
    sleep "0.$((RANDOM % 10))"
    before=$(t_count)
    kill -KILL "$COLL"
    wait "$COLL" 2>/dev/null || true
    s=$SECONDS
    t_fault_collector "run$k"
    COLL=$T_LAST_PID
    t_log "kill $k at t=$((SECONDS - T0))s (stored so far $before), restarted, partitions back after $((SECONDS - s))s"
    # Let it catch up (to within 2 s of the stream) before the next kill, so
    # that the busiest partition does not carry one outage's backlog into
    # the next: the mock broker would drop it (two kills 4 s apart did).
    t_wait_caught_up "$N" "$RATE" "$T0" 2 60
done

t_wait_stream_stored "$N"
t_check_stream "$N" "$PARTS" "$T_DIR"/run*.log
fenced=$(cat "$T_DIR"/run*.log | grep -c 'batch fenced' || true)
t_log "$KILLS kills, $N events stored exactly once; fenced batches logged: $fenced"
t_log "PASS"
