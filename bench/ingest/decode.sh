#!/usr/bin/env bash
# Decode cost per event for each input format against native, on one core
# (bench/ingest/decode.c): `custos gen` events (default 20000, seed 1) in
# every format, each decoded for SECONDS (default 3) through the registry.
# Usage: bash bench/ingest/decode.sh [EVENTS] [SECONDS]
#
# Before/after in the same run: BENCH_DECODE_BASE=/path/to/an/older/bench_decode
# runs it and this build's bench_decode in turn, BENCH_DECODE_ROUNDS times
# (default 5) each, on the same events, and prints for every format the
# median ns/event of each (and its ratio to native in the same process),
# then after / before.
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
base=${BENCH_DECODE_BASE:-}
if [ -z "$base" ]; then
    "${run[@]}" "$build/bench_decode" "$tmp/events.jsonl" "$secs"
    exit 0
fi
rounds=${BENCH_DECODE_ROUNDS:-5}
for ((i = 1; i <= rounds; i++)); do
    # alternately first and second, so that a change of load weighs on both
    if ((i % 2)); then order="base new"; else order="new base"; fi
    for w in $order; do
        bin=$build/bench_decode
        [ "$w" = base ] && bin=$base
        "${run[@]}" "$bin" "$tmp/events.jsonl" "$secs" | awk -v w="$w" -v i="$i" '
            /^format/ {on = 1; next}
            on && NF >= 6 {name = $1; if ($2 == "(read") {name = "otlp_proto(read_only)"; $0 = $1 " " $4 " " $5 " " $6 " " $7}
                           split($0, f, " "); print w, i, name, f[4], f[5]}' >>"$tmp/rounds.txt"
    done
done
echo "# $n events, $rounds rounds of ${secs}s a format for each binary, alternating; CPU time of one thread"
echo "# before: $base"
echo "# after:  $build/bench_decode"
awk '
    {ns[$1, $3] = ns[$1, $3] " " $4; x[$1, $3] = x[$1, $3] " " $5; if (!($3 in seen)) {seen[$3] = 1; order[++k] = $3}}
    function median(s,   a, n, i, j, t) {
        n = split(s, a, " ")
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (a[j] + 0 < a[i] + 0) {t = a[i]; a[i] = a[j]; a[j] = t}
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    END {
        printf "%-24s %14s %10s %14s %10s %14s\n", "format", "before ns/ev", "x native", "after ns/ev", "x native", "after/before"
        for (i = 1; i <= k; i++) {
            f = order[i]; b = median(ns["base", f]); a = median(ns["new", f])
            printf "%-24s %14.0f %10.2f %14.0f %10.2f %14.2f\n", f, b, median(x["base", f]), a, median(x["new", f]), (b > 0 ? a / b : 0)
        }
    }' "$tmp/rounds.txt"
