#!/usr/bin/env bash
# An offset gap while traffic keeps coming costs one log line, not a stall.
# offset_gap.sh deletes a partition's head while no collector runs; here the
# producer goes on writing while the collector restarts behind the broker's
# retention, at a byte rate where the embedded broker keeps well under a
# second of the partition (~5 MiB: a third of a second at 16 MB/s). The
# collector must resume at the first offset the broker still holds and
# store what follows WHILE the producer is still sending: with librdkafka's
# default fetch.error.backoff.ms (500 ms) each offset reset was followed by
# half a second of backoff, long enough for retention to delete the reset
# offset again, and the partition stayed stuck until the traffic stopped
# (the gap was then logged at the end). Every gap is a row in ingest_gaps
# and one log line, and no stored row lies inside a recorded gap.
#
# Sizing: one partition; 200 small events stored first; then up to 40,000
# events of ~8 KB at up to 2,000 ev/s (20 s, ~320 MB through a pipe, never
# on disk). A machine too busy to send that fast makes the broker keep a
# longer time span, which makes the test easier, not flaky. Every wait is on
# a condition: the one that matters ends when the producer ends.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

TOPIC=custos.interactions
export CUSTOS_COLLECTOR_ANALYTICS=off CUSTOS_KAFKA_GROUP=live-gap
N=40000
RATE=2000

t_db
t_broker 1 "$TOPIC"
t_gen "$T_DIR/first.jsonl" 200 41
offset_sql="SELECT next_offset FROM ingest_offsets WHERE consumer_group = '$CUSTOS_KAFKA_GROUP' AND topic = '$TOPIC' AND kafka_partition = 0"
watermark() { t_watermark "$TOPIC" 0 "$1"; } # the log start (-2) or end (-1) of partition 0

t_store_first run1 "$T_DIR/first.jsonl" "$TOPIC" "$offset_sql" 200

# ~8 KB events with unique ids, generated as they are sent
big() {
    python3 - "$N" <<'PY'
import json, sys
n = int(sys.argv[1])
pad = ("The quarterly report lists revenue, costs and a forecast by region. " * 120)[:7600]
for i in range(n):
    sys.stdout.write(json.dumps({
        "event_id": f"live-gap-{i:06d}", "ts": f"2026-11-20T01:{i // 2000 % 60:02d}:{i // 34 % 60:02d}.{i % 1000:03d}000Z",
        "api_key_id": f"ak_{i % 50:04d}", "tenant": "acme", "model": "chat-large", "model_version": "v1",
        "prompt": f"Summarise document {i}.", "response": pad, "prompt_tokens": 12,
        "completion_tokens": 1900, "latency_ms": 800.0, "status": 200}) + "\n")
PY
}
t_start producer "$CUSTOS_BIN" produce --rate "$RATE" --linger-ms 25 --topic "$TOPIC" <(big)
P=$T_LAST_PID
# the broker must have deleted the stored offset before the collector starts
deadline=$((SECONDS + 60))
until LO=$(watermark -2) && [ -n "$LO" ] && [ "$LO" -gt 200 ]; do
    kill -0 "$P" 2>/dev/null || t_fail "the producer ended before retention deleted offset 200: $(tail -n 3 "$T_DIR/producer.log")"
    [ "$SECONDS" -lt "$deadline" ] || t_fail "retention did not delete offset 200 in 60 s (log starts at $LO)"
    sleep 0.2
done
t_log "broker log starts at $LO (stored offset 200 gone); restarting the collector while traffic goes on"

t_start_collector run2
C=$T_LAST_PID
s0=$SECONDS
# While the producer sends: a gap recorded and rows stored past it.
moved=""
while kill -0 "$P" 2>/dev/null; do
    kill -0 "$C" 2>/dev/null || t_fail "the collector exited: $(tail -n 5 "$T_DIR/run2.log")"
    moved=$(t_sql "SELECT g.next_present || ' ' || max(i.kafka_offset) FROM ingest_gaps g
                     JOIN interactions i ON i.kafka_partition = 0 AND i.kafka_offset >= g.next_present
                    WHERE g.consumer_group = '$CUSTOS_KAFKA_GROUP' AND g.first_missing = 200
                    GROUP BY g.next_present" 2>/dev/null || true)
    [ -n "$moved" ] && break
    sleep 0.2
done
[ -n "$moved" ] || t_fail "the partition stayed stuck until the producer stopped ($((SECONDS - s0)) s): $(grep -E 'offset gap|no longer on the broker' "$T_DIR/run2.log" | head -n 3)"
t_log "resumed $((SECONDS - s0)) s after the restart with the producer still sending: gap [200, ${moved% *}), stored up to offset ${moved#* }"
t_log "$(grep -E 'partition assigned|skipping ahead|offset gap' "$T_DIR/run2.log" | sed -E 's/^ts=[^T]*T([0-9:.]+)Z.* msg="([^"]*)"(.*)$/\1 \2\3;/' | cut -c1-220)"

wait "$P" || t_fail "the producer failed: $(tail -n 3 "$T_DIR/producer.log")"
HI=$(watermark -1)
[ "$HI" = $((200 + N)) ] || t_fail "the broker's log ends at $HI, sent $((200 + N))"
# it reaches the end; later gaps (a collector behind the traffic) are recorded too
t_wait_sql "$offset_sql" "$HI" 180
kill -TERM "$C"
wait "$C" 2>/dev/null || t_fail "custos run exited non-zero: $(tail -n 5 "$T_DIR/run2.log")"

gaps=$(t_sql "SELECT count(*) FROM ingest_gaps WHERE consumer_group = '$CUSTOS_KAFKA_GROUP'")
lines=$(grep -c 'msg="offset gap' "$T_DIR/run2.log" || true)
[ "$gaps" -ge 1 ] && [ "$lines" = "$gaps" ] || t_fail "$gaps ingest_gaps rows, $lines 'offset gap' lines: want one line a gap"
lost=$(t_sql "SELECT sum(next_present - first_missing) FROM ingest_gaps WHERE consumer_group = '$CUSTOS_KAFKA_GROUP'")
stored=$(t_count)
[ "$stored" = $((HI - lost)) ] || t_fail "stored $stored rows, want $HI sent - $lost lost in gaps"
inside=$(t_sql "SELECT count(*) FROM interactions i JOIN ingest_gaps g ON i.kafka_partition = g.kafka_partition
                 AND i.kafka_offset >= g.first_missing AND i.kafka_offset < g.next_present")
[ "$inside" = 0 ] || t_fail "$inside stored rows lie inside recorded gaps"
grep 'msg="collector stopped"' "$T_DIR/run2.log" | grep -q " gaps=$gaps gap_messages=$lost " ||
    t_fail "the counters do not say $gaps gaps of $lost: $(grep 'msg="collector stopped"' "$T_DIR/run2.log")"
t_log "$gaps gaps ($lost offsets) recorded once each; $stored of $HI stored, none inside a gap"
t_log "PASS"
