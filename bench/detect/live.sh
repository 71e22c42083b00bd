#!/usr/bin/env bash
# Live analytics figures, against the embedded broker and a private
# PostgreSQL (started if PGHOST is not set):
#  1. sustained ingest rate of `custos run` with and without the analytics
#     (collector.analytics on/off), N events produced at RATE (paced: above
#     what the collector sustains, below what the embedded broker drops);
#     target: the analytics cost <= 10 %.
#  2. committed event -> alert and incident rows committed, p50/p99, with the
#     events' time following the wall clock (default reorder window);
#     target: p99 <= 1 s.
#
#   bench/detect/live.sh [BUILD_DIR]      (N=30000 LAT_EPS=1000 LAT_EVENTS=20000)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
BIN=$build/custos
N=${N:-30000}
LAT_EPS=${LAT_EPS:-1000}
LAT_EVENTS=${LAT_EVENTS:-20000}
RATE=${RATE:-12000} # paced: the embedded broker keeps only ~5 MiB a partition
PARTS=32
TOPIC=custos.interactions
work=$(mktemp -d /tmp/custos-bench-live.XXXXXX)
pids=()
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    for d in $(psql -X -A -t -d postgres -c "SELECT datname FROM pg_database WHERE datname LIKE 'custos_bench_live_$$_%'" 2>/dev/null); do
        dropdb --if-exists -f "$d" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${PGHOST:-}" ]; then
    . "$src/scripts/pg.sh"
    pg_start /tmp/custos-test-pg 55432 >/dev/null
fi
export PGUSER=${PGUSER:-postgres}
scengen=${CUSTOS_SCENGEN:-$build/tools/scengen} # CMake target (tools/scenarios)
[ -x "$scengen" ] || { echo "$scengen: not built (cmake --build $build)" >&2; exit 2; }
data=${CUSTOS_PROMPTS_DIR:-$src/data/prompts}

# one_run NAME EVENTS_FILE RATE [ENV=VALUE...]: fresh database and broker,
# custos run, produce, wait until every event is stored, SIGTERM.
one_run() {
    local name=$1 file=$2 rate=$3; shift 3
    local n db dsn broker bpid cpid t0 t1 got
    n=$(wc -l <"$file")
    db="custos_bench_live_$$_$name"
    createdb "$db"
    dsn="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db"
    CUSTOS_POSTGRES_DSN=$dsn "$BIN" migrate --log-level warn
    "$BIN" broker --partitions "$PARTS" --topic "$TOPIC" >"$work/$name.broker" 2>/dev/null &
    bpid=$!
    pids+=("$bpid")
    for _ in $(seq 100); do broker=$(head -n1 "$work/$name.broker" 2>/dev/null || true); [ -n "$broker" ] && break; sleep 0.1; done
    env CUSTOS_POSTGRES_DSN="$dsn" CUSTOS_KAFKA_BROKERS="$broker" CUSTOS_KAFKA_TOPICS="$TOPIC" \
        CUSTOS_KAFKA_GROUP=bench "$@" "$BIN" run --log-level info 2>"$work/$name.log" &
    cpid=$!
    pids+=("$cpid")
    for _ in $(seq 300); do grep -q 'partition assigned' "$work/$name.log" && break; sleep 0.1; done
    t0=$(date +%s.%N)
    "$BIN" produce --rate "$rate" --brokers "$broker" --topic "$TOPIC" "$file" 2>"$work/$name.produce"
    for _ in $(seq 1200); do
        got=$(psql -X -A -t -d "$dsn" -c "SELECT count(*) FROM interactions")
        [ "$got" = "$n" ] && break
        sleep 0.1
    done
    t1=$(date +%s.%N)
    [ "$got" = "$n" ] || { echo "$name: only $got of $n stored" >&2; return 1; }
    kill -TERM "$cpid"
    wait "$cpid" || true
    kill -TERM "$bpid" 2>/dev/null || true
    RUN_SECS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
    RUN_RATE=$(awk -v n="$n" -v a="$t0" -v b="$t1" 'BEGIN { printf "%.0f", n / (b - a) }')
    RUN_LOG=$work/$name.log
}

"$scengen" --data "$data" --half test --seed 3 --hours 6 --keys 300 \
    --events "$work/all.jsonl" --labels "$work/labels.jsonl" 2>/dev/null
head -n "$N" "$work/all.jsonl" >"$work/ingest.jsonl"

# alternate off and on REPEAT times; the medians are compared (the machine
# is shared, single runs vary by 10 %)
REPEAT=${REPEAT:-3}
offs=() ons=()
for r in $(seq "$REPEAT"); do
    one_run "off$r" "$work/ingest.jsonl" "$RATE" CUSTOS_COLLECTOR_ANALYTICS=off
    offs+=("$RUN_RATE")
    # a replay at thousands of times real speed: hand-overs seconds apart
    # are minutes of event time (docs/analytics.md, partition_idle_ms)
    one_run "on$r" "$work/ingest.jsonl" "$RATE" CUSTOS_COLLECTOR_ANALYTICS=on \
        CUSTOS_ANALYTICS_PARTITION_IDLE_MS=10s
    ons+=("$RUN_RATE")
    grep -o 'msg="live analytics stopped".*' "$RUN_LOG" | tr ' ' '\n' |
        grep -E '^(events|incidents|late|queue_full_waits)=' | tr '\n' ' '
    echo "(off ${offs[-1]}/s, on ${ons[-1]}/s)"
done
median() { printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
off_rate=$(median "${offs[@]}")
on_rate=$(median "${ons[@]}")
awk -v a="$off_rate" -v b="$on_rate" -v n="$N" -v r="$REPEAT" 'BEGIN {
    cost = 100 * (a - b) / a
    verdict = "NOT met"; if (cost <= 10) verdict = "met"
    printf "ingest %d events, median of %d runs: analytics off %.0f events/s, on %.0f events/s: cost %.1f %% (target <= 10 %%: %s)\n", n, r, a, b, cost, verdict
}'

"$scengen" --data "$data" --half test --seed 5 --hours 6 --keys 300 --restamp "$LAT_EPS" \
    --events "$work/rt.jsonl" --labels "$work/rt-labels.jsonl" 2>/dev/null
head -n "$LAT_EVENTS" "$work/rt.jsonl" >"$work/latency.jsonl"
one_run latency "$work/latency.jsonl" "$LAT_EPS" CUSTOS_COLLECTOR_ANALYTICS=on ${LAT_WINDOW:+CUSTOS_ANALYTICS_REORDER_WINDOW_MS=$LAT_WINDOW}
line=$(grep -o 'msg="live analytics stopped".*' "$RUN_LOG")
p50=$(echo "$line" | grep -o 'commit_to_incident_p50_ms=[0-9.]*' | cut -d= -f2)
p99=$(echo "$line" | grep -o 'commit_to_incident_p99_ms=[0-9.]*' | cut -d= -f2)
alerts=$(echo "$line" | grep -o ' alerts=[0-9]*' | cut -d= -f2)
awk -v p50="$p50" -v p99="$p99" -v al="$alerts" -v eps="$LAT_EPS" 'BEGIN {
    verdict = "NOT met"; if (p99 <= 1000) verdict = "met"
    printf "committed event -> incident row at %d events/s (%d alerts): p50 %.0f ms, p99 %.0f ms (target p99 <= 1000 ms: %s)\n", eps, al, p50, p99, verdict
}'
