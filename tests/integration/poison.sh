#!/usr/bin/env bash
# The poison corpus (tests/poison, see EXPECTED) through the real path: kcat
# sends each poison file as one Kafka message, with a good event before and
# after each one, all on one partition so that every message's offset is
# known in advance. custos run must store every good event exactly once, turn
# every poison message into one rejected_events row at its Kafka coordinates
# with the raw bytes and a reason that says what is wrong, and advance the
# stored offsets past everything.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"

POISON=$CUSTOS_SOURCE_DIR/tests/poison
TOPIC=custos.poison
PARTS=2
export CUSTOS_KAFKA_GROUP=custos-poison

t_db
t_broker "$PARTS" "$TOPIC"
"$POISON/make_large.sh" "$T_DIR/large"

# The corpus in EXPECTED order; the two large files come from make_large.sh.
names=() reasons=() paths=()
while IFS=$'\t' read -r name reason; do
    case $name in '#'* | '') continue ;; esac
    if [ -e "$POISON/$name" ]; then
        paths+=("$POISON/$name")
    elif [ -e "$T_DIR/large/$name" ]; then
        paths+=("$T_DIR/large/$name")
    else
        t_fail "EXPECTED names $name, which is neither in $POISON nor generated"
    fi
    names+=("$name")
    reasons+=("$reason")
