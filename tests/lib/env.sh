# Helpers for the script tests (sourced). The test command (scripts/test.sh)
# has started PostgreSQL and exported PGHOST/PGPORT; run by hand, a private
# cluster is started under /tmp/custos-test-pg and left running.
set -euo pipefail

: "${CUSTOS_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${CUSTOS_BIN:=$CUSTOS_SOURCE_DIR/build/custos}"
# the scenario generator and its scorer (tools/scenarios, CMake targets
# scengen and score), beside custos in the build tree
: "${CUSTOS_SCENGEN:=$(dirname "$CUSTOS_BIN")/tools/scengen}"
: "${CUSTOS_SCORE:=$(dirname "$CUSTOS_BIN")/tools/score}"
: "${CUSTOS_PROMPTS_DIR:=$CUSTOS_SOURCE_DIR/data/prompts}"
export CUSTOS_SOURCE_DIR CUSTOS_BIN CUSTOS_SCENGEN CUSTOS_SCORE CUSTOS_PROMPTS_DIR
# At SIGTERM the playbook worker first runs what is queued; on a loaded
# machine (sanitizers, parallel tests) that outlasted the default 10 s grace
# and a custos run exited 4 ("abandoned") in tests that are not about the
# stop. The grace is an upper bound: a stop still ends when the queue is
# done. Tests about the grace set their own (stuck_run.sh).
: "${CUSTOS_COLLECTOR_SHUTDOWN_GRACE_MS:=120s}"
export CUSTOS_COLLECTOR_SHUTDOWN_GRACE_MS

if [ -z "${PGHOST:-}" ]; then
    # shellcheck source=../../scripts/pg.sh
    . "$CUSTOS_SOURCE_DIR/scripts/pg.sh"
    # ctest -j runs several of these at once: one of them makes and starts
    # the cluster, the others wait for it (two initdb in one folder fail)
    exec 8>/tmp/custos-test-pg.lock
    flock 8
    pg_start /tmp/custos-test-pg 55432 >/dev/null
    flock -u 8
    exec 8>&-
fi
export PGUSER=${PGUSER:-postgres}

T_NAME=$(basename "${BASH_SOURCE[1]:-$0}" .sh)
T_DIR=$(mktemp -d "/tmp/custos-t-$T_NAME.XXXXXX")
T_PIDS=()
T_DBS=()
T_AT_EXIT=()

t_log() { printf '[%s %s] %s\n' "$T_NAME" "$(date +%H:%M:%S)" "$*" >&2; }
t_fail() { printf '[%s] FAIL: %s\n' "$T_NAME" "$*" >&2; exit 1; }
# t_now: whole seconds of a monotonic clock (/proc/uptime), for deadlines:
# bash's SECONDS follows the wall clock, and a step of the machine's clock
# once ended a 60 s wait after 2.75 s (CI, redact.sh, 2026-12-03).
t_now() {
    local up _
    read -r up _ </proc/uptime
    echo "${up%.*}"
}

# The EXIT trap. It must run to the end whatever failed, so errexit is off
# inside it and the exit status is kept aside: a test never leaves a process,
# a database or a server behind, and fails with the status it failed with.
# Steps registered with t_at_exit run first (in order), then the processes
# are killed, then the databases dropped.
t_cleanup() {
    local rc=$?
    set +e
    trap - EXIT
    local step
    for step in "${T_AT_EXIT_FIRST[@]:-}"; do [ -n "$step" ] && eval "$step"; done
    for p in "${T_PIDS[@]:-}"; do
        [ -n "$p" ] && kill -KILL "$p" 2>/dev/null
    done
    wait 2>/dev/null
    for d in "${T_DBS[@]:-}"; do
        [ -n "$d" ] && dropdb --if-exists -f "$d" 2>/dev/null
    done
    for step in "${T_AT_EXIT[@]:-}"; do [ -n "$step" ] && eval "$step"; done
    if [ "$rc" = 0 ]; then rm -rf "$T_DIR"; else echo "[$T_NAME] logs kept in $T_DIR" >&2; fi
    exit "$rc"
}
trap t_cleanup EXIT
# Signals end the test through the same cleanup (ctest's timeout sends TERM).
trap 'exit 143' TERM
trap 'exit 130' INT

# t_at_exit CMD: runs CMD (a string) at exit, after the test's processes are
# killed and its databases dropped. t_at_exit_first CMD: before those.
T_AT_EXIT_FIRST=()
t_at_exit() { T_AT_EXIT+=("$1"); }
t_at_exit_first() { T_AT_EXIT_FIRST+=("$1"); }

# t_free_port: prints a TCP port nobody listens on (for a per-run server).
t_free_port() {
    local port
    for _ in $(seq 200); do
        port=$((20000 + RANDOM % 30000))
        ss -Hltn "sport = :$port" 2>/dev/null | grep -q . || { echo "$port"; return 0; }
    done
    t_fail "no free TCP port found"
}

# t_db: creates a fresh migrated database; sets T_DSN.
t_db() {
    local db="custos_t_${T_NAME//[^a-zA-Z0-9_]/_}_$$_${#T_DBS[@]}"
    createdb "$db"
    T_DBS+=("$db")
    T_DSN="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db"
    export CUSTOS_POSTGRES_DSN=$T_DSN
    "$CUSTOS_BIN" migrate --log-level warn
}

# t_sql SQL: one unaligned, tuples-only result from the test database.
t_sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$T_DSN" -c "$1"; }

# t_broker [PARTITIONS] [TOPIC]: starts the embedded broker; sets T_BROKER
# (bootstrap address) and T_BROKER_PID.
t_broker() {
    local parts=${1:-4} topic=${2:-custos.interactions}
    "$CUSTOS_BIN" broker --partitions "$parts" --topic "$topic" \
        >"$T_DIR/broker.out" 2>"$T_DIR/broker.log" &
    T_BROKER_PID=$!
    T_PIDS+=("$T_BROKER_PID")
    for _ in $(seq 100); do
        T_BROKER=$(head -n1 "$T_DIR/broker.out" 2>/dev/null || true)
        [ -n "$T_BROKER" ] && break
        sleep 0.1
    done
    [ -n "$T_BROKER" ] || t_fail "broker did not start: $(cat "$T_DIR/broker.log")"
    export CUSTOS_KAFKA_BROKERS=$T_BROKER CUSTOS_KAFKA_TOPICS=$topic
}

# t_start NAME CMD...: runs CMD in the background, logs in $T_DIR/NAME.log;
# sets T_LAST_PID.
t_start() {
    local name=$1; shift
    "$@" >"$T_DIR/$name.out" 2>"$T_DIR/$name.log" &
    T_LAST_PID=$!
    T_PIDS+=("$T_LAST_PID")
}

# t_wait_sql SQL EXPECTED SECONDS: polls until the query returns EXPECTED.
t_wait_sql() {
    local sql=$1 want=$2 secs=$3 got=""
    local deadline=$(($(t_now) + secs))
    while [ "$(t_now)" -lt "$deadline" ]; do
        got=$(t_sql "$sql" 2>/dev/null || true)
        [ "$got" = "$want" ] && return 0
        sleep 0.5
    done
    t_fail "waited ${secs}s for [$sql] = $want, last got [$got]"
}
