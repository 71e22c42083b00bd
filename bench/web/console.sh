#!/usr/bin/env bash
# The console benchmark (issue 11), in headless chromium:
#
#   bash bench/web/console.sh          # RUNS=20 INCIDENTS=100000 INTERACTIONS=2000000
#
# On a generated database (console_gen.sql: generate_series, a few
# statements) of INCIDENTS incidents and INTERACTIONS interactions, with
# `custos web` serving it: time from navigation to the queue's first rows,
# to an incident's timeline and evidence, and from an incident row being
# written to it appearing in an open queue (Server-Sent Events); median and
# p95 of RUNS each, beside the targets (queue <= 500 ms, incident <= 800 ms,
# live <= 1 s), with a baseline measured in the same run (the small "my
# sessions" page through the same shell and server). Uses PGHOST/PGPORT
# when set, else starts a private PostgreSQL in BENCH_PG_DIR. The database
# is kept between runs (BENCH_REGEN=1 makes it again). Nothing asserts
# speed: the exit status says whether the benchmark ran.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
RUNS=${RUNS:-20}
INCIDENTS=${INCIDENTS:-100000}
INTERACTIONS=${INTERACTIONS:-2000000}
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-web-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55462}
WORK=$(mktemp -d /tmp/custos-bench-web.XXXXXX)
B=${CUSTOS_BIN:-$ROOT/build/custos}
PW='correct horse battery staple'

log() { printf '[bench %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }
[ -x "$B" ] || die "build custos first (cmake --build build), or set CUSTOS_BIN"
[ -x /usr/bin/chromium ] || die "/usr/bin/chromium is needed"
[ -d "$ROOT/tests/browser/node_modules/playwright-core" ] ||
    (cd "$ROOT/tests/browser" && npm ci --no-audit --no-fund --prefer-offline >"$WORK/npm.log" 2>&1) ||
    die "npm ci in tests/browser failed"

WEB_PID= PG_STARTED=0
cleanup() {
    [ -n "$WEB_PID" ] && kill -TERM "$WEB_PID" 2>/dev/null && wait "$WEB_PID" 2>/dev/null || true
    [ "$PG_STARTED" = 1 ] && { pg_stop "$PGDIR" 2>/dev/null || true; }
    rm -rf "$WORK"
}
trap cleanup EXIT
. "$ROOT/scripts/pg.sh"
if [ -z "${PGHOST:-}" ]; then
    pg_start "$PGDIR" "$PGPORT_BENCH" >/dev/null || die "cannot start PostgreSQL in $PGDIR"
    PG_STARTED=1
fi
export PGUSER=${PGUSER:-postgres}
DB=custos_bench_console_${INCIDENTS}_${INTERACTIONS}
DSN="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$DB"
export CUSTOS_POSTGRES_DSN=$DSN
if [ "${BENCH_REGEN:-0}" = 1 ]; then dropdb --if-exists "$DB"; fi
fresh=0
if ! psql -X -d "$DB" -Atqc "SELECT 1 FROM web_users WHERE username = 'analyst'" 2>/dev/null | grep -q 1; then
    dropdb --if-exists "$DB"
    createdb "$DB"
    fresh=1
fi
# a kept database may be older than this custos: migrations are idempotent
"$B" migrate --log-level warn
if [ "$fresh" = 1 ]; then
    log "generating $INCIDENTS incidents and $INTERACTIONS interactions"
    start=$SECONDS
    psql -X -q -d "$DB" -v incidents="$INCIDENTS" -v interactions="$INTERACTIONS" \
        -f "$ROOT/bench/web/console_gen.sql" >/dev/null
    printf '%s\n' "$PW" | "$B" user add analyst --role analyst --log-level warn >/dev/null
    log "generated in $((SECONDS - start)) s"
fi
log "database: $(psql -X -d "$DB" -Atqc "SELECT (SELECT count(*) FROM incidents) || ' incidents, ' || (SELECT count(*) FROM interactions) || ' interactions'")"
psql -X -d "$DB" -qc "DELETE FROM incidents WHERE incident_id LIKE 'inc-live-%'"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
CUSTOS_WEB_LISTEN=127.0.0.1:$port "$B" web --log-level warn >"$WORK/web.out" 2>"$WORK/web.log" &
WEB_PID=$!
for _ in $(seq 300); do curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break; sleep 0.1; done
curl -s -o /dev/null "http://127.0.0.1:$port/healthz" || die "custos web did not start: $(tail -3 "$WORK/web.log")"
log "custos web on port $port; $RUNS runs each, on $(nproc) cores (load: $(cut -d' ' -f1-3 /proc/loadavg))"
BASE=http://127.0.0.1:$port PW=$PW DSN=$DSN RUNS=$RUNS node "$ROOT/bench/web/console.mjs"
