#!/usr/bin/env bash
# kcat as the producer, custos run as the consumer, psql as the judge: the
# stored table equals the input (count, no duplicate event_id, content
# checksum), every row sits at the Kafka coordinates kcat sees it at, and
# ingest_offsets equals the broker's high watermarks. Then SIGTERM: the
# collector exits 0 and nothing changes.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"

N=${KCAT_INGEST_EVENTS:-10000}
PARTS=8
TOPIC=custos.interactions

t_db
t_broker "$PARTS" "$TOPIC"
t_gen "$T_DIR/events.jsonl" "$N" 42

t_start_collector collector
COLL=$T_LAST_PID
t_wait_log "$T_DIR/collector.log" 'msg="partition assigned"' 60 "$COLL"

# Line mode: key<TAB>json, the key being the event's api_key_id. Sent in
# chunks so that the broker (it keeps ~5 MiB a partition) is never asked to
# hold much more than the collector has read.
awk 'match($0, /"api_key_id":"[^"]*"/) { print substr($0, RSTART + 14, RLENGTH - 15) "\t" $0 }' \
    "$T_DIR/events.jsonl" >"$T_DIR/keyed.tsv"
[ "$(wc -l <"$T_DIR/keyed.tsv")" = "$N" ] || t_fail "could not key every input line"
split -l 2000 "$T_DIR/keyed.tsv" "$T_DIR/chunk."
for c in "$T_DIR"/chunk.*; do
    kcat -P -b "$T_BROKER" -t "$TOPIC" -K '\t' <"$c" 2>>"$T_DIR/kcat.log" ||
        t_fail "kcat -P failed: $(tail -n 3 "$T_DIR/kcat.log")"
    sleep 0.3
done

# File mode: each file is one message (three more events, keyed with -k).
t_gen "$T_DIR/extra.jsonl" 3 4242
for i in 1 2 3; do
    sed -n "${i}p" "$T_DIR/extra.jsonl" | tr -d '\n' >"$T_DIR/extra.$i.json"
    kcat -P -b "$T_BROKER" -t "$TOPIC" -k "file-$i" "$T_DIR/extra.$i.json" 2>>"$T_DIR/kcat.log" ||
        t_fail "kcat -P (file mode) failed: $(tail -n 3 "$T_DIR/kcat.log")"
done
TOTAL=$((N + 3))
t_log "sent $TOTAL events with kcat ($N in line mode, 3 in file mode) over $PARTS partitions"

t_wait_count "$TOTAL" 120
t_check_exactly_once "$T_DIR/events.jsonl" "$T_DIR/extra.jsonl"
t_check_offsets "$TOPIC" "$PARTS"
[ "$T_HWM_SUM" = "$TOTAL" ] || t_fail "broker holds $T_HWM_SUM messages, sent $TOTAL"

# Every row at the coordinates kcat reads it from.
kcat -C -b "$T_BROKER" -t "$TOPIC" -o beginning -e -q -f '%p %o %s\n' 2>>"$T_DIR/kcat.log" |
    sed -nE 's/^([0-9]+) ([0-9]+) \{"event_id":"([^"]*)".*$/\1 \2 \3/p' | sort >"$T_DIR/coords.kafka"
t_sql "SELECT kafka_partition || ' ' || kafka_offset || ' ' || event_id FROM interactions
        WHERE kafka_topic = '$TOPIC'" | sort >"$T_DIR/coords.pg"
[ "$(wc -l <"$T_DIR/coords.kafka")" = "$TOTAL" ] ||
    t_fail "kcat read back $(wc -l <"$T_DIR/coords.kafka") messages, want $TOTAL"
cmp -s "$T_DIR/coords.kafka" "$T_DIR/coords.pg" ||
    t_fail "stored (partition, offset, event_id) differ from the topic: $(diff "$T_DIR/coords.kafka" "$T_DIR/coords.pg" | head -5)"
t_log "all $TOTAL rows carry the partition and offset kcat reads them at"

# Graceful stop: exit 0, and the table does not move.
kill -TERM "$COLL"
rc=0
wait "$COLL" || rc=$?
[ "$rc" = 0 ] || t_fail "custos run exited $rc on SIGTERM"
grep -q 'msg="collector stopped"' "$T_DIR/collector.log" || t_fail "no 'collector stopped' line"
t_log "$(grep 'msg="collector stopped"' "$T_DIR/collector.log" | sed 's/^.*msg=/msg=/')"
[ "$(t_stored_sum)" = "$(t_input_sum "$T_DIR/events.jsonl" "$T_DIR/extra.jsonl")" ] ||
    t_fail "table changed after SIGTERM"
t_log "PASS"
