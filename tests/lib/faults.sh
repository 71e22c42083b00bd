# The fault tests' stream (sourced after env.sh and ingest.sh): a fresh
# database, the embedded broker with PARTS partitions and N generated
# events; collectors started and waited for; the paced producer; and at the
# end the checks every fault test makes. Each wait is on progress or a
# condition with a deadline, never a bare clock.

# t_fault_setup PARTS N SEED: database, broker and $T_DIR/events.jsonl
# (N events of `custos gen --seed SEED`).
t_fault_setup() {
    t_db
    t_broker "$1"
    t_gen "$T_DIR/events.jsonl" "$2" "$3"
}

# t_fault_collector NAME: starts `custos run` (log in $T_DIR/NAME.log) and
# waits until it holds a partition; sets T_LAST_PID.
t_fault_collector() {
    t_start_collector "$1"
    t_wait_log "$T_DIR/$1.log" 'msg="partition assigned"' 60 "$T_LAST_PID"
}

# t_fault_stream RATE: starts the producer on $T_DIR/events.jsonl at RATE
# events/s; sets T_PROD (its PID) and T0 (SECONDS at its start).
t_fault_stream() {
    t_produce "$1" "$T_DIR/events.jsonl"
    T_PROD=$T_LAST_PID
    T0=$SECONDS
}

# t_owned LOG: the partitions LOG's collector holds now (replays its
# "partition assigned" / "partition revoked" lines), space-separated, sorted.
t_owned() {
    awk '/msg="partition assigned"/ { match($0, /partition=[0-9]+/); own[substr($0, RSTART + 10, RLENGTH - 10)] = 1 }
         /msg="partition revoked"/  { match($0, /partition=[0-9]+/); delete own[substr($0, RSTART + 10, RLENGTH - 10)] }
         END { for (p in own) print p }' "$1" | sort -n | tr '\n' ' ' | sed 's/ $//'
}

# t_count_words WORDS: how many.
t_count_words() { wc -w <<<"$1" | tr -d ' '; }

# t_wait_split LOG_A LOG_B PARTS: waits (60 s at most) until the two
# collectors' partitions are disjoint and together all PARTS; sets T_OWNED_A
# and T_OWNED_B.
t_wait_split() {
    local deadline=$((SECONDS + 60)) na nb both
    while :; do
        T_OWNED_A=$(t_owned "$1")
        T_OWNED_B=$(t_owned "$2")
        na=$(t_count_words "$T_OWNED_A")
        nb=$(t_count_words "$T_OWNED_B")
        both=$(printf '%s\n' $T_OWNED_A $T_OWNED_B | sort -n | uniq | wc -l)
        [ "$na" -gt 0 ] && [ "$nb" -gt 0 ] && [ $((na + nb)) = "$3" ] && [ "$both" = "$3" ] && break
        [ "$SECONDS" -lt "$deadline" ] || t_fail "group did not split: a=[$T_OWNED_A] b=[$T_OWNED_B]"
        sleep 0.5
    done
    t_log "group split: a holds [$T_OWNED_A], b holds [$T_OWNED_B]"
}

# t_wait_owns_all LOG PARTS PID: waits (60 s at most) until LOG's collector
# holds all PARTS partitions; fails if PID exits. Runs ON_FAIL (a string,
# optional 4th argument) before failing.
t_wait_owns_all() {
    local deadline=$((SECONDS + 60))
    while [ "$(t_count_words "$(t_owned "$1")")" != "$2" ]; do
        [ "$SECONDS" -lt "$deadline" ] || { eval "${4:-:}"; t_fail "$(basename "$1" .log) did not take the partitions over: holds [$(t_owned "$1")]"; }
        kill -0 "$3" 2>/dev/null || { eval "${4:-:}"; t_fail "$(basename "$1" .log) died: $(tail -n 5 "$1")"; }
        sleep 0.5
    done
}

# t_wait_stream_stored N: waits for the producer (it must deliver all) and
# then for the N rows (no row stored for 120 s fails).
t_wait_stream_stored() {
    t_wait_producer "$T_PROD"
    t_wait_count "$1" 120
}

# t_check_stream N PARTS LOG...: every event stored exactly once, the
# stored offsets (of group $CUSTOS_KAFKA_GROUP) equal the broker's high
# watermarks, which sum to N (the broker dropped nothing), and no
# collector log (LOG...) has an offset gap.
t_check_stream() {
    local n=$1 parts=$2 gaps
    shift 2
    t_check_exactly_once "$T_DIR/events.jsonl"
    t_check_offsets custos.interactions "$parts"
    [ "$T_HWM_SUM" = "$n" ] || t_fail "broker holds $T_HWM_SUM messages, sent $n"
    gaps=$(cat "$@" | grep -c 'offset gap' || true)
    [ "$gaps" = 0 ] || t_fail "collector logged $gaps offset gaps (broker retention overrun)"
}
