#!/usr/bin/env bash
# Replay equals live across a restart and a rebalance: the labelled scenario
# of replay_equals_live.sh goes through the embedded broker (4 partitions)
# in three pieces. After the first, custos run (a) is stopped and started
# again (a2): it must restore every partition's state from
# analytics_snapshots. After the second, a second member (b) joins the group
# (the partitions move: a2 saves what it gives up at the revoke, b restores
# it at the assignment) and a2 leaves (b takes the rest). `custos analyze`
# over the whole file, with no restart, must give exactly the incidents the
# three lives stored (every field of every incident document), with no late
# event; and a restart must open no incident of its own.
# Between the pieces nothing is produced, so a partition moves only while
# no event of it is in flight: the member that had it has judged all it
# delivered (at the revoke), and the new one continues from there.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"
. "$(dirname "$0")/../../lib/faults.sh"

PARTS=4
TOPIC=custos.interactions
RATE=${REPLAY_RATE:-4000}
export CUSTOS_ANALYTICS_PARTITION_IDLE_MS=10s
export CUSTOS_KAFKA_GROUP=custos-restart

"$CUSTOS_SCENGEN" --data "$CUSTOS_PROMPTS_DIR" --half test --seed 7 --hours 6 --keys 60 \
    --events "$T_DIR/events.jsonl" --labels "$T_DIR/labels.jsonl" 2>"$T_DIR/scengen.log"
N=$(wc -l <"$T_DIR/events.jsonl")
# three pieces, each cut where the event time changes (the file is sorted
# by time): every event of a later piece is later than every one before
awk -v n="$N" -v dir="$T_DIR" 'BEGIN { p = 0 }
    { i = index($0, "\"ts\":\""); ts = substr($0, i + 6, 27)
      if (p < 2 && NR > (p + 1) * n / 3 && ts != last) p++
      print > (dir "/piece" p); last = ts }' "$T_DIR/events.jsonl"
N0=$(wc -l <"$T_DIR/piece0"); N1=$(wc -l <"$T_DIR/piece1"); N2=$(wc -l <"$T_DIR/piece2")
[ $((N0 + N1 + N2)) = "$N" ] && [ "$N0" -gt 1000 ] && [ "$N2" -gt 1000 ] ||
    t_fail "bad pieces: $N0 + $N1 + $N2 of $N"

"$CUSTOS_BIN" analyze --log-level info "$T_DIR/events.jsonl" >"$T_DIR/replay.jsonl" 2>"$T_DIR/analyze.log"
R=$(wc -l <"$T_DIR/replay.jsonl")
[ "$R" -ge 10 ] || t_fail "the replay found only $R incidents"
t_log "replay: $R incidents over $N events (pieces $N0, $N1, $N2)"

t_db
t_broker "$PARTS" "$TOPIC"

produce() {
    "$CUSTOS_BIN" produce --rate "$RATE" --brokers "$T_BROKER" --topic "$TOPIC" "$1" \
        2>>"$T_DIR/produce.log" || t_fail "produce: $(tail -n 3 "$T_DIR/produce.log")"
}
stop() { # PID NAME: SIGTERM, a clean exit, the stop summary
    kill -TERM "$1"
    wait "$1" || t_fail "$2 exited $? after SIGTERM: $(tail -n 5 "$T_DIR/$2.log")"
    grep 'msg="live analytics stopped"' "$T_DIR/$2.log" >&2 || t_fail "$2: no stop summary"
}
restored() { grep -c 'msg="state restored"' "$T_DIR/$1.log" || true; }

# life 1: a holds every partition
t_start_collector a
A=$T_LAST_PID
t_wait_owns_all "$T_DIR/a.log" "$PARTS" "$A"
produce "$T_DIR/piece0"
t_wait_count "$N0" 300
stop "$A" a
rows=$(t_sql "SELECT count(*) FROM analytics_snapshots WHERE consumer_group = 'custos-restart'")
[ "$rows" = $((PARTS + 1)) ] || t_fail "$rows snapshot rows after the stop, want $PARTS partitions and the shared one"
t_sql "SELECT kafka_partition, next_offset, keys, length(state) FROM analytics_snapshots ORDER BY 1" >&2

