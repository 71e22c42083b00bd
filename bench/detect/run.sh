#!/usr/bin/env bash
# Detection quality: generate the labelled scenarios, run `custos analyze`
# over them, score the incidents (recall, precision, time to detect, the
# look-alikes, one jailbreak per key by style), then the detectors prompt by
# prompt (bench/detect/prompts.sh: catch per attack style, benign false
# positives answered and refused).
#
#   bench/detect/run.sh [BUILD_DIR] [HALF]    HALF: test (default) or tune
#
# RESTARTS="1 3" cuts the events at those hours of event time and runs a
# `custos analyze` over each piece, as restarts of custos would see them;
# the incidents of all pieces are scored together. Each piece starts from
# the state the piece before saved (--state-in/--state-out: what custos run
# restores from its snapshots); RESTART_STATE=0 starts each piece fresh, as
# a restart without saved state did. It also prints how many incident
# documents the restarts changed against one uninterrupted run (0 and 0:
# no incident from a restart, none lost to one). PROMPTS=0 skips the
# prompt-by-prompt part; FRESH=0 skips the fresh benign set (prompts.sh
# fresh: unseen benign text from Debian packages in eight languages).
# Attack prompts come from the held-back test half of data/prompts unless
# HALF=tune. Prints the scorer's tables; exits non-zero when a target is missed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
half=${2:-test}
data=${CUSTOS_PROMPTS_DIR:-$src/data/prompts}
out=${DETECT_OUT:-/tmp/custos-detect}
mkdir -p "$out"
# the scenario generator and scorer: CMake targets (tools/scenarios)
scengen=${CUSTOS_SCENGEN:-$build/tools/scengen}
score=${CUSTOS_SCORE:-$build/tools/score}
for t in "$scengen" "$score"; do
    [ -x "$t" ] || { echo "$t: not built (cmake --build $build)" >&2; exit 2; }
done
# BENIGN_FROM=FILE: the scenarios' ordinary prompts from FILE (e.g. the fresh
# set, data/prompts/fresh/benign_fresh.jsonl) instead of the benign sets
bf=()
[ -n "${BENIGN_FROM:-}" ] && bf=(--benign-from "$BENIGN_FROM")
"$scengen" --data "$data" --half "$half" --seed "${SEED:-1}" --hours 6 --keys 300 "${bf[@]}" \
    --events "$out/events.jsonl" --labels "$out/labels.jsonl"
if [ -n "${RESTARTS:-}" ]; then
    # pieces by event time (scengen starts at 2026-11-20T00:00:00Z, sorted)
    awk -v cuts="$RESTARTS" -v out="$out" 'BEGIN { n = split(cuts, c, " ") }
        { i = index($0, "\"ts\":\""); h = substr($0, i + 17, 2) + 0; p = 0
          for (k = 1; k <= n; k++) if (h >= c[k] + 0) p = k
          print > (out "/events.part" p) }' "$out/events.jsonl"
    : >"$out/incidents.jsonl"
    rm -f "$out/state.bin"
    parts=$(ls "$out"/events.part* | sort -V)
    last=$(echo "$parts" | tail -n 1)
    for part in $parts; do
        st=()
        if [ "${RESTART_STATE:-1}" != 0 ]; then
            [ -f "$out/state.bin" ] && st+=(--state-in "$out/state.bin")
            [ "$part" != "$last" ] && st+=(--state-out "$out/state.next")
        fi
        "$build/custos" analyze --log-level "${LOG_LEVEL:-info}" "${st[@]}" "$part" >>"$out/incidents.jsonl"
        [ -f "$out/state.next" ] && mv "$out/state.next" "$out/state.bin"
        rm -f "$part"
    done
    rm -f "$out/state.bin"
    # what the restarts changed: the same events in one uninterrupted run
    "$build/custos" analyze --log-level warn "$out/events.jsonl" | sort >"$out/incidents.whole"
    sort "$out/incidents.jsonl" >"$out/incidents.cut"
    echo "restarts: $(comm -13 "$out/incidents.whole" "$out/incidents.cut" | wc -l) incident documents only with the restarts, $(comm -23 "$out/incidents.whole" "$out/incidents.cut" | wc -l) only without (of $(wc -l <"$out/incidents.whole"))"
    rm -f "$out/incidents.whole" "$out/incidents.cut"
    if [ "${RESTART_STATE:-1}" != 0 ]; then
        echo "restarts at hours: $RESTARTS (each piece continues from the state the one before saved)"
    else
        echo "restarts at hours: $RESTARTS (a fresh custos analyze per piece, no state carried over)"
    fi
else
    "$build/custos" analyze --log-level "${LOG_LEVEL:-info}" "$out/events.jsonl" >"$out/incidents.jsonl"
fi
rc=0
"$score" "$out/labels.jsonl" "$out/incidents.jsonl" || rc=$?
if [ "${PROMPTS:-1}" != 0 ]; then
    echo
    bash "$here/prompts.sh" "$build" "$half"
fi
if [ "${FRESH:-1}" != 0 ]; then
    echo
    bash "$here/prompts.sh" "$build" fresh
fi
exit "$rc"
