#!/usr/bin/env bash
# Offline analysis speed: `custos analyze` with every detector, the learned
# detector and the shipped rules, pinned to one core, on the events of
# `custos gen --seed 5 --attacks`:
#   - 1.1k: the first SPEED_EVENTS (500 000) events, ~1.1 KB each;
#   - 1.5k: SPEED_EVENTS_1K5 (100 000) events of 1 350-1 650 bytes, the lines
#     of that size from a longer run of the same generator (longer prompts or
#     answers than the average event);
#   - 1.1k-unique: the 1.1k file with each prompt made unique (its line number
#     put in front), so that no prompt is ever sent twice: the prompt memo
#     (analytics.prompt_memo) finds nothing and every prompt is featurized
#     and scanned. The generator draws prompts from a few thousand, so on
#     the other files most prompts were seen before.
# Variants: the defaults; analytics.prompt_memo=0 (every prompt computed);
# SPEED_LEARNED_OFF=1 adds analytics.learned=off (what the learned pass
# costs), SPEED_SINGLE=1 the one-database rule layout (rules_db=single).
# With SPEED_BASE_BIN=/path/to/custos (e.g. a build of the commit before the
# change) every run of this build is followed by one of that binary on the
# same input and settings (a binary without analytics.prompt_memo runs
# without that setting; one with it takes it, prompt_memo=0 included), and
# the ratio of the medians (new/base) is
# printed: on a machine others share, the ratio of interleaved runs means
# more than either rate. Prints medians of SPEED_RUNS (3) runs beside the
# target (150k events/s):
#   - wall: events / elapsed time of the whole command, start-up included;
#   - steady: the rate in analyze's summary line (first line read to last
#     incident written);
#   - cpu: events / the CPU time (user + system) of the command, start-up
#     included: on a machine others share, time spent waiting for the core
#     is not in it (caches and the core's other hyperthread still are).
# Before the runs one start compiles the rules into the compiled-rules cache
# (analytics.rules_cache_dir), as any earlier start would have; the runs say
# whether they read it.
#
#   bench/detect/speed.sh [BUILD_DIR] [EVENTS_FILE]
#   SPEED_EVENTS=N  SPEED_EVENTS_1K5=N  SPEED_CORE=C  SPEED_RUNS=R
#   SPEED_BASE_BIN=BIN  SPEED_LEARNED_OFF=1  SPEED_SINGLE=1
#   SPEED_INPUTS="1.1k 1.5k 1.1k-unique" (the default; any subset)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
out=${DETECT_OUT:-/tmp/custos-detect}
n_events=${SPEED_EVENTS:-500000}
n_1k5=${SPEED_EVENTS_1K5:-100000}
core=${SPEED_CORE:-1}
runs=${SPEED_RUNS:-3}
events=${2:-$out/speed-$n_events.jsonl}
custos=$build/custos
base=${SPEED_BASE_BIN:-}
[ -x "$custos" ] || { echo "speed.sh: $custos not built" >&2; exit 1; }
[ -z "$base" ] || [ -x "$base" ] || { echo "speed.sh: SPEED_BASE_BIN $base not executable" >&2; exit 1; }
mkdir -p "$out"
if [ ! -s "$events" ]; then
    "$custos" gen --count "$n_events" --seed 5 --attacks >"$events" 2>/dev/null
fi
ev_1k5=$out/speed-1k5-$n_1k5.jsonl
ev_uniq=${events%.jsonl}-unique.jsonl
inputs=${SPEED_INPUTS:-1.1k 1.5k 1.1k-unique}
for input in $inputs; do
    case $input in
    1.5k)
        if [ ! -s "$ev_1k5" ]; then
            # about 7.6 % of the generator's lines are of this size; the
            # generator stops when head has its lines (SIGPIPE)
            (set +o pipefail
             "$custos" gen --count 0 --seed 5 --attacks 2>/dev/null |
                 LC_ALL=C awk 'length($0) >= 1350 && length($0) <= 1650' | head -n "$n_1k5" \
                 >"$ev_1k5.tmp")
            mv "$ev_1k5.tmp" "$ev_1k5"
        fi ;;
    1.1k-unique)
        if [ ! -s "$ev_uniq" ]; then
            LC_ALL=C awk '{ i = index($0, "\"prompt\":\"")
                            if (i) $0 = substr($0, 1, i + 9) NR " " substr($0, i + 10) } 1' \
                "$events" >"$ev_uniq.tmp"
            mv "$ev_uniq.tmp" "$ev_uniq"
        fi ;;
    1.1k) ;;
    *) echo "speed.sh: unknown input '$input' (1.1k 1.5k 1.1k-unique)" >&2; exit 1 ;;
    esac
done

