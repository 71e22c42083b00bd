#!/usr/bin/env bash
# An offset gap costs one log line, not a stall: the embedded broker's
# retention deletes the head of a partition the collector has not read, and
#  (a) a collector whose stored offset is no longer on the broker resumes at
#      the first offset the broker still holds, records the lost range in
#      ingest_gaps (group, topic, partition, first missing, next present),
#      logs it once, counts it, and goes on storing what comes next;
#  (b) a fresh group (nothing stored) on that log records [0, log start).
#
# Sizing: the mock broker keeps ~5 MiB a partition and drops whole producer
# batches from the head past that. One partition; 200 events stored first,
# then 9,000 more (~1.1 KB each, ~10 MB) sent while no collector runs, so
# the log's start moves well past offset 200 (checked below, not assumed).
# Every wait is on a condition with a deadline.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

TOPIC=custos.interactions
export CUSTOS_COLLECTOR_ANALYTICS=off CUSTOS_KAFKA_GROUP=gaps-a

t_db
DSN_A=$T_DSN
t_broker 1 "$TOPIC"
t_gen "$T_DIR/all.jsonl" 9300 31
head -n 200 "$T_DIR/all.jsonl" >"$T_DIR/first.jsonl"
sed -n '201,9200p' "$T_DIR/all.jsonl" >"$T_DIR/bulk.jsonl"
tail -n 100 "$T_DIR/all.jsonl" >"$T_DIR/after.jsonl"

offset_sql="SELECT next_offset FROM ingest_offsets WHERE consumer_group = '$CUSTOS_KAFKA_GROUP' AND topic = '$TOPIC' AND kafka_partition = 0"

watermark() { t_watermark "$TOPIC" 0 "$1"; } # the log start (-2) or end (-1) of partition 0

# ---- (a) the stored offset overrun by retention ------------------------------------

t_store_first run1 "$T_DIR/first.jsonl" "$TOPIC" "$offset_sql" 200

"$CUSTOS_BIN" produce --rate 0 --topic "$TOPIC" "$T_DIR/bulk.jsonl" 2>"$T_DIR/p2.log" ||
    t_fail "producer failed: $(tail -n 3 "$T_DIR/p2.log")"
LO=$(watermark -2)
HI=$(watermark -1)
[ "$HI" = 9200 ] || t_fail "broker's log ends at $HI, sent 9200"
[ "$LO" -gt 200 ] || t_fail "retention did not delete past offset 200 (log starts at $LO): nothing to test"
t_log "broker holds [$LO, $HI): offsets 200..$((LO - 1)) are gone"

t_start_collector run2
C=$T_LAST_PID
s0=$SECONDS
# It must reach the log's end (the resumed partition moves) ...
t_wait_sql "$offset_sql" "$HI" 120
t_log "caught up to $HI $((SECONDS - s0))s after the restart; $(grep -E 'offset gap|no longer on the broker|partition assigned' "$T_DIR/run2.log" | sed -E 's/^ts=[^T]*T([0-9:.]+)Z.* msg="([^"]*)".*/\1 \2;/' | tr '\n' ' ')"
got=$(t_sql "SELECT consumer_group || ' ' || topic || ' ' || kafka_partition || ' ' || first_missing
                    || ' ' || next_present || ' ' || (detected_at > now() - interval '10 minutes')
               FROM ingest_gaps")
[ "$got" = "gaps-a $TOPIC 0 200 $LO true" ] || t_fail "ingest_gaps holds [$got], want [gaps-a $TOPIC 0 200 $LO true]"
stored=$(t_count)
[ "$stored" = $((200 + HI - LO)) ] || t_fail "stored $stored rows, want 200 + $((HI - LO))"
missing=$(t_sql "SELECT count(*) FROM generate_series(200, $((LO - 1))) o
                  WHERE EXISTS (SELECT 1 FROM interactions WHERE kafka_offset = o)")
[ "$missing" = 0 ] || t_fail "$missing rows stored at offsets the gap says are missing"
# ... and keep storing what comes after.
"$CUSTOS_BIN" produce --rate 0 --topic "$TOPIC" "$T_DIR/after.jsonl" 2>"$T_DIR/p3.log" ||
    t_fail "producer failed: $(tail -n 3 "$T_DIR/p3.log")"
t_wait_sql "$offset_sql" $((HI + 100)) 60
t_stop_collector "$C"
lines=$(grep -c 'offset gap' "$T_DIR/run2.log" || true)
[ "$lines" = 1 ] || t_fail "$lines 'offset gap' lines in the log, want one: $(grep 'offset gap' "$T_DIR/run2.log")"
grep 'msg="offset gap' "$T_DIR/run2.log" | grep -q "first_missing=200 next_present=$LO " ||
    t_fail "the gap line does not name the range: $(grep 'offset gap' "$T_DIR/run2.log")"
grep 'msg="collector stopped"' "$T_DIR/run2.log" | grep -q " gaps=1 gap_messages=$((LO - 200)) " ||
    t_fail "the counters do not say one gap of $((LO - 200)): $(grep 'msg="collector stopped"' "$T_DIR/run2.log")"
t_log "(a) resumed at $LO after the gap [200, $LO), recorded once, then stored 100 more"

# ---- (b) a fresh group on a log whose head is gone ---------------------------------

export CUSTOS_KAFKA_GROUP=gaps-b
t_db
LO=$(watermark -2)
HI=$(watermark -1)
t_start_collector run3
C=$T_LAST_PID
offset_sql="SELECT next_offset FROM ingest_offsets WHERE consumer_group = 'gaps-b' AND topic = '$TOPIC' AND kafka_partition = 0"
t_wait_sql "$offset_sql" "$HI" 120
got=$(t_sql "SELECT consumer_group || ' ' || first_missing || ' ' || next_present FROM ingest_gaps")
[ "$got" = "gaps-b 0 $LO" ] || t_fail "ingest_gaps holds [$got], want [gaps-b 0 $LO]"
[ "$(t_count)" = $((HI - LO)) ] || t_fail "stored $(t_count) rows, want $((HI - LO))"
t_stop_collector "$C"
lines=$(grep -c 'offset gap' "$T_DIR/run3.log" || true)
[ "$lines" = 1 ] || t_fail "$lines 'offset gap' lines for the fresh group, want one"
# the first database is untouched by the second group
[ "$(psql -X -A -t -q -d "$DSN_A" -c 'SELECT count(*) FROM ingest_gaps')" = 1 ] ||
    t_fail "group a's database changed"
t_log "(b) fresh group: [0, $LO) recorded, $((HI - LO)) stored"
t_log "PASS"
