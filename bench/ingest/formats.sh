#!/usr/bin/env bash
# Sustained ingest rate per input format: the same traffic (custos gen
# --seed 1 --attacks, converted with custos gen --format F --from) as native
# JSON, LiteLLM payloads, OTLP/JSON and OTLP protobuf export requests (16
# GenAI spans and one skipped HTTP span a message), each through the
# embedded broker -> custos run -> PostgreSQL on the exactly-once path.
#
#   bash bench/ingest/formats.sh
#
# The set-up and one step (fresh broker, topic, database and collector; the
# offered rate paced by custos produce; every event stored once, no offset
# gap, bounded lag, drained in time) are bench/ingest/run.sh's, sourced.
# The ladder offers the same event rates to every format in turn (the order
# rotates from step to step, so the machine's load weighs on all alike);
# each format's sustained rate is its highest step that passed, printed in
# events/s and messages/s beside native's from the same run, with the
# ratio, and the collector's cores at the highest rate every format passed.
# Rows stored = events sent is checked at every step (run_step).
# Nothing here asserts speed: exit status 0 when the benchmark ran.
#
# Settings: BENCH_FORMAT_RATES (event rates, default "4000 8000 12000 16000
# 20000 24000"), BENCH_FORMATS (default "native litellm otlp_json
# otlp_proto"), BENCH_STEP_SECONDS (default 20 here), BENCH_REFINE (one more
# step per format between its last pass and its first failure, default 1),
# BENCH_FORMAT_INPUT (a work folder kept by an earlier run, BENCH_KEEP=1:
# its converted files are taken instead of converting again when its
# events.jsonl is this run's), and run.sh's (BENCH_PARTITIONS,
# BENCH_LINGER_MS, BENCH_PG_DIR, ...).
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
F_RATES=${BENCH_FORMAT_RATES:-"4000 8000 12000 16000 20000 24000"}
FORMATS=${BENCH_FORMATS:-"native litellm otlp_json otlp_proto"}
F_REFINE=${BENCH_REFINE:-1}
export BENCH_STEP_SECONDS=${BENCH_STEP_SECONDS:-20}
F_MAX=0
for r in $F_RATES; do [ "$r" -gt "$F_MAX" ] && F_MAX=$r; done
# run.sh generates max(BENCH_RATES) x BENCH_STEP_SECONDS native events, the
# traffic of the highest step
BENCH_SOURCED=1 BENCH_RATES=$F_MAX . "$HERE/run.sh"

# ---- the same events in every format ----------------------------------------

declare -A FILE PER_MSG MSGS SUST FAIL CORES
SPANS=16 # TOOLS_GEN_SPANS_PER_REQUEST: GenAI spans in one generated OTLP request
for f in $FORMATS; do
    case $f in
    native) FILE[$f]=$EVENTS PER_MSG[$f]=1 ;;
    litellm) PER_MSG[$f]=1 ;;
    otlp_json | otlp_proto) PER_MSG[$f]=$SPANS ;;
    *) die "unknown format $f (BENCH_FORMATS)" ;;
    esac
    if [ "$f" != native ]; then
        FILE[$f]=$WORK/events.$f
        if [ -n "${BENCH_FORMAT_INPUT:-}" ] && [ -s "$BENCH_FORMAT_INPUT/events.$f" ]; then
            # converted before from the same events (a kept work folder): gen is slow
            cmp -s "$BENCH_FORMAT_INPUT/events.jsonl" "$EVENTS" ||
                die "$BENCH_FORMAT_INPUT/events.jsonl is not this run's events"
            ln -s "$BENCH_FORMAT_INPUT/events.$f" "${FILE[$f]}"
        else
            "$B" gen --format "$f" --from "$EVENTS" >"${FILE[$f]}"
        fi
    fi
    SUST[$f]=0 FAIL[$f]=0
    log "$f: $(($(wc -c <"${FILE[$f]}") / max_events)) bytes an event, ${PER_MSG[$f]} event(s) a message"
done
# The OTLP files hold whole requests of SPANS events: every step takes
# whole messages, so the events a step sends are its messages x SPANS.
[ $((max_events % SPANS)) = 0 ] || die "$max_events events are not whole OTLP requests of $SPANS"

printf '%-11s %9s %9s %9s %9s %6s %9s  %s\n' format ev/s_off msg/s_off stored expected cores \
    decode_us result >"$WORK/formats.txt"
