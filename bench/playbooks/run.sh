#!/usr/bin/env bash
# Playbook figures (prints each beside its target):
#  1. playbook runs per second on one core (pinned with taskset), the shipped
#     revoke-extraction playbook, dry run in memory; target >= 5,000/s.
#  2. incident -> action done, p50/p99, through the shipped playbooks with a
#     fresh PostgreSQL database, the registry effector and the control topic
#     on the embedded broker (approvals excluded); target p99 <= 500 ms.
#
#  3. the same through the daemon's path (pb_live_incident, its thread and
#     queue), INCIDENTS paced at RATE per second, latency = the revoke's
#     finished_at minus the time the incident was queued.
#
#   bench/playbooks/run.sh [BUILD_DIR]        (RUNS=20000 INCIDENTS=500 RATE=50)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
RUNS=${RUNS:-20000}
INCIDENTS=${INCIDENTS:-500}
RATE=${RATE:-50}
work=$(mktemp -d /tmp/custos-bench-pb.XXXXXX)
pids=()
db=custos_bench_pb_$$
pg_started=""
cleanup() {
    for p in "${pids[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    dropdb --if-exists -f "$db" 2>/dev/null || true
    # the PostgreSQL this run started, and only that one (not a PGHOST given)
    [ -n "$pg_started" ] && { pg_stop "$pg_started" >/dev/null 2>&1 || true; }
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${PGHOST:-}" ]; then
    . "$src/scripts/pg.sh"
    pg_dir=${BENCH_PG_DIR:-/tmp/custos-bench-pb-pg}
    pg_start "$pg_dir" "${BENCH_PG_PORT:-55453}" >/dev/null
    pg_started=$pg_dir
fi
export PGUSER=${PGUSER:-postgres}
# the bench program lives in $work, beside no share folder: the build tree's
export CUSTOS_SHARE_DIR=${CUSTOS_SHARE_DIR:-$build/share/custos}
cc -O2 -std=gnu11 -D_GNU_SOURCE -I"$src" -I/usr/include/lua5.4 -I/usr/include/postgresql \
    -o "$work/bench" "$here/bench.c" "$build/libcustos_lib.a" \
    $(pkg-config --libs lua5.4 libcjson libpq libcurl libcrypto rdkafka libsodium yaml-0.1 libmicrohttpd libhs) -lpthread -lm

echo "== playbook runs per second (one core)"
taskset -c 0 "$work/bench" runs "$src/playbooks/revoke_extraction.lua" "$RUNS"

echo "== incident -> action done"
createdb "$db"
export CUSTOS_POSTGRES_DSN="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db"
"$build/custos" migrate --log-level warn
"$build/custos" broker --partitions 1 --topic custos.control >"$work/broker.out" 2>"$work/broker.log" &
pids+=("$!")
for _ in $(seq 100); do [ -s "$work/broker.out" ] && break; sleep 0.1; done
export CUSTOS_KAFKA_BROKERS=$(head -n1 "$work/broker.out") CUSTOS_EFFECTORS_CONTROL=on
"$work/bench" latency "$INCIDENTS"
echo "== incident -> action done, through pb_live"
"$work/bench" live "$INCIDENTS" "$RATE"
