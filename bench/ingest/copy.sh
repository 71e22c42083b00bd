#!/usr/bin/env bash
# COPY text against COPY binary for the same rows (bench/ingest/copy.c):
# the client's cost of building the rows (ns a row, CPU time) and the time a
# private PostgreSQL takes to COPY them into the interactions schema, the
# two formats taking turns round after round (text is the baseline, in the
# same run). `custos gen --attacks` events (default 20000, seed 3).
# A measurement, not a test: it exits 0 when it ran, whatever the figures.
#
#   bash bench/ingest/copy.sh [EVENTS] [ROUNDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$src/build}
n=${1:-20000} rounds=${2:-7}
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-copy-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55456}
make -C "$build" -j2 custos bench_copy >/dev/null
tmp=$(mktemp -d)
. "$src/scripts/pg.sh"
exec 9>"$PGDIR.lock"
flock -n 9 || { echo "another run is using $PGDIR" >&2; exit 1; }
trap 'pg_stop "$PGDIR" >/dev/null 2>&1; rm -rf "$tmp"' EXIT
pg_start "$PGDIR" "$PGPORT_BENCH" >/dev/null
export PGUSER=postgres
DSN="host=$PGDIR port=$PGPORT_BENCH user=postgres dbname=bench_copy"
dropdb --if-exists bench_copy 2>/dev/null || true
createdb bench_copy
CUSTOS_POSTGRES_DSN=$DSN "$build/custos" migrate --log-level warn
CUSTOS_PROMPTS_DIR=$src/data/prompts "$build/custos" gen --count "$n" --seed 3 --attacks \
    >"$tmp/events.jsonl"
printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
"$build/bench_copy" "$tmp/events.jsonl" "$DSN" "$rounds"
printf 'load average: %s\n' "$(cut -d' ' -f1-3 /proc/loadavg)"