one() { # bin file variant -> "wall_rate steady_rate startup_source memo_hit_pct cpu_rate"
    local bin=$1 file=$2 variant=$3 t0 t1 log n cpu TIMEFORMAT='%U %S'
    local learned=on layout=per_field memo=4096
    case $variant in
    memo0) memo=0 ;;
    learned_off) learned=off ;;
    single) layout=single ;;
    esac
    n=$(wc -l <"$file")
    log=$(mktemp)
    t0=$(date +%s.%N)
    # the baseline binary may predate analytics.prompt_memo (it then has no
    # memo, and refuses the unknown setting)
    local memo_env=(CUSTOS_ANALYTICS_PROMPT_MEMO=$memo)
    [ "$bin" = "$base" ] && [ "$base_memo" = 0 ] && memo_env=()
    cpu=$( { time env CUSTOS_ANALYTICS_LEARNED=$learned CUSTOS_ANALYTICS_RULES_DB=$layout \
        "${memo_env[@]}" taskset -c "$core" "$bin" analyze "$file" >/dev/null 2>"$log"; } 2>&1)
    t1=$(date +%s.%N)
    awk -v n="$n" -v t0="$t0" -v t1="$t1" -v cpu="$cpu" '
        /msg="signature rules ready"/ { for (i = 1; i <= NF; i++) if ($i ~ /^source=/) src = substr($i, 8) }
        /msg="analyze done"/ { for (i = 1; i <= NF; i++) {
            if ($i ~ /^events_per_s=/) steady = substr($i, 14)
            if ($i ~ /^prompt_memo_hit_pct=/) memo = substr($i, 21) } }
        END { split(cpu, c, " ")
              printf "%.0f %s %s %s %.0f\n", n / (t1 - t0), steady, src, memo == "" ? "-" : memo,
                     n / (c[1] + c[2] > 0 ? c[1] + c[2] : 1e-9) }' "$log"
    rm -f "$log"
}
base_memo=0 # does the baseline binary take analytics.prompt_memo?
[ -n "$base" ] && CUSTOS_ANALYTICS_PROMPT_MEMO=0 "$base" analyze --log-level error /dev/null \
    >/dev/null 2>&1 && base_memo=1
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

variants="default memo0"
[ "${SPEED_LEARNED_OFF:-0}" = 1 ] && variants="$variants learned_off"
[ "${SPEED_SINGLE:-0}" = 1 ] && variants="$variants single"
printf 'analyze speed: core %s, median of %d runs%s; load average now %s\n' "$core" "$runs" \
    "${base:+, each run followed by one of $base}" "$(cut -d' ' -f1-3 /proc/loadavg)"
for layout in per_field single; do
    CUSTOS_ANALYTICS_RULES_DB=$layout "$custos" analyze --log-level warn /dev/null >/dev/null
done
for input in $inputs; do
    case $input in
    1.1k) file=$events; vs=$variants ;;
    1.5k) file=$ev_1k5; vs="default memo0" ;;
    1.1k-unique) file=$ev_uniq; vs=default ;;
    esac
    n=$(wc -l <"$file")
    printf ' %s: %d events of %d bytes (%s)\n' "$input" "$n" "$(($(wc -c <"$file") / n))" "$file"
    cat "$file" >/dev/null # in the page cache: the disk is not what is measured
    for v in $vs; do
        walls=() steadies=() cpus=() bwalls=() bsteadies=() bcpus=()
        for _ in $(seq "$runs"); do
            read -r w s c m u < <(one "$custos" "$file" "$v")
            walls+=("$w")
            steadies+=("$s")
            cpus+=("$u")
            if [ -n "$base" ]; then
                read -r bw bs _ _ bu < <(one "$base" "$file" "$v")
                bwalls+=("$bw")
                bsteadies+=("$bs")
                bcpus+=("$bu")
            fi
        done
        wall=$(printf '%s\n' "${walls[@]}" | median)
        steady=$(printf '%s\n' "${steadies[@]}" | median)
        cpu=$(printf '%s\n' "${cpus[@]}" | median)
        verdict="NOT met"
        [ "$wall" -ge 150000 ] && verdict=met
        case $v in
        default) label="defaults" ;;
        memo0) label="prompt_memo=0" ;;
        learned_off) label="learned=off" ;;
        single) label="rules_db=single" ;;
        esac
        printf '  %-16s wall %7d ev/s, steady %7d ev/s, cpu %7d ev/s (runs: %s; rules from %s; memo hits %s %%)  target >= 150000: %s\n' \
            "$label" "$wall" "$steady" "$cpu" "${walls[*]}" "$c" "$m" "$verdict"
        if [ -n "$base" ]; then
            bwall=$(printf '%s\n' "${bwalls[@]}" | median)
            bsteady=$(printf '%s\n' "${bsteadies[@]}" | median)
            bcpu=$(printf '%s\n' "${bcpus[@]}" | median)
            printf '  %-16s wall %7d ev/s, steady %7d ev/s, cpu %7d ev/s (runs: %s)  new/base: wall %.2f, steady %.2f, cpu %.2f\n' \
                "  base" "$bwall" "$bsteady" "$bcpu" "${bwalls[*]}" "$(echo "$wall / $bwall" | bc -l)" \
                "$(echo "$steady / $bsteady" | bc -l)" "$(echo "$cpu / $bcpu" | bc -l)"
        fi
    done
done
