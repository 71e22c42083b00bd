#!/usr/bin/env bash
# What the analytics snapshots cost (docs/analytics.md, "State across
# restarts and rebalances"): for fleets of KEYS api keys (custos gen, five
# events a key on average, Zipf-like volumes), the state `custos analyze
# --state-out` saves at the end (the rows custos run writes to
# analytics_snapshots: every partition's and the shared one), its size,
# the time to build and write it, and the time to load it back
# (--state-in over no events). With PGHOST/PGPORT set (a scratch database:
# it creates and drops one table), also the time PostgreSQL takes to store
# that many bytes as bytea rows, as the live snapshot's transaction does.
#
#   bench/detect/snapshot.sh [BUILD_DIR]     SNAP_KEYS="10000 100000"
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
out=${DETECT_OUT:-/tmp/custos-detect}
custos=$build/custos
[ -x "$custos" ] || { echo "snapshot.sh: $custos not built" >&2; exit 1; }
mkdir -p "$out"
printf '| keys | events | keys kept | state bytes | bytes/key | save s | load s | PostgreSQL write s |\n|---|---|---|---|---|---|---|---|\n'
for k in ${SNAP_KEYS:-10000 100000}; do
    ev=$out/snap-$k.jsonl
    [ -s "$ev" ] || "$custos" gen --count $((k * 5)) --keys "$k" --seed 9 >"$ev" 2>/dev/null
    "$custos" analyze --log-level info --state-out "$out/snap-$k.bin" "$ev" >/dev/null 2>"$out/snap-$k.log"
    line=$(grep 'msg="state saved"' "$out/snap-$k.log")
    kept=$(sed 's/.* keys=\([0-9]*\).*/\1/' <<<"$line")
    bytes=$(sed 's/.* bytes=\([0-9]*\).*/\1/' <<<"$line")
    save=$(sed 's/.* seconds=\([0-9.]*\).*/\1/' <<<"$line")
    t0=$(date +%s.%N)
    "$custos" analyze --log-level warn --state-in "$out/snap-$k.bin" /dev/null >/dev/null
    load=$(echo "$(date +%s.%N) - $t0" | bc)
    pg=-
    if [ -n "${PGHOST:-}" ]; then
        # the state as one hex bytea row, as COPY text
        { printf '\\\\x'; od -An -v -tx1 "$out/snap-$k.bin" | tr -d ' \n'; printf '\n'; } >"$out/snap-$k.hex"
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "DROP TABLE IF EXISTS snap_bench; CREATE TABLE snap_bench (b bytea)"
        t0=$(date +%s.%N)
        psql -X -q -v ON_ERROR_STOP=1 -d postgres -c "\\copy snap_bench (b) FROM '$out/snap-$k.hex'"
        pg=$(echo "$(date +%s.%N) - $t0" | bc)
        psql -X -q -d postgres -c "DROP TABLE snap_bench"
        rm -f "$out/snap-$k.hex"
    fi
    printf '| %s | %s | %s | %s | %s | %s | %.3f | %s |\n' "$k" "$(wc -l <"$ev")" "$kept" "$bytes" \
        "$((bytes / (kept > 0 ? kept : 1)))" "$save" "$load" "$pg"
done
