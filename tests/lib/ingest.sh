# Helpers for the ingest integration and fault tests (sourced after env.sh):
# generate input, start collectors, wait for them, and compare what
# PostgreSQL holds with the input (count, distinct event ids, content
# checksum, stored offsets against the broker's high watermarks).

T_CONTENT_SUM="$CUSTOS_SOURCE_DIR/tests/lib/content_sum.py"

# t_gen FILE COUNT SEED: deterministic realistic events (custos gen).
t_gen() {
    "$CUSTOS_BIN" gen --count "$2" --seed "$3" >"$1"
    [ "$(wc -l <"$1")" = "$2" ] || t_fail "custos gen wrote $(wc -l <"$1") lines, wanted $2"
}

# t_input_sum FILE: "COUNT DISTINCT MD5" of the input (tests/lib/content_sum.py).
t_input_sum() { python3 "$T_CONTENT_SUM" "$@"; }

# t_stored_sum: the same figure computed by PostgreSQL over interactions.
t_stored_sum() {
    t_sql "SELECT count(*) || ' ' || count(DISTINCT event_id) || ' ' ||
                  md5(coalesce(string_agg(h, '' ORDER BY event_id COLLATE \"C\", h), ''))
             FROM (SELECT event_id,
                          md5(concat_ws(chr(31), event_id,
                                        (extract(epoch FROM ts) * 1000000)::bigint::text,
                                        api_key_id, model, model_version,
                                        coalesce(prompt, '\\N'), coalesce(response, '\\N'))) AS h
                     FROM interactions) s"
}

# t_count: rows in interactions.
t_count() { t_sql "SELECT count(*) FROM interactions"; }

# t_produce RATE FILE [ARGS...]: starts `custos produce` in the background
# under the name "producer" (wait for it with t_wait_producer); sets
# T_LAST_PID. The producer batches for T_LINGER_MS (100 ms), as a gateway
# does: the embedded broker hands a consumer one producer batch per partition
# per fetch, so after an outage a partition drains at (batch size / fetch
# round trip). With 5 ms batches the busiest partition of a 2000 ev/s stream
# holds 2 events per batch and a loaded machine (~5 ms a fetch) never drains
# its backlog; with 100 ms batches it holds ~50 and drains many times faster
# than it fills.
T_LINGER_MS=${T_LINGER_MS:-100}
t_produce() {
    local rate=$1 file=$2; shift 2
    t_start producer "$CUSTOS_BIN" produce --rate "$rate" --linger-ms "$T_LINGER_MS" "$@" "$file"
}

# t_wait_caught_up N RATE T0 LAG STALL: waits until the table holds what the
# producer (started at SECONDS=T0 at RATE ev/s, N in all) sent up to LAG
# seconds ago. Fails only when nothing was stored for STALL seconds: waiting
# on progress, so a slow machine is slow, not failed. A collector that stays
# behind for good shows as the broker's offset gaps at the end.
t_wait_caught_up() {
    local n=$1 rate=$2 t0=$3 lag=$4 stall=$5 c last=-1 since=$SECONDS
    while c=$(t_count); [ "$c" -lt "$n" ] && [ "$c" -lt $(((SECONDS - t0 - lag) * rate)) ]; do
        if [ "$c" != "$last" ]; then last=$c; since=$SECONDS; fi
        [ $((SECONDS - since)) -lt "$stall" ] ||
            t_fail "nothing stored for ${stall}s while catching up (stored $c)"
        sleep 0.5
    done
}

# t_start_collector NAME [ENV=VALUE...]: starts `custos run` (log in
# $T_DIR/NAME.log); sets T_LAST_PID.
t_start_collector() {
    local name=$1; shift
    t_start "$name" env "$@" "$CUSTOS_BIN" run --log-level info
}

# t_wait_log FILE PATTERN SECS [PID]: waits until FILE has a line matching
# PATTERN (grep -E); fails early if PID exits.
t_wait_log() {
    local file=$1 pat=$2 secs=$3 pid=${4:-}
    local deadline=$(($(t_now) + secs))
    while [ "$(t_now)" -lt "$deadline" ]; do
        grep -qE "$pat" "$file" 2>/dev/null && return 0
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            t_fail "process $pid exited while waiting for /$pat/ in $file: $(tail -n 5 "$file")"
        fi
        sleep 0.2
    done
    t_fail "waited ${secs}s for /$pat/ in $file: $(tail -n 5 "$file" 2>/dev/null)"
}

# t_extra_rows: which events interactions holds more than once, with their
# Kafka coordinates: one event at two offsets is a message the broker holds
# twice (a producer's retry); one offset stored twice would be custos's.
t_extra_rows() {
    t_sql "SELECT coalesce(string_agg(x, '; '), 'no event id twice') FROM (SELECT event_id || ' at '
             || string_agg(kafka_topic || ':' || kafka_partition || ':' || kafka_offset, ', ' ORDER BY kafka_offset)
             AS x FROM interactions GROUP BY event_id HAVING count(*) > 1 LIMIT 5) d" 2>&1 | head -c 1500
}

# t_wait_count N SECS: waits until interactions holds N rows; fails at once
# if it holds more, and when no row was added for SECS seconds (progress, not
# a clock: a slow machine is slow, not failed).
t_wait_count() {
    local want=$1 secs=$2 got=0 last=-1 since
    since=$(t_now)
    while :; do
        got=$(t_count)
        [ "$got" -gt "$want" ] && t_fail "interactions holds $got rows, more than the $want sent: $(t_extra_rows)"
        [ "$got" = "$want" ] && return 0
        if [ "$got" != "$last" ]; then last=$got; since=$(t_now); fi
        [ $(($(t_now) - since)) -lt "$secs" ] ||
            t_fail "no row stored for ${secs}s: want $want rows in interactions, have $got"
        sleep 0.5
    done
}

# t_check_exactly_once FILE...: the stored table equals the input: same count,
# no duplicate event id, same content checksum. Prints the figures.
t_check_exactly_once() {
    local want got
    want=$(t_input_sum "$@")
    got=$(t_stored_sum)
    t_log "input:  count distinct md5 = $want"
    t_log "stored: count distinct md5 = $got"
    [ "$want" = "$got" ] || t_fail "stored table differs from the input"
    local rej
    rej=$(t_sql "SELECT count(*) FROM rejected_events")
    [ "$rej" = 0 ] || t_fail "$rej events were rejected: $(t_sql "SELECT reason FROM rejected_events LIMIT 3")"
    local dup
    dup=$(t_sql "SELECT count(*) FROM (SELECT 1 FROM interactions
                  GROUP BY kafka_partition, kafka_offset HAVING count(*) > 1) d")
    [ "$dup" = 0 ] || t_fail "$dup Kafka offsets stored more than once"
}

# t_hwm TOPIC PARTITIONS: "partition hwm" lines from the broker (kcat -Q).
t_hwm() {
    local topic=$1 parts=$2 args=()
    for ((p = 0; p < parts; p++)); do args+=(-t "$topic:$p:-1"); done
    kcat -Q -b "$T_BROKER" "${args[@]}" |
        sed -nE 's/^.* \[([0-9]+)\] offset (-?[0-9]+)$/\1 \2/p' | sort -n
}

# t_check_offsets TOPIC PARTITIONS [GROUP]: ingest_offsets equals the broker's
# high watermarks, and every partition's stored rows reach its watermark.
t_check_offsets() {
    local topic=$1 parts=$2 group=${3:-${CUSTOS_KAFKA_GROUP:-custos}}
    local hwm stored total=0
    hwm=$(t_hwm "$topic" "$parts")
    [ "$(printf '%s\n' "$hwm" | grep -c .)" = "$parts" ] || t_fail "kcat -Q gave: $hwm"
    stored=$(t_sql "SELECT p, greatest(coalesce(o.next_offset, 0), 0)
                      FROM generate_series(0, $parts - 1) p
                      LEFT JOIN ingest_offsets o ON o.kafka_partition = p
                           AND o.consumer_group = '$group' AND o.topic = '$topic'
                     ORDER BY p" | tr '|' ' ')
    if [ "$hwm" != "$stored" ]; then
        t_log "broker high watermarks: $(echo $hwm)"
        t_log "ingest_offsets:         $(echo $stored)"
        t_fail "ingest_offsets differs from the broker's high watermarks"
    fi
    while read -r _ o; do total=$((total + o)); done <<<"$hwm"
    t_log "ingest_offsets = high watermarks on all $parts partitions (sum $total)"
    T_HWM_SUM=$total
}

# t_wait_producer PID: waits for a `custos produce` started with t_start
# under the name "producer"; fails unless it delivered everything.
t_wait_producer() {
    local rc=0
    wait "$1" || rc=$?
    [ "$rc" = 0 ] || t_fail "producer exited $rc: $(tail -n 3 "$T_DIR/producer.log")"
    t_log "producer: $(grep 'msg="done"' "$T_DIR/producer.log" | sed 's/^.*msg="done" //')"
}

# t_rss_hwm PID: peak resident set of PID in kB (VmHWM), or 0 if gone.
t_rss_hwm() { awk '/^VmHWM:/ {print $2}' "/proc/$1/status" 2>/dev/null || echo 0; }

# t_watermark TOPIC PARTITION WHICH: the broker's log start (-2) or end (-1).
t_watermark() {
    kcat -Q -b "$T_BROKER" -t "$1:$2:$3" 2>/dev/null | sed -nE 's/^.* offset (-?[0-9]+)$/\1/p'
}

# t_stop_collector PID: SIGTERM and wait (it commits what it holds).
t_stop_collector() {
    kill -TERM "$1"
    wait "$1" 2>/dev/null || true
}

# t_store_first NAME FILE TOPIC OFFSET_SQL N: a collector (log NAME.log)
# stores FILE's N events (OFFSET_SQL reads N once they are) and stops.
t_store_first() {
    local name=$1 file=$2 topic=$3 sql=$4 n=$5 c
    t_start_collector "$name"
    c=$T_LAST_PID
    t_wait_log "$T_DIR/$name.log" 'msg="partition assigned"' 60 "$c"
    "$CUSTOS_BIN" produce --rate 0 --topic "$topic" "$file" 2>"$T_DIR/$name.produce.log" ||
        t_fail "producer failed: $(tail -n 3 "$T_DIR/$name.produce.log")"
    t_wait_sql "$sql" "$n" 60
    t_stop_collector "$c"
}
