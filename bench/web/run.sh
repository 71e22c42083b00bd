#!/usr/bin/env bash
# Web benchmark: wrk against custos web on a database of 100,000 incidents
# and 2,000,000 interactions (bench/web/seed.sql, generate_series into the
# real schema).
#
#   bash bench/web/run.sh
#
# Starts a private PostgreSQL and custos web, and reports for each route
# requests/s (wrk, 2 threads, 8 connections) and p50/p99 at a fixed 200
# requests/s (wrk paced by pace.lua: wrk2 is not in Debian), beside the
# targets (list p99 <= 50 ms, detail p99 <= 100 ms at 200 req/s), with in the
# same run the baseline: GET /readyz, the same server path (router, pool, one
# query on schema_migrations) without authentication or incident queries, and
# GET /api/v1/session, the same with the token check. Then it holds 1,000
# idle keep-alive connections and 1,000 SSE streams and measures the list
# again while they are open (every answer must be 2xx: below the configured
# limit nothing is refused), and gives the server's RSS before, under load and
# holding them. Nothing here asserts speed: the exit status is 0 when the
# benchmark ran. Settings: BENCH_INCIDENTS, BENCH_PER_INCIDENT, BENCH_SECONDS,
# BENCH_HOLD, BENCH_PG_DIR, BENCH_PG_PORT, BENCH_KEEP.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$ROOT/bench/web
INCIDENTS=${BENCH_INCIDENTS:-100000}
PER=${BENCH_PER_INCIDENT:-20}
SECS=${BENCH_SECONDS:-15}
HOLD=${BENCH_HOLD:-1000}
RATE=200
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-web-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55462}

BENCH_NAME=web
. "$ROOT/bench/lib.sh"
bench_setup

# ---- tools, build, PostgreSQL -------------------------------------------------

CUSTOS_ROOT=$ROOT
. "$ROOT/scripts/deps.sh"
deps_install "$(deps_group bench)" || die "wrk is needed (apt-get install wrk)"
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
for tool in psql createdb wrk python3 awk curl; do
    command -v "$tool" >/dev/null || die "$tool is needed (README: the install command)"
done
# 2 x HOLD sockets in the holder and in the server, plus wrk's.
ulimit -n "$(( HOLD * 2 + 1024 > 4096 ? HOLD * 2 + 1024 : 4096 ))" 2>/dev/null ||
    die "cannot raise the open-file limit to hold $HOLD + $HOLD connections"

HOLDER_IN=""
bench_on_exit() { [ -z "$HOLDER_IN" ] || exec {HOLDER_IN}>&- 2>/dev/null; }
bench_pg "$PGDIR" "$PGPORT_BENCH"
DB=custos_bench_web
DSN="host=$PGDIR port=$PGPORT_BENCH user=postgres dbname=$DB"
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$DSN" -c "$1"; }
dropdb --if-exists -h "$PGDIR" -p "$PGPORT_BENCH" "$DB"
createdb -h "$PGDIR" -p "$PGPORT_BENCH" "$DB"
export CUSTOS_POSTGRES_DSN=$DSN
"$B" migrate --log-level warn

# ---- data ---------------------------------------------------------------------

t0=$SECONDS
psql -X -q -d "$DSN" -v incidents="$INCIDENTS" -v per="$PER" -f "$HERE/seed.sql" >"$WORK/seed.log" 2>&1 ||
    die "seed failed: $(tail -5 "$WORK/seed.log")"
