# What the benchmarks share (sourced): logging, a work folder, the processes
# to stop and a private PostgreSQL behind a lock, all undone on exit, and
# the machine's CPU use over a stretch.
#
#   BENCH_NAME=web; . "$ROOT/bench/lib.sh"
#   bench_setup                # WORK, PIDS, the EXIT trap (BENCH_KEEP=1 keeps WORK)
#   bench_pg "$PGDIR" "$PORT"  # PostgreSQL started under a lock, stopped on exit
#   mark=$(bench_cpu_mark); ...; bench_busy_since "$mark"   # "busy% load1"
#
# A script adds its own undo steps by defining bench_on_exit.

log() { printf '[bench-%s %s] %s\n' "${BENCH_NAME:-?}" "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

bench_setup() {
    WORK=$(mktemp -d "/tmp/custos-bench-${BENCH_NAME:-x}.XXXXXX")
    PIDS=()
    BENCH_PG_STARTED=0
    trap bench_cleanup EXIT
}

bench_cleanup() {
    local rc=$?
    set +e
    declare -F bench_on_exit >/dev/null && bench_on_exit
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    # only the PostgreSQL this run started: a run refused by the lock must
    # not stop the one another run is using
    [ "$BENCH_PG_STARTED" = 1 ] && pg_stop "$BENCH_PG_DIR_USED" >/dev/null 2>&1
    if [ "${BENCH_KEEP:-0}" = 1 ] || [ "$rc" != 0 ]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
}

# bench_pg DIR PORT: a private PostgreSQL in DIR, one benchmark at a time.
bench_pg() {
    . "$ROOT/scripts/pg.sh"
    mkdir -p "$(dirname "$1")"
    exec 9>"$1.lock"
    flock -n 9 || die "another benchmark is using $1 (BENCH_PG_DIR and BENCH_PG_PORT choose another)"
    BENCH_PG_STARTED=1 BENCH_PG_DIR_USED=$1
    pg_start "$1" "$2" >/dev/null || die "cannot start PostgreSQL in $1"
    export PGUSER=postgres
}

# bench_cpu_mark: "busy total" jiffies of all cores so far (/proc/stat).
bench_cpu_mark() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }

# bench_busy_since MARK: "busy% load1", the machine's CPU use since MARK and
# the 1-minute load average now.
bench_busy_since() {
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$1"
    read -r b1 t1 <<<"$(bench_cpu_mark)"
    awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
        'BEGIN {printf "%.0f%% %s", (t > 0 ? 100 * b / t : 0), l}'
}
