#!/usr/bin/env bash
# Ingest benchmark: Kafka (embedded broker) -> custos run -> PostgreSQL.
#
#   bash bench/ingest/run.sh
#
# Builds custos if needed, starts a private PostgreSQL and the embedded
# broker, offers ~1.2 KB chat-like events (custos gen) at rising paced rates,
# one fresh database, topic and collector process per step, and reports:
#   - the highest offered rate sustained (every event stored once, no offset
#     gap, bounded lag, producer kept the pace);
#   - produce -> commit latency p50/p99 at 80 % of that rate (separate run);
#   - peak RSS (VmHWM) of custos run;
#   - the ceiling: psql \copy of the same rows into the same schema, rows/s;
# each beside its target. See bench/ingest/README.md. Nothing here asserts
# speed: the exit status is 0 when the benchmark ran, whatever the figures.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RATES=${BENCH_RATES:-"5000 10000 15000 20000 25000 30000 40000"}
STEP_S=${BENCH_STEP_SECONDS:-25}
PARTS=${BENCH_PARTITIONS:-16}
# The producer's batching, as a gateway's would be: the mock broker hands out
# one producer batch per partition per fetch, so 5 ms batches cap the
# Zipf-hot partition (about a quarter of the events) near 7k events/s.
LINGER_MS=${BENCH_LINGER_MS:-25}
REFINE=${BENCH_REFINE:-1}           # one more step between the last pass and the first failure
MAX_LAG_S=${BENCH_MAX_LAG_SECONDS:-2}  # "bounded lag": never more than this many seconds of traffic
MAX_DRAIN_S=${BENCH_MAX_DRAIN_SECONDS:-5}
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55452}
WORK=$(mktemp -d /tmp/custos-bench.XXXXXX)
KEEP=${BENCH_KEEP:-0}

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# ---- build, PostgreSQL, broker ----------------------------------------------

if [ -z "${CUSTOS_BIN:-}" ]; then
    CUSTOS_BIN=$ROOT/build/custos
    if [ ! -x "$CUSTOS_BIN" ]; then
        log "building custos (cmake, -j2)"
        cmake -S "$ROOT" -B "$ROOT/build" >"$WORK/build.log" 2>&1 &&
            cmake --build "$ROOT/build" -j2 >>"$WORK/build.log" 2>&1 ||
            die "build failed, see $WORK/build.log"
    fi
fi
B=$CUSTOS_BIN
: "${CUSTOS_PROMPTS_DIR:=$ROOT/data/prompts}" # custos gen's prompt sets
export CUSTOS_PROMPTS_DIR
for tool in psql createdb kcat python3 awk; do
    command -v "$tool" >/dev/null || die "$tool is needed (README: the install command)"
done

