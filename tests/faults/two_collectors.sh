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

N=${TWO_COLLECTORS_EVENTS:-60000}
RATE=${TWO_COLLECTORS_RATE:-1000}
KILL_AT=20
PARTS=16
export CUSTOS_KAFKA_SESSION_TIMEOUT_MS=6000ms CUSTOS_KAFKA_GROUP=custos-pair

# owned LOG: the partitions LOG's collector holds now (replays its
# "partition assigned" / "partition revoked" lines), space-separated, sorted.
owned() {
    awk '/msg="partition assigned"/ { match($0, /partition=[0-9]+/); own[substr($0, RSTART + 10, RLENGTH - 10)] = 1 }
         /msg="partition revoked"/  { match($0, /partition=[0-9]+/); delete own[substr($0, RSTART + 10, RLENGTH - 10)] }
         END { for (p in own) print p }' "$1" | sort -n | tr '\n' ' ' | sed 's/ $//'
}
count_words() { wc -w <<<"$1" | tr -d ' '; }

t_db
t_broker "$PARTS"
t_gen "$T_DIR/events.jsonl" "$N" 17

t_start_collector a
A=$T_LAST_PID
t_wait_log "$T_DIR/a.log" 'msg="partition assigned"' 60 "$A"
t_start_collector b
B=$T_LAST_PID
t_wait_log "$T_DIR/b.log" 'msg="partition assigned"' 60 "$B"
# Wait for the split to settle: disjoint, together all partitions.
deadline=$((SECONDS + 60))
while :; do
    oa=$(owned "$T_DIR/a.log")
    ob=$(owned "$T_DIR/b.log")
    na=$(count_words "$oa")
    nb=$(count_words "$ob")
    both=$(printf '%s\n' $oa $ob | sort -n | uniq | wc -l)
    [ "$na" -gt 0 ] && [ "$nb" -gt 0 ] && [ $((na + nb)) = "$PARTS" ] && [ "$both" = "$PARTS" ] && break
    [ "$SECONDS" -lt "$deadline" ] || t_fail "group did not split: a=[$oa] b=[$ob]"
    sleep 0.5
done
t_log "group split: a holds [$oa], b holds [$ob]"

t_produce "$RATE" "$T_DIR/events.jsonl"
PROD=$T_LAST_PID
T0=$SECONDS
sleep "$KILL_AT"
B_LINE=$(wc -l <"$T_DIR/b.log")
before=$(t_count)
a_stored=$(grep 'msg="stats"' "$T_DIR/a.log" | tail -n1 | sed -nE 's/^.* stored=([0-9]+).*$/\1/p')
kill -KILL "$A"
wait "$A" 2>/dev/null || true
KILLED_AT=$SECONDS
t_log "SIGKILL a at t=$((SECONDS - T0))s (stored so far $before; a's last stats said stored=${a_stored:-0})"

# b takes a's partitions over after a's session times out.
deadline=$((SECONDS + 60))
while [ "$(count_words "$(owned "$T_DIR/b.log")")" != "$PARTS" ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "b did not take a's partitions over: holds [$(owned "$T_DIR/b.log")]"
    kill -0 "$B" 2>/dev/null || t_fail "b died: $(tail -n 5 "$T_DIR/b.log")"
    sleep 0.5
done
t_log "b holds all $PARTS partitions $((SECONDS - KILLED_AT))s after the kill (session timeout 6 s)"
tail -n +"$((B_LINE + 1))" "$T_DIR/b.log" | grep -m3 'msg="partition assigned"' | sed 's/^/    /' >&2

t_wait_producer "$PROD"
t_wait_count "$N" 120
kill -0 "$B" 2>/dev/null || t_fail "b died: $(tail -n 5 "$T_DIR/b.log")"
t_check_exactly_once "$T_DIR/events.jsonl"
t_check_offsets custos.interactions "$PARTS" custos-pair
[ "$T_HWM_SUM" = "$N" ] || t_fail "broker holds $T_HWM_SUM messages, sent $N"
gaps=$(cat "$T_DIR/a.log" "$T_DIR/b.log" | grep -c 'offset gap' || true)
[ "$gaps" = 0 ] || t_fail "offset gaps logged: $gaps (broker retention overrun)"

kill -TERM "$B"
rc=0
wait "$B" || rc=$?
[ "$rc" = 0 ] || t_fail "b exited $rc on SIGTERM"
t_log "b: $(grep 'msg="collector stopped"' "$T_DIR/b.log" | sed 's/^.*msg="collector stopped" //')"
[ "${a_stored:-0}" -gt 0 ] || t_fail "a stored nothing before it was killed: the test did not share the work"
t_log "PASS"
