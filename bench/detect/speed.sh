#!/usr/bin/env bash
# Offline analysis speed: `custos analyze` with every detector and the
# shipped rules, pinned to one core, on ~1.1 KB events of `custos gen`
# (500 000 by default, attacks mixed in). Three runs each of the default
# rule layout (one vectorscan database per field) and, as the baseline in
# the same run, the one-database layout (analytics.rules_db=single). Prints
# the medians beside the target (150k events/s):
#   - wall: events / elapsed time of the whole command, start-up included;
#   - steady: the rate in analyze's summary line (first line read to last
#     incident written).
# Before the runs one start compiles the rules into the compiled-rules cache
# (analytics.rules_cache_dir), as any earlier start would have; the runs say
# whether they read it.
#
#   bench/detect/speed.sh [BUILD_DIR] [EVENTS_FILE]
#   SPEED_EVENTS=N  SPEED_CORE=C  SPEED_RUNS=R
#   SPEED_LEARNED_OFF=1 adds the default layout with analytics.learned=off:
#   what the learned detector's pass costs, measured in the same run.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
out=${DETECT_OUT:-/tmp/custos-detect}
n_events=${SPEED_EVENTS:-500000}
core=${SPEED_CORE:-1}
runs=${SPEED_RUNS:-3}
events=${2:-$out/speed-$n_events.jsonl}
custos=$build/custos
[ -x "$custos" ] || { echo "speed.sh: $custos not built" >&2; exit 1; }
mkdir -p "$out"
if [ ! -s "$events" ]; then
    "$custos" gen --count "$n_events" --seed 5 --attacks >"$events" 2>/dev/null
fi
n=$(wc -l <"$events")
bytes=$(wc -c <"$events")
cat "$events" >/dev/null # in the page cache: the disk is not what is measured

one() { # layout[:learned] -> "wall_rate steady_rate startup_source"
    local layout=${1%%:*} learned=on t0 t1 log
    [ "$1" != "$layout" ] && learned=${1#*:}
    log=$(mktemp)
    t0=$(date +%s.%N)
    CUSTOS_ANALYTICS_LEARNED=$learned CUSTOS_ANALYTICS_RULES_DB=$layout \
        taskset -c "$core" "$custos" analyze "$events" >/dev/null 2>"$log"
    t1=$(date +%s.%N)
    awk -v n="$n" -v t0="$t0" -v t1="$t1" '
        /msg="signature rules ready"/ { for (i = 1; i <= NF; i++) if ($i ~ /^source=/) src = substr($i, 8) }
        /msg="analyze done"/ { for (i = 1; i <= NF; i++) if ($i ~ /^events_per_s=/) steady = substr($i, 14) }
        END { printf "%.0f %s %s\n", n / (t1 - t0), steady, src }' "$log"
    rm -f "$log"
}
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

printf 'analyze speed: %d events of %.0f bytes, core %s, median of %d runs\n' "$n" \
    "$((bytes / n))" "$core" "$runs"
layouts="per_field single"
[ "${SPEED_LEARNED_OFF:-0}" = 1 ] && layouts="$layouts per_field:off"
for layout in $layouts; do
    CUSTOS_ANALYTICS_RULES_DB=${layout%%:*} "$custos" analyze --log-level warn /dev/null >/dev/null
    walls=() steadies=() srcs=()
    for _ in $(seq "$runs"); do
        read -r w s c < <(one "$layout")
        walls+=("$w")
        steadies+=("$s")
        srcs+=("$c")
    done
    wall=$(printf '%s\n' "${walls[@]}" | median)
    steady=$(printf '%s\n' "${steadies[@]}" | median)
    verdict="NOT met"
    [ "$wall" -ge 150000 ] && verdict=met
    label="rules_db=${layout%%:*}"
    case $layout in
    per_field) label="$label (default)" ;;
    *:off) label="$label, learned=off" ;;
    *) label="$label (baseline)" ;;
    esac
    printf '  %-30s wall %7d ev/s, steady %7d ev/s (runs: %s; rules from %s)  target >= 150000: %s\n' \
        "$label" "$wall" "$steady" "${walls[*]}" "${srcs[0]}" "$verdict"
done
