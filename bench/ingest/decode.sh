#!/usr/bin/env bash
# Decode cost per event for each input format against native, on one core
# (bench/ingest/decode.c): `custos gen` events (default 20000, seed 1) in
# every format, each decoded for SECONDS (default 3) through the registry.
# Usage: bash bench/ingest/decode.sh [EVENTS] [SECONDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$src/build}
n=${1:-20000} secs=${2:-3}
make -C "$build" -j2 custos bench_decode >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CUSTOS_PROMPTS_DIR=$src/data/prompts "$build/custos" gen --count "$n" --seed 1 >"$tmp/events.jsonl"
# one core: the benchmark is one thread; pinned when taskset is there
run=()
command -v taskset >/dev/null && run=(taskset -c 0)
"${run[@]}" "$build/bench_decode" "$tmp/events.jsonl" "$secs"