# fmt_step FORMAT EVENT_RATE: one run_step of FORMAT at EVENT_RATE events/s.
fmt_step() {
    local f=$1 r=$2 per=${PER_MSG[$1]} rc=0
    local mr=$((r / per))
    log "format $f: $((mr * per)) events/s = $mr messages/s"
    CUSTOS_COLLECTOR_FORMAT=$f BENCH_EVENTS_PER_MESSAGE=$per run_step "$mr" "$STEP_S" "${FILE[$f]}" || rc=$?
    # the collector's decode stage (wall time of the consumer thread), per event stored
    local dec
    dec=$(sed -nE 's/^(.*,)?decode:([0-9]+).*$/\2/p' <<<"${S_STAGES:-}")
    dec=$(awk -v d="${dec:-0}" -v n="${S_STORED:-0}" 'BEGIN {printf (n > 0 ? "%.0f" : "-"), (n > 0 ? 1000 * d / n : 0)}')
    printf '%-11s %9s %9s %9s %9s %6s %9s  %s\n' "$f" "$((mr * per))" "$mr" "$S_STORED" \
        "$((mr * STEP_S * per))" "$S_CPU" "$dec" "$S_RESULT${S_WHY:+: ${S_WHY%; }}" >>"$WORK/formats.txt"
    dropdb --if-exists "$S_DB" 2>/dev/null || true
    return $rc
}

# ---- the ladder, formats in turn ---------------------------------------------

read -r -a FL <<<"$FORMATS"
k=0
for r in $F_RATES; do
    live=0
    for ((i = 0; i < ${#FL[@]}; i++)); do
        f=${FL[$(((i + k) % ${#FL[@]}))]}
        [ "${FAIL[$f]}" = 0 ] || continue
        live=1
        if fmt_step "$f" "$r"; then SUST[$f]=$r CORES[$f,$r]=$S_CPU; else FAIL[$f]=$r; fi
    done
    k=$((k + 1))
    [ "$live" = 1 ] || break
done
if [ "$F_REFINE" = 1 ]; then
    for f in "${FL[@]}"; do
        [ "${FAIL[$f]}" -gt 0 ] && [ "${SUST[$f]}" -gt 0 ] || continue
        mid=$(((SUST[$f] + FAIL[$f]) / 2 / 1000 * 1000))
        [ "$mid" -gt "${SUST[$f]}" ] && [ "$mid" -lt "${FAIL[$f]}" ] || continue
        if fmt_step "$f" "$mid"; then SUST[$f]=$mid CORES[$f,$mid]=$S_CPU; fi
    done
fi

# ---- report ------------------------------------------------------------------

# the highest ladder rate every format sustained: the collector's cores there
COMMON=0
for r in $F_RATES; do
    all=1
    for f in "${FL[@]}"; do [ "${SUST[$f]}" -ge "$r" ] && [ -n "${CORES[$f,$r]:-}" ] || all=0; done
    [ "$all" = 1 ] && COMMON=$r
done
BASE=${SUST[native]:-0}
{
    echo
    echo "custos ingest per format - $(nproc) cores, $PARTS partitions, ${STEP_S}s per step, linger ${LINGER_MS} ms," \
        "attacks ${ATTACKS}, live analytics ${CUSTOS_COLLECTOR_ANALYTICS:-on}, load1 at the end $(cut -d' ' -f1-3 /proc/loadavg)"
    echo
    cat "$WORK/formats.txt"
    echo
    printf '%-11s %14s %14s %12s %16s\n' format "sustained ev/s" "msg/s" "x native" \
        "cores@${COMMON}ev/s"
    for f in "${FL[@]}"; do
        # the events/s offered: whole messages a second (240 for an OTLP step of 250)
        printf '%-11s %14s %14s %12s %16s\n' "$f" "$((SUST[$f] / PER_MSG[$f] * PER_MSG[$f]))" \
            "$((SUST[$f] / PER_MSG[$f]))" \
            "$(awk -v s="${SUST[$f]}" -v b="$BASE" 'BEGIN {printf (b > 0 ? "%.2f" : "-"), (b > 0 ? s / b : 0)}')" \
            "${CORES[$f,$COMMON]:--}"
    done
    echo
    echo "sustained = the highest offered event rate stored exactly once (rows stored = events sent),"
    echo "no offset gap, lag <= ${MAX_LAG_S}s of traffic, drained within ${MAX_DRAIN_S}s; native's in the same run is the baseline."
    echo "run_step's lag is in messages (an OTLP message holds $SPANS events); cores = the collector's CPU;"
    echo "decode_us = the collector's decode stage (consumer thread, wall time: a busy machine's waits in it) per event stored."
    [ "${SUST[native]:-0}" -lt "$F_MAX" ] || echo "native passed the highest step: raise BENCH_FORMAT_RATES to find its limit"
} | tee "$WORK/report.txt"