PIDS=()
PG_STARTED=0
cleanup() {
    local rc=$?
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    # only the PostgreSQL this run started: a run refused by the lock below
    # must not stop the one another run is using
    [ "$PG_STARTED" = 1 ] && { pg_stop "$PGDIR" 2>/dev/null || true; }
    if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

. "$ROOT/scripts/pg.sh"
mkdir -p "$(dirname "$PGDIR")"
exec 9>"$PGDIR.lock"
flock -n 9 || die "another benchmark is using $PGDIR (BENCH_PG_DIR and BENCH_PG_PORT choose another)"
PG_STARTED=1
pg_start "$PGDIR" "$PGPORT_BENCH" >/dev/null || die "cannot start PostgreSQL in $PGDIR"
export PGUSER=postgres
log "PostgreSQL $("$PG_BIN/postgres" --version | awk '{print $3}') in $PGDIR (port $PGPORT_BENCH)"

nsteps=0
for _ in $RATES; do nsteps=$((nsteps + 1)); done
TOPIC_ARGS=()
for ((i = 1; i <= nsteps + 2; i++)); do TOPIC_ARGS+=(--topic "bench.$i"); done
"$B" broker --partitions "$PARTS" "${TOPIC_ARGS[@]}" >"$WORK/broker.out" 2>"$WORK/broker.log" &
PIDS+=($!)
for _ in $(seq 100); do
    BROKER=$(head -n1 "$WORK/broker.out" 2>/dev/null || true)
    [ -n "$BROKER" ] && break
    sleep 0.1
done
[ -n "$BROKER" ] || die "broker did not start: $(cat "$WORK/broker.log")"
export CUSTOS_KAFKA_BROKERS=$BROKER CUSTOS_KAFKA_GROUP=bench

# ---- input ------------------------------------------------------------------

max_events=0
for r in $RATES; do [ $((r * STEP_S)) -gt "$max_events" ] && max_events=$((r * STEP_S)); done
"$B" gen --count "$max_events" --seed 1 >"$WORK/events.jsonl"
EV_BYTES=$(($(wc -c <"$WORK/events.jsonl") / max_events))
log "generated $max_events events, $EV_BYTES bytes each on average"

# ---- one step -----------------------------------------------------------------

TOPIC_NO=0
COLS="ts, event_id, api_key_id, model, model_version, tenant, user_id, session_id, client_ip, prompt, response, prompt_truncated, response_truncated, prompt_tokens, completion_tokens, latency_ms, status, finish_reason, refusal, scores, attrs, kafka_topic, kafka_partition, kafka_offset, kafka_ts"

dsn() { echo "host=$PGDIR port=$PGPORT_BENCH user=postgres dbname=$1"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$(dsn "$1")" -c "$2"; }

# cpu_ticks PID: user + system clock ticks of PID so far.
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat" 2>/dev/null || echo 0; }

# hwm_list TOPIC: "partition high_watermark" lines from the broker.
hwm_list() {
    local args=()
    for ((p = 0; p < PARTS; p++)); do args+=(-t "$1:$p:-1"); done
    kcat -Q -b "$BROKER" "${args[@]}" 2>/dev/null |
        sed -nE 's/^.* \[([0-9]+)\] offset (-?[0-9]+)$/\1 \2/p'
}
hwm_sum() { hwm_list "$1" | awk '{s += $2} END {print s + 0}'; }

# lag_sample TOPIC DB: "seconds hwm committed lag worst_partition worst_lag".
lag_sample() {
    {
        hwm_list "$1" | sed 's/^/h /'
        q "$2" "SELECT 'c ' || kafka_partition || ' ' || greatest(next_offset, 0) FROM ingest_offsets" 2>/dev/null
    } | awk -v t="$SECONDS" '$1 == "h" {h[$2] = $3} $1 == "c" {c[$2] = $3}
        END {for (p in h) {l = h[p] - c[p]; H += h[p]; C += c[p]; if (l > wl) {wl = l; wp = p}}
             print t, H + 0, C + 0, H - C, (wp == "" ? "-" : wp), wl + 0}'
}

# run_step RATE: sets S_* figures; returns 0 when the rate was sustained.
run_step() {
    local rate=$1 n=$(($1 * STEP_S))
    TOPIC_NO=$((TOPIC_NO + 1))
    local topic=bench.$TOPIC_NO db=bench_$TOPIC_NO dir=$WORK/step$TOPIC_NO
    mkdir -p "$dir"
    S_DB=$db
    dropdb --if-exists "$db" 2>/dev/null || true
    createdb "$db"
    CUSTOS_POSTGRES_DSN=$(dsn "$db") "$B" migrate --log-level warn
    : >"$dir/collector.log"
    CUSTOS_POSTGRES_DSN=$(dsn "$db") CUSTOS_KAFKA_TOPICS=$topic "$B" run --log-level info \
        2>"$dir/collector.log" &
    local coll=$!
    PIDS+=("$coll")
    local deadline=$((SECONDS + 60))
    until [ "$(grep -c 'msg="partition assigned"' "$dir/collector.log")" -ge "$PARTS" ]; do
        [ "$SECONDS" -lt "$deadline" ] || die "collector not assigned: $(tail -n 3 "$dir/collector.log")"
        kill -0 "$coll" 2>/dev/null || die "collector exited: $(tail -n 3 "$dir/collector.log")"
        sleep 0.2
    done
    # Lag sampler: broker high watermarks minus offsets committed in
    # PostgreSQL, in total and on the partition that lags most.
    (
        while :; do
            lag_sample "$topic" "$db"
            sleep 1
        done
    ) >"$dir/lag.txt" &
    local sampler=$!
    PIDS+=("$sampler")
    log "step $TOPIC_NO: offering $rate ev/s for ${STEP_S}s ($n events, topic $topic)"
    local cpu0 t_start
    cpu0=$(cpu_ticks "$coll")
    t_start=$(date +%s.%N)
    local prc=0
    "$B" produce --rate "$rate" --count "$n" --topic "$topic" --linger-ms "$LINGER_MS" \
        "$WORK/events.jsonl" 2>"$dir/producer.log" || prc=$?
    local t_done=$SECONDS
    # Drain: wait until PostgreSQL holds every offset (or give up).
    local drained=no committed=0
    deadline=$((SECONDS + 60))
    while [ "$SECONDS" -lt "$deadline" ]; do
        committed=$(q "$db" "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM ingest_offsets")
        [ "$committed" -ge "$n" ] && { drained=yes; break; }
        kill -0 "$coll" 2>/dev/null || break
        sleep 0.2
    done
    S_DRAIN=$((SECONDS - t_done))
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
    S_RSS_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$coll/status" 2>/dev/null || echo 0)
    # Cores the collector used on average from the first event to the drain.
    S_CPU=$(awk -v a="$cpu0" -v b="$(cpu_ticks "$coll")" -v hz="$(getconf CLK_TCK)" \
        -v t0="$t_start" -v t1="$(date +%s.%N)" 'BEGIN {printf "%.2f", (b - a) / hz / (t1 - t0)}')
    kill -TERM "$coll" 2>/dev/null || true
    wait "$coll" 2>/dev/null || true
    local stopped
    stopped=$(grep 'msg="collector stopped"' "$dir/collector.log" || true)
    S_P50=$(sed -nE 's/^.* latency_p50_ms=([0-9.]+).*$/\1/p' <<<"$stopped")
    S_P99=$(sed -nE 's/^.* latency_p99_ms=([0-9.]+).*$/\1/p' <<<"$stopped")
    S_ACHIEVED=$(sed -nE 's/^.* rate=([0-9]+).*$/\1/p' "$dir/producer.log" | tail -n1)
    S_ACHIEVED=${S_ACHIEVED:-0}
    local counts
    counts=$(q "$db" "SELECT count(*), count(DISTINCT event_id),
                             coalesce(round(1000 * percentile_cont(0.5) WITHIN GROUP
                                 (ORDER BY extract(epoch FROM received_at - kafka_ts)::float8)), 0),
                             coalesce(round(1000 * percentile_cont(0.99) WITHIN GROUP
                                 (ORDER BY extract(epoch FROM received_at - kafka_ts)::float8)), 0)
                        FROM interactions")
    IFS='|' read -r S_STORED S_DISTINCT S_SQL_P50 S_SQL_P99 <<<"$counts"
    S_GAPS=$(grep -c 'offset gap\|no longer on the broker' "$dir/collector.log" || true)
    S_MAXLAG=$(awk 'BEGIN {m = 0} $4 > m {m = $4} END {print m}' "$dir/lag.txt")
    # The partition that lagged most, and its share of the step's events.
    S_WORST=$(awk 'BEGIN {m = -1} $6 > m {m = $6; p = $5} END {print p}' "$dir/lag.txt")
    S_WORST_SHARE=$(hwm_list "$topic" | awk -v p="$S_WORST" -v n="$n" '$1 == p {printf "%.0f", 100 * $2 / n}')
    local hwm
    hwm=$(hwm_sum "$topic")
    S_LOST=$((n - S_DISTINCT))
    S_WHY=""
    [ "$prc" = 0 ] || S_WHY+="producer failed ($prc); "
    [ "$hwm" = "$n" ] || S_WHY+="broker holds $hwm of $n; "
    [ "$S_ACHIEVED" -ge $((rate * 95 / 100)) ] || S_WHY+="producer reached only $S_ACHIEVED ev/s; "
    [ "$S_STORED" = "$n" ] && [ "$S_DISTINCT" = "$n" ] || S_WHY+="stored $S_STORED ($S_DISTINCT distinct) of $n; "
    [ "$S_GAPS" = 0 ] || S_WHY+="$S_GAPS offset gaps (broker retention overrun); "
    [ "$drained" = yes ] || S_WHY+="not drained 60 s after the producer; "
    [ "$S_DRAIN" -le "$MAX_DRAIN_S" ] || S_WHY+="drain took ${S_DRAIN}s; "
    [ "$S_MAXLAG" -le $((rate * MAX_LAG_S)) ] || S_WHY+="lag reached $S_MAXLAG events; "
    [ -z "$S_WHY" ] || S_WHY+="most lag on partition $S_WORST (${S_WORST_SHARE:-?} % of the events); "
    S_RESULT=ok
    [ -z "$S_WHY" ] || S_RESULT=FAIL
    printf '%6s %8s %8s %8s %6s %8s %6s %8s %8s %8s %8s %6s %6s  %s\n' \
        "$TOPIC_NO" "$rate" "$S_ACHIEVED" "$S_STORED" "$S_LOST" "$S_MAXLAG" "${S_DRAIN}s" \
        "${S_P50:-?}" "${S_P99:-?}" "$S_SQL_P50" "$S_SQL_P99" "$((S_RSS_KB / 1024))" "$S_CPU" \
        "$S_RESULT${S_WHY:+: ${S_WHY%; }}" | tee -a "$WORK/steps.txt" >&2
    [ "$S_RESULT" = ok ]
}

HEADER=$(printf '%6s %8s %8s %8s %6s %8s %6s %8s %8s %8s %8s %6s %6s  %s' \
    step offered achieved stored lost max_lag drain p50_ms p99_ms sqlp50 sqlp99 rss_MB cores result)
echo "$HEADER" >"$WORK/steps.txt"
log "columns: p50/p99 = collector histogram (produce -> commit, bucket upper bounds);"
log "         sqlp50/sqlp99 = received_at - kafka_ts in SQL (produce -> transaction start)"
echo "$HEADER" >&2

# ---- the ladder -----------------------------------------------------------------

SUSTAINED=0 SUST_DB="" FIRST_FAIL=0 PEAK_RSS_KB=0
keep_db() {
    [ -n "$SUST_DB" ] && [ "$SUST_DB" != "$1" ] && dropdb --if-exists "$SUST_DB" 2>/dev/null || true
    SUST_DB=$1
}
for r in $RATES; do
    if run_step "$r"; then
        SUSTAINED=$r
        keep_db "$S_DB"
    else
        FIRST_FAIL=$r
        dropdb --if-exists "$S_DB" 2>/dev/null || true
    fi
    [ "$S_RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$S_RSS_KB
    [ "$FIRST_FAIL" = 0 ] || break
done
if [ "$REFINE" = 1 ] && [ "$FIRST_FAIL" -gt 0 ] && [ "$SUSTAINED" -gt 0 ]; then
    mid=$(((SUSTAINED + FIRST_FAIL) / 2 / 1000 * 1000))
    if [ "$mid" -gt "$SUSTAINED" ] && [ "$mid" -lt "$FIRST_FAIL" ]; then
        if run_step "$mid"; then SUSTAINED=$mid; keep_db "$S_DB"; else dropdb --if-exists "$S_DB" 2>/dev/null || true; fi
        [ "$S_RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$S_RSS_KB
    fi
fi
[ "$SUSTAINED" -gt 0 ] || die "no rate was sustained; see $WORK/steps.txt"

# ---- latency at 80 % of the sustained rate ----------------------------------------

R80=$((SUSTAINED * 8 / 10 / 100 * 100))
log "latency run at 80 % of the sustained rate: $R80 ev/s"
run_step "$R80" || true
L_RESULT=$S_RESULT L_P50=$S_P50 L_P99=$S_P99 L_SQL_P50=$S_SQL_P50 L_SQL_P99=$S_SQL_P99
[ "$S_RSS_KB" -gt "$PEAK_RSS_KB" ] && PEAK_RSS_KB=$S_RSS_KB
dropdb --if-exists "$S_DB" 2>/dev/null || true

# ---- the ceiling: psql \copy of the same rows into the same schema -------------------

ROWS=$(q "$SUST_DB" "SELECT count(*) FROM interactions")
log "ceiling: \\copy of the $ROWS rows the collector stored at $SUSTAINED ev/s"
psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn "$SUST_DB")" \
    -c "\\copy (SELECT $COLS FROM interactions) TO '$WORK/rows.copy'"
dropdb --if-exists bench_ceiling 2>/dev/null || true
createdb bench_ceiling
CUSTOS_POSTGRES_DSN=$(dsn bench_ceiling) "$B" migrate --log-level warn
psql -X -q -d "$(dsn bench_ceiling)" -c "CHECKPOINT" >/dev/null
t0=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 -d "$(dsn bench_ceiling)" -c "\\copy interactions ($COLS) FROM '$WORK/rows.copy'"
t1=$(date +%s.%N)
COPIED=$(q bench_ceiling "SELECT count(*) FROM interactions")
[ "$COPIED" = "$ROWS" ] || die "\\copy loaded $COPIED of $ROWS rows"
CEILING=$(awk -v n="$ROWS" -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", n / (b - a)}')
COPY_S=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.2f", b - a}')
dropdb --if-exists bench_ceiling 2>/dev/null || true
dropdb --if-exists "$SUST_DB" 2>/dev/null || true

# ---- report ------------------------------------------------------------------------------

RATIO=$(awk -v s="$SUSTAINED" -v c="$CEILING" 'BEGIN {printf "%.2f", s / c}')
P99_S=$(awk -v p="${L_P99:-0}" 'BEGIN {printf "%.2f", p / 1000}')
RSS_MB=$((PEAK_RSS_KB / 1024))
yes_no() { if awk "BEGIN {exit !($1)}"; then echo yes; else echo no; fi; }
{
    echo
    echo "custos ingest benchmark - $(nproc) cores, $PARTS partitions, ~$EV_BYTES B events, ${STEP_S}s per step, producer linger ${LINGER_MS} ms," \
        "live analytics ${CUSTOS_COLLECTOR_ANALYTICS:-on}"
    echo
    cat "$WORK/steps.txt"
    echo
    printf '%-44s %-22s %-12s %s\n' figure value target met
    printf '%-44s %-22s %-12s %s\n' "sustained rate (highest step ok)" "$SUSTAINED ev/s" "" ""
    printf '%-44s %-22s %-12s %s\n' "ceiling: psql \\copy, same rows and schema" "$CEILING rows/s" "" \
        "($ROWS rows in ${COPY_S}s)"
    printf '%-44s %-22s %-12s %s\n' "sustained / ceiling" "$RATIO" ">= 0.90" "$(yes_no "$RATIO >= 0.90")"
    printf '%-44s %-22s %-12s %s\n' "p99 produce->commit at 80 % ($R80 ev/s)" "${P99_S} s (p50 ${L_P50} ms)" \
        "<= 1 s" "$(yes_no "$P99_S <= 1.0")"
    printf '%-44s %-22s %-12s %s\n' "  same, SQL received_at - kafka_ts" "p50 ${L_SQL_P50} ms, p99 ${L_SQL_P99} ms" "" \
        "(run at 80 %: $L_RESULT)"
    printf '%-44s %-22s %-12s %s\n' "peak RSS of custos run (VmHWM, all steps)" "$RSS_MB MB" "<= 256 MB" \
        "$(yes_no "$RSS_MB <= 256")"
} | tee "$WORK/report.txt"
