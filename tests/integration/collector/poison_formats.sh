#!/usr/bin/env bash
# The foreign formats' poison corpus (tests/poison/formats/make.py: wrong
# encodings, truncated protobuf, missing required fields, huge attribute
# arrays, deep kvlists, bad ids, JSON on the protobuf topic and back) through
# the real path: kcat sends each file as one message to the topic of its
# format (one collector reads three topics, each in the format its
# kafka.topics entry names). Every message must become the dead letters
# EXPECTED lists, at its offset and with the refused item's index
# (rejected_events.event_index, -1 for the whole message) and a reason that
# names the format and what is wrong; the good items of a partly bad
# message are stored; the caller's token in a LiteLLM guardrail log reaches
# neither a dead letter's raw bytes nor a reason; the offsets move past
# everything.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

CORPUS=$T_DIR/corpus
python3 "$CUSTOS_SOURCE_DIR/tests/poison/formats/make.py" "$CORPUS"
TOKEN=sk-live-caller-token-0123456789abcdef

t_db
"$CUSTOS_BIN" broker --partitions 1 --topic p.litellm --topic p.otlp_json --topic p.otlp_proto \
    >"$T_DIR/broker.out" 2>"$T_DIR/broker.log" &
T_PIDS+=("$!")
for _ in $(seq 100); do
    T_BROKER=$(head -n1 "$T_DIR/broker.out" 2>/dev/null || true)
    [ -n "$T_BROKER" ] && break
    sleep 0.1
done
[ -n "$T_BROKER" ] || t_fail "broker did not start: $(cat "$T_DIR/broker.log")"
export CUSTOS_KAFKA_BROKERS=$T_BROKER

# a topic entry naming an unknown format stops start-up, naming it
if CUSTOS_KAFKA_TOPICS="p.litellm=otel" "$CUSTOS_BIN" run --log-level warn >"$T_DIR/badfmt.out" 2>"$T_DIR/badfmt.log"; then
    t_fail "custos run started with kafka.topics p.litellm=otel"
fi
grep -q "topic p.litellm: format 'otel' is not one of native|litellm|otlp_json|otlp_proto" "$T_DIR/badfmt.log" ||
    t_fail "no clear error for an unknown topic format: $(cat "$T_DIR/badfmt.log")"

# Files in EXPECTED order, each format's on its topic: offsets 0, 1, ...
declare -A OFF NEXT
files=()
while IFS=$'\t' read -r file fmt _ _; do
    [ -n "${OFF[$file]:-}" ] && continue
    OFF[$file]=${NEXT[$fmt]:-0}
    NEXT[$fmt]=$((${NEXT[$fmt]:-0} + 1))
    files+=("$file")
done <"$CORPUS/EXPECTED"
for file in "${files[@]}"; do
    fmt=${file##*.}
    kcat -P -b "$T_BROKER" -t "p.$fmt" -p 0 "$CORPUS/$file" 2>>"$T_DIR/kcat.log" ||
        t_fail "kcat could not send $file"
done
WANT_REJ=$(awk -F'\t' '$3 != "rows"' "$CORPUS/EXPECTED" | wc -l)
WANT_ROWS=$(awk -F'\t' '$3 == "rows" {n += $4} END {print n + 0}' "$CORPUS/EXPECTED")
[ "$WANT_REJ" -ge 25 ] || t_fail "the corpus has only $WANT_REJ dead letters"

t_start_collector collector CUSTOS_KAFKA_TOPICS="p.litellm=litellm,p.otlp_json=otlp_json, p.otlp_proto=otlp_proto"
COLL=$T_LAST_PID
t_wait_sql "SELECT count(*) FROM rejected_events" "$WANT_REJ" 120
t_wait_sql "SELECT sum(next_offset) FROM ingest_offsets" "${#files[@]}" 60
[ "$(t_count)" = "$WANT_ROWS" ] || t_fail "interactions holds $(t_count) rows, want $WANT_ROWS"

bad=0
while IFS=$'\t' read -r file fmt idx why; do
    [ "$idx" = rows ] && continue
    got=$(t_sql "SELECT reason FROM rejected_events WHERE topic = 'p.$fmt'
                   AND kafka_offset = ${OFF[$file]} AND event_index = $idx")
    if [ -z "$got" ] || [[ $got != *"$why"* ]]; then
        t_log "$file (p.$fmt offset ${OFF[$file]} index $idx): want '$why', got '$got'"
        bad=$((bad + 1))
    fi
done <"$CORPUS/EXPECTED"
[ "$bad" = 0 ] || t_fail "$bad dead letters without their reason"
# every reason names its format
unnamed=$(t_sql "SELECT count(*) FROM rejected_events WHERE position(split_part(topic, '.', 2) IN reason) = 0")
[ "$unnamed" = 0 ] || t_fail "$unnamed reasons do not name their format"
# the whole message's bytes are kept with its first dead letter
size=$(stat -c %s "$CORPUS/truncated.otlp_proto")
[ "$(t_sql "SELECT raw_size || ' ' || length(raw) FROM rejected_events WHERE topic = 'p.otlp_proto' AND kafka_offset = ${OFF[truncated.otlp_proto]}")" = "$size $size" ] ||
    t_fail "the truncated protobuf's dead letter does not keep its $size bytes"
# the stored good items carry their message's offset
[ "$(t_sql "SELECT count(*) FROM interactions WHERE kafka_topic = 'p.litellm' AND kafka_offset = ${OFF[array_one_bad.litellm]}")" = 2 ] ||
    t_fail "the good payloads of array_one_bad.litellm are not stored at its offset"
# no secret kept: the token is blanked in the raw bytes, and no reason holds it
leaked=$(t_sql "SELECT count(*) FROM rejected_events WHERE position(convert_to('$TOKEN', 'UTF8') IN raw) > 0
                   OR position('$TOKEN' IN reason) > 0")
[ "$leaked" = 0 ] || t_fail "the caller's token is in $leaked dead letters"
t_sql "SELECT position(convert_to('\"authorization\": \"*******', 'UTF8') IN raw) > 0 FROM rejected_events
        WHERE topic = 'p.litellm' AND kafka_offset = ${OFF[missing_key_with_token.litellm]}" | grep -qx t ||
    t_fail "the guardrail log's authorization header is not blanked in the dead letter"
kill -TERM "$COLL"
wait "$COLL" || t_fail "custos run exited $? after SIGTERM"
t_log "$WANT_REJ dead letters with their index and reason, $WANT_ROWS good items stored, offsets past ${#files[@]} messages, no token kept"
