#!/usr/bin/env bash
# Redaction cost per event against the native decode of the same events, on
# one core (bench/ingest/redact.c): `custos gen` events (default 20000,
# seed 1, ~1.1 KB each), each setting timed for about SECONDS (default 3),
# the decode measured in the same rounds as the baseline.
# Usage: bash bench/ingest/redact.sh [EVENTS] [SECONDS]
set -euo pipefail
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD_DIR:-$src/build}
n=${1:-20000} secs=${2:-3}
make -C "$build" -j2 custos bench_redact >/dev/null
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
CUSTOS_PROMPTS_DIR=$src/data/prompts "$build/custos" gen --count "$n" --seed 1 >"$tmp/events.jsonl"
run=()
command -v taskset >/dev/null && run=(taskset -c 0)
"${run[@]}" "$build/bench_redact" "$tmp/events.jsonl" "$secs"
