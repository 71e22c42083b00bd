#!/usr/bin/env bash
# Offline analysis speed: `custos analyze` with every detector and the
# shipped rules over the labelled scenario (about 1.5 KB an event), pinned to
# one core. Prints the rate beside its target (150k events/s).
#
#   bench/detect/speed.sh [BUILD_DIR] [EVENTS_FILE]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
out=${DETECT_OUT:-/tmp/custos-detect}
events=${2:-$out/events.jsonl}
if [ ! -f "$events" ]; then
    mkdir -p "$out"
    cc -O2 -Wall -o "$out/scengen" "$here/scengen.c" -lcjson -lm
    "$out/scengen" --data "${CUSTOS_SHARED_DATA:-$src/../shared/data}" --half test --seed 1 \
        --hours 6 --keys 300 --events "$events" --labels "$out/labels.jsonl"
fi
n=$(wc -l <"$events")
bytes=$(wc -c <"$events")
# read the file once so that the disk is not what is measured
cat "$events" >/dev/null
t0=$(date +%s.%N)
taskset -c 0 "$build/custos" analyze --log-level warn "$events" >/dev/null
t1=$(date +%s.%N)
awk -v n="$n" -v b="$bytes" -v t0="$t0" -v t1="$t1" 'BEGIN {
    secs = t1 - t0; rate = n / secs
    verdict = "NOT met"; if (rate >= 150000) verdict = "met"
    printf "analyze: %d events (%.0f bytes each) in %.2f s, one core: %.0f events/s (target >= 150000: %s)\n", n, b / n, secs, rate, verdict
}'
