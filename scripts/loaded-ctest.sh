#!/usr/bin/env bash
# Flake check: runs the whole ctest suite N times in a row (default 5) under
# ctest -j2 while a CPU hog keeps one core busy, and reports how many runs
# passed. A test that fails here fails on a busy CI machine.
#
#   bash scripts/loaded-ctest.sh [N]     (after scripts/test.sh has built ./build)
set -euo pipefail
CUSTOS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CUSTOS_ROOT"
. scripts/pg.sh
N=${1:-5}
[ -x build/custos ] || { echo "build first: bash scripts/test.sh (or CUSTOS_TEST_FAST=1)" >&2; exit 2; }

PGDIR=$(mktemp -d /tmp/custos-loaded-pg.XXXXXX)
HOG=
cleanup() {
    set +e
    [ -n "$HOG" ] && kill "$HOG" 2>/dev/null && wait "$HOG" 2>/dev/null
    pg_stop "$PGDIR"; rm -rf "$PGDIR"
}
trap cleanup EXIT
port=55400
while ss -Hltn "sport = :$port" | grep -q .; do port=$((port + 1)); done
pg_start "$PGDIR" "$port"

if command -v stress-ng >/dev/null; then
    stress-ng --cpu 1 --quiet & HOG=$!
    hog="stress-ng --cpu 1"
else
    bash -c 'while :; do :; done' & HOG=$!
    hog="a busy loop"
fi
echo "== $N ctest runs under -j2, with $hog on one core"
ok=0
for i in $(seq "$N"); do
    s=$SECONDS
    if ctest --test-dir build -j2 --output-on-failure >"/tmp/custos-loaded-$i.log" 2>&1; then
        ok=$((ok + 1)); r=passed
    else
        r="FAILED ($(grep -E '^\s+[0-9]+ - ' "/tmp/custos-loaded-$i.log" | tr -s ' ' | tr '\n' ';'))"
    fi
    echo "run $i: $r in $((SECONDS - s)) s ($(grep -E 'tests passed' "/tmp/custos-loaded-$i.log"); log /tmp/custos-loaded-$i.log)"
done
echo "loaded ctest: $ok/$N runs passed"
[ "$ok" = "$N" ]