N_INC=$(q "SELECT count(*) FROM incidents")
N_INT=$(q "SELECT count(*) FROM interactions")
log "seeded $N_INC incidents and $N_INT interactions in $((SECONDS - t0)) s ($(q "SELECT pg_size_pretty(pg_database_size(current_database()))"))"
TOKEN=$("$B" token create --role viewer --name bench --log-level warn 2>/dev/null)
[ -n "$TOKEN" ] || die "token create printed nothing"
# The deep page: the cursor after the 50,000th incident, as inc_read.c makes it.
DEEP=$(q "SELECT 'c1' || encode(convert_to((extract(epoch FROM detected_at) * 1000000)::bigint || ':' || incident_id, 'UTF8'), 'hex')
          FROM incidents ORDER BY detected_at DESC, incident_id DESC OFFSET $((N_INC / 2 - 1)) LIMIT 1")
DETAIL=inc-$(printf '%07d' $((N_INC / 2 + 7)))

# ---- the server ---------------------------------------------------------------

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE=http://127.0.0.1:$PORT
LIMIT=$((HOLD * 2 + 64))
env CUSTOS_WEB_LISTEN="127.0.0.1:$PORT" CUSTOS_WEB_MAX_CONNECTIONS=$LIMIT \
    CUSTOS_WEB_MAX_CONNECTIONS_PER_IP=$LIMIT CUSTOS_WEB_MAX_STREAMS=$HOLD \
    CUSTOS_WEB_CONNECTION_TIMEOUT_MS=600s \
    "$B" web --log-level warn >"$WORK/web.out" 2>"$WORK/web.log" &
WEB=$!
PIDS+=("$WEB")
for _ in $(seq 300); do curl -s -o /dev/null "$BASE/healthz" && break; sleep 0.1; done
curl -s -o /dev/null "$BASE/healthz" || die "custos web did not start: $(tail -5 "$WORK/web.log")"
rss() { awk '/^VmRSS/ {print int($2 / 1024) " MiB"}' "/proc/$WEB/status"; }
hwm() { awk '/^VmHWM/ {print int($2 / 1024) " MiB"}' "/proc/$WEB/status"; }
RSS_IDLE=$(rss)
THREADS=$(awk '/^Threads/ {print $2}' "/proc/$WEB/status")
log "custos web on $BASE (pid $WEB, $THREADS threads, web.threads 4, web.db_pool 4, RSS $RSS_IDLE)"
for p in /readyz /api/v1/session /api/v1/incidents "/api/v1/incidents?cursor=$DEEP" "/api/v1/incidents/$DETAIL"; do
    code=$(curl -s -o "$WORK/check.json" -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE$p")
    [ "$code" = 200 ] || die "GET $p answered $code: $(head -c 300 "$WORK/check.json")"
done
python3 -c "import json,sys; d=json.load(open(sys.argv[1])); assert len(d['events'])==$PER, len(d['events'])" \
    "$WORK/check.json" || die "the detail has not $PER evidence events"

# ---- measures -----------------------------------------------------------------

# wrk_run OUT ARGS...: runs wrk, leaves its report in OUT.
wrk_run() {
    local out=$1
    shift
    wrk --latency -H "Authorization: Bearer $TOKEN" "$@" >"$out" 2>&1 || die "wrk failed: $(cat "$out")"
}
# field OUT: "req/s p50 p99 errors" from a wrk report (latencies in ms).
field() {
    awk '
        function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
        /Requests\/sec:/ { rps = $2 }
        /^ +50%/ { p50 = ms($2) }
        /^ +99%/ { p99 = ms($2) }
        /Non-2xx or 3xx responses:/ { bad += $5 }
        /Socket errors:/ { gsub(",", ""); bad += $4 + $6 + $8 + $10 }
        END { printf "%.0f %.2f %.2f %d\n", rps, p50, p99, bad }' "$1"
}

declare -A PATHS=(
    [readyz]=/readyz
    [session]=/api/v1/session
    [list_first]=/api/v1/incidents
    [list_deep]="/api/v1/incidents?cursor=$DEEP"
    [detail]=/api/v1/incidents/$DETAIL
)
ORDER="readyz session list_first list_deep detail"
declare -A TPUT PACED TARGET=(
    [readyz]="(baseline)" [session]="(baseline + token)" [list_first]="p99 <= 50 ms"
    [list_deep]="p99 <= 50 ms" [detail]="p99 <= 100 ms"
)
PACE_MS=$((10 * 1000 / RATE)) # 10 connections
for r in $ORDER; do
    log "$r: throughput (wrk -t2 -c8 -d${SECS}s)"
    wrk_run "$WORK/$r.tput" -t2 -c8 -d"${SECS}s" "$BASE${PATHS[$r]}"
    TPUT[$r]=$(field "$WORK/$r.tput")
    log "$r: paced at $RATE req/s (10 connections, a send slot each $((PACE_MS / 5)) ms per thread)"
    PACE_MS=$PACE_MS PACE_CONNS=5 wrk_run "$WORK/$r.paced" -t2 -c10 -d"${SECS}s" -s "$HERE/pace.lua" "$BASE${PATHS[$r]}"
    PACED[$r]=$(field "$WORK/$r.paced")
done
RSS_LOAD=$(rss)

log "holding $HOLD idle keep-alive connections and $HOLD SSE streams"
exec {HOLDER_IN}> >(python3 "$HERE/hold.py" "$PORT" "$TOKEN" "$HOLD" "$HOLD" "$WORK/held" >"$WORK/hold.out" 2>&1)
PIDS+=("$!")
for _ in $(seq 1200); do [ -s "$WORK/held" ] && break; sleep 0.1; done
[ -s "$WORK/held" ] || die "the holder did not open its connections in 120 s: $(cat "$WORK/hold.out")"
HELD=$(cat "$WORK/held")
OPEN=$(curl -s "$BASE/metrics" | awk '$1 == "custos_web_connections_open" {print $2}')
STREAMS=$(curl -s "$BASE/metrics" | awk '$1 == "custos_web_streams_open" {print $2}')
RSS_HOLD=$(rss)
log "held: $HELD; the server counts $OPEN connections, $STREAMS streams; RSS $RSS_HOLD"
PACE_MS=$PACE_MS PACE_CONNS=5 wrk_run "$WORK/held.paced" -t2 -c10 -d"${SECS}s" -s "$HERE/pace.lua" "$BASE/api/v1/incidents"
HELD_PACED=$(field "$WORK/held.paced")
code=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" "$BASE/api/v1/incidents/$DETAIL")
exec {HOLDER_IN}>&-
HOLDER_IN=""
for _ in $(seq 600); do grep -q still_open "$WORK/hold.out" 2>/dev/null && break; sleep 0.1; done
STILL=$(grep still_open "$WORK/hold.out" || echo "still_open ?")
RSS_HWM=$(hwm)

# ---- the table ------------------------------------------------------------------

LOAD=$(cut -d' ' -f1-3 /proc/loadavg)
{
    echo
    echo "custos web benchmark: $N_INC incidents, $N_INT interactions; $(nproc) cores, load average $LOAD"
    echo "(the machine is shared: compare each route with the baselines of this same run)"
    echo
    printf '%-12s %-46s %9s %9s %9s %12s %9s %9s %7s  %s\n' route path "req/s" "p50 ms" "p99 ms" \
        "@200: req/s" "p50 ms" "p99 ms" errors target
    for r in $ORDER; do
        read -r t_rps t_p50 t_p99 t_bad <<<"${TPUT[$r]}"
        read -r p_rps p_p50 p_p99 p_bad <<<"${PACED[$r]}"
        path=${PATHS[$r]}
        [ ${#path} -gt 46 ] && path="${path:0:43}..."
        verdict=""
        case $r in
            list_*) verdict=$(awk -v p="$p_p99" 'BEGIN { print (p <= 50 ? "met" : "NOT met") }') ;;
            detail) verdict=$(awk -v p="$p_p99" 'BEGIN { print (p <= 100 ? "met" : "NOT met") }') ;;
        esac
        printf '%-12s %-46s %9s %9s %9s %12s %9s %9s %7s  %s %s\n' "$r" "$path" "$t_rps" "$t_p50" \
            "$t_p99" "$p_rps" "$p_p50" "$p_p99" "$((t_bad + p_bad))" "${TARGET[$r]}" "$verdict"
    done
    read -r h_rps h_p50 h_p99 h_bad <<<"$HELD_PACED"
    echo
    echo "holding $HOLD idle keep-alive + $HOLD SSE (web.max_connections $LIMIT, web.max_streams $HOLD):"
    echo "  opened: $HELD; server: $OPEN connections, $STREAMS streams open"
    echo "  GET /api/v1/incidents at 200 req/s meanwhile: $h_rps req/s, p50 $h_p50 ms, p99 $h_p99 ms, $h_bad not 2xx (target 0); a detail: $code"
    echo "  after: $STILL"
    echo "RSS of custos web: $RSS_IDLE idle, $RSS_LOAD after the load, $RSS_HOLD holding, peak (VmHWM) $RSS_HWM"
    echo "wrk $(wrk -v 2>&1 | head -n1 | awk '{print $2}'): throughput -t2 -c8 -d${SECS}s; @200: -t2 -c10 with pace.lua (send slots on the wall clock, each connection one per ${PACE_MS} ms; latency from send to answer, no coordinated-omission correction)"
} | tee "$WORK/table.txt"