# life 2: the restart; a2 restores the four partitions and the shared state
t_start_collector a2
A2=$T_LAST_PID
t_wait_owns_all "$T_DIR/a2.log" "$PARTS" "$A2"
t_wait_log "$T_DIR/a2.log" 'msg="state restored" topic= partition=-1' 60 "$A2"
[ "$(restored a2)" = $((PARTS + 1)) ] || t_fail "a2 restored $(restored a2) rows, want $((PARTS + 1))"
produce "$T_DIR/piece1"
t_wait_count $((N0 + N1)) 300

# the rebalance: b joins, the group splits, a2 leaves
t_start_collector b
B=$T_LAST_PID
t_wait_split "$T_DIR/a2.log" "$T_DIR/b.log" "$PARTS"
nb=$(t_count_words "$T_OWNED_B")
deadline=$((SECONDS + 120))
until [ "$(restored b)" -ge $((nb + 1)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "b restored $(restored b) rows for its $nb partitions"
    kill -0 "$B" 2>/dev/null || t_fail "b died: $(tail -n 5 "$T_DIR/b.log")"
    sleep 0.5
done
stop "$A2" a2
t_wait_owns_all "$T_DIR/b.log" "$PARTS" "$B"
deadline=$((SECONDS + 120))
until [ "$(restored b)" -ge $((PARTS + 1)) ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "b restored $(restored b) rows after a2 left"
    sleep 0.5
done
produce "$T_DIR/piece2"
t_wait_count "$N" 300
t_wait_log "$T_DIR/b.log" 'msg="stats" .* analyzed=[1-9]' 90 "$B"
stop "$B" b

# no late or forced event in any life, nothing refused
for l in a a2 b; do
    grep -q 'msg="live analytics stopped".* late=0 forced=0 ' "$T_DIR/$l.log" ||
        t_fail "$l processed events late or forced: $(grep 'live analytics stopped' "$T_DIR/$l.log")"
    grep -q 'msg="live analytics stopped".* states_refused=0' "$T_DIR/$l.log" ||
        t_fail "$l refused a snapshot: $(grep 'state refused' "$T_DIR/$l.log" | head -n 2)"
done

t_sql "CREATE TABLE replay (doc jsonb NOT NULL)"
psql -X -q -v ON_ERROR_STOP=1 -d "$T_DSN" -c "\\copy replay (doc) FROM '$T_DIR/replay.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
L=$(t_sql "SELECT count(*) FROM incidents")
only_replay=$(t_sql "SELECT count(*) FROM replay r WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.doc = r.doc)")
only_live=$(t_sql "SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM replay r WHERE r.doc = i.doc)")
if [ "$only_replay" != 0 ] || [ "$only_live" != 0 ] || [ "$L" != "$R" ]; then
    t_sql "SELECT 'replay only: ' || r.doc::text FROM replay r WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.doc = r.doc) LIMIT 3" >&2
    t_sql "SELECT 'live only: ' || i.doc::text FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM replay r WHERE r.doc = i.doc) LIMIT 3" >&2
    t_fail "live stored $L incidents, replay found $R; $only_replay only in the replay, $only_live only live"
fi
alone=$(grep -o 'alerts_only=[0-9]*' "$T_DIR/analyze.log" | cut -d= -f2)
alone_live=$(t_sql "SELECT count(*) FROM alerts WHERE incident_id IS NULL")
[ "$alone_live" = "$alone" ] || t_fail "live stored $alone_live alerts without an incident, the replay raised $alone"
still_open=$(t_sql "SELECT count(*) FROM incidents WHERE status = 'open'")
[ "$still_open" = 0 ] || t_fail "$still_open of $R incidents still open after the last stop"
t_log "live (a restart, a rebalance) == replay: $R incidents, $alone alerts alone; restored a2=$(restored a2) b=$(restored b)"