done <"$POISON/EXPECTED"
# One more that no file can carry: a message whose value is NULL (a
# tombstone), which the collector must treat as an empty message.
names+=("(null value)")
reasons+=("empty message")
paths+=("@null")
NP=${#names[@]}
[ "$NP" -ge 20 ] || t_fail "the corpus has only $NP kinds"

# Good events: one before each poison message and one after the last.
NG=$((NP + 1))
t_gen "$T_DIR/good.jsonl" "$NG" 4711
mkdir -p "$T_DIR/good"
split -l 1 -d -a 4 "$T_DIR/good.jsonl" "$T_DIR/good/g."
for f in "$T_DIR"/good/g.*; do
    printf '%s' "$(cat "$f")" >"$f.json" # one message without the newline
    rm "$f"
done
goods=("$T_DIR"/good/g.*.json)
[ "${#goods[@]}" = "$NG" ] || t_fail "split made ${#goods[@]} good files, want $NG"

# Message order on partition 0: good, poison, good, poison, ..., good. The
# offset of message k is k. Expected rows are written as they are queued.
event_id() { sed -nE 's/^\{"event_id":"([^"]*)".*$/\1/p' "$1"; }
order=() exp_rej="$T_DIR/expected.rejected" exp_good="$T_DIR/expected.good"
: >"$exp_rej"
: >"$exp_good"
off=0
for ((i = 0; i < NP; i++)); do
    order+=("${goods[$i]}")
    printf '%s %s\n' "$off" "$(event_id "${goods[$i]}")" >>"$exp_good"
    off=$((off + 1))
    order+=("${paths[$i]}")
    if [ "${paths[$i]}" = @null ]; then
        size=0 md5=$(printf '' | md5sum | cut -d' ' -f1)
    else
        size=$(stat -c %s "${paths[$i]}") md5=$(md5sum <"${paths[$i]}" | cut -d' ' -f1)
    fi
    printf '%s\t%s\t%s\t%s\n' "$off" "$size" "$md5" "${names[$i]}" >>"$exp_rej"
    off=$((off + 1))
done
order+=("${goods[$NP]}")
printf '%s %s\n' "$off" "$(event_id "${goods[$NP]}")" >>"$exp_good"
TOTAL=$((off + 1))
[ "$(grep -cE '^[0-9]+ [0-9a-f-]+$' "$exp_good")" = "$NG" ] ||
    t_fail "could not read the good events' ids"

t_start_collector collector
COLL=$T_LAST_PID
t_wait_log "$T_DIR/collector.log" 'msg="partition assigned"' 60 "$COLL"

# All on partition 0, in order. Runs of files go through one kcat each (each
# file one message; an idempotent producer keeps the order even if a request
# is retried). kcat skips empty files, so the empty message is sent in line
# mode as "key<TAB>" (an empty value) and the NULL one the same way with -Z;
# each kcat has delivered everything before the next one starts.
KCAT=(kcat -P -b "$T_BROKER" -t "$TOPIC" -p 0 -X message.max.bytes=4000000
      -X enable.idempotence=true)
run=()
flush_run() {
    [ "${#run[@]}" = 0 ] && return 0
    "${KCAT[@]}" -k poison "${run[@]}" 2>>"$T_DIR/kcat.log" ||
        t_fail "kcat -P failed: $(tail -n 3 "$T_DIR/kcat.log")"
    run=()
}
for f in "${order[@]}"; do
    if [ "$f" = @null ] || [ ! -s "$f" ]; then
        flush_run
        nullflag=()
        [ "$f" = @null ] && nullflag=(-Z)
        printf 'poison\t\n' | "${KCAT[@]}" -K '\t' "${nullflag[@]}" 2>>"$T_DIR/kcat.log" ||
            t_fail "kcat -P (empty value) failed: $(tail -n 3 "$T_DIR/kcat.log")"
    else
        run+=("$f")
    fi
done
flush_run
t_log "sent $TOTAL messages ($NP poison, $NG good) to $TOPIC partition 0"

t_wait_sql "SELECT count(*) FROM rejected_events" "$NP" 120
t_wait_count "$NG" 60
t_wait_sql "SELECT coalesce(max(next_offset), -1) FROM ingest_offsets
             WHERE topic = '$TOPIC' AND kafka_partition = 0" "$TOTAL" 60

# Every poison message: one row at its offset, whole raw bytes, and a reason
# that holds the expected words.
t_sql "SELECT kafka_offset || E'\t' || raw_size || E'\t' || md5(raw) || E'\t' || reason
         FROM rejected_events
        WHERE consumer_group = '$CUSTOS_KAFKA_GROUP' AND topic = '$TOPIC'
          AND kafka_partition = 0 AND NOT raw_truncated
        ORDER BY kafka_offset" >"$T_DIR/got.rejected"
[ "$(wc -l <"$T_DIR/got.rejected")" = "$NP" ] ||
    t_fail "$(wc -l <"$T_DIR/got.rejected") complete rejected rows on $TOPIC/0, want $NP"
bad=0
for ((i = 0; i < NP; i++)); do
    IFS=$'\t' read -r eoff esize emd5 ename <<<"$(sed -n "$((i + 1))p" "$exp_rej")"
    IFS=$'\t' read -r goff gsize gmd5 greason <<<"$(sed -n "$((i + 1))p" "$T_DIR/got.rejected")"
    want=${reasons[$i]}
    if [ "$goff" != "$eoff" ]; then
        t_log "$ename: rejected at offset $goff, sent at $eoff"
        bad=$((bad + 1))
    elif [ "$gsize" != "$esize" ] || [ "$gmd5" != "$emd5" ]; then
        t_log "$ename: raw kept is $gsize bytes md5 $gmd5, sent $esize bytes md5 $emd5"
        bad=$((bad + 1))
    elif [[ "$greason" != *"$want"* ]]; then
        t_log "$ename: reason \"$greason\" lacks \"$want\""
        bad=$((bad + 1))
    fi
done
[ "$bad" = 0 ] || t_fail "$bad of $NP poison messages not recorded as expected"
t_log "all $NP poison messages rejected at their offsets with their raw bytes and reasons"
t_sql "SELECT kafka_offset || ' ' || reason FROM rejected_events ORDER BY kafka_offset" |
    head -n 5 | while read -r l; do t_log "  e.g. $l"; done

# Every good event exactly once, at its offset, with its content.
t_sql "SELECT kafka_offset || ' ' || event_id FROM interactions
        WHERE kafka_topic = '$TOPIC' AND kafka_partition = 0 ORDER BY kafka_offset" \
    >"$T_DIR/got.good"
cmp -s "$exp_good" "$T_DIR/got.good" ||
    t_fail "stored good events differ: $(diff "$exp_good" "$T_DIR/got.good" | head -5)"
want_sum=$(t_input_sum "$T_DIR/good.jsonl")
got_sum=$(t_stored_sum)
[ "$want_sum" = "$got_sum" ] || t_fail "content differs: input $want_sum, stored $got_sum"
t_log "all $NG good events stored once at their offsets (count distinct md5 = $got_sum)"

# Offsets past everything: partition 0 at TOTAL, the empty one at 0.
t_check_offsets "$TOPIC" "$PARTS"
[ "$T_HWM_SUM" = "$TOTAL" ] || t_fail "broker holds $T_HWM_SUM messages, sent $TOTAL"

# The collector is still healthy after all that: a graceful stop exits 0.
kill -TERM "$COLL"
rc=0
wait "$COLL" || rc=$?
[ "$rc" = 0 ] || t_fail "custos run exited $rc on SIGTERM after the poison corpus"
t_log "PASS"
