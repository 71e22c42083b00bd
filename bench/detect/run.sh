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
# fresh `custos analyze` over each piece, as a restart of custos with no
# state carried over would see them; the incidents of all pieces are scored
# together. PROMPTS=0 skips the prompt-by-prompt part.
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
"$scengen" --data "$data" --half "$half" --seed "${SEED:-1}" --hours 6 --keys 300 \
    --events "$out/events.jsonl" --labels "$out/labels.jsonl"
if [ -n "${RESTARTS:-}" ]; then
    # pieces by event time (scengen starts at 2026-11-20T00:00:00Z, sorted)
    awk -v cuts="$RESTARTS" -v out="$out" 'BEGIN { n = split(cuts, c, " ") }
        { i = index($0, "\"ts\":\""); h = substr($0, i + 17, 2) + 0; p = 0
          for (k = 1; k <= n; k++) if (h >= c[k] + 0) p = k
          print > (out "/events.part" p) }' "$out/events.jsonl"
    : >"$out/incidents.jsonl"
    for part in $(ls "$out"/events.part* | sort -V); do
        "$build/custos" analyze --log-level "${LOG_LEVEL:-info}" "$part" >>"$out/incidents.jsonl"
        rm -f "$part"
    done
    echo "restarts at hours: $RESTARTS (a fresh custos analyze per piece)"
else
    "$build/custos" analyze --log-level "${LOG_LEVEL:-info}" "$out/events.jsonl" >"$out/incidents.jsonl"
fi
rc=0
"$score" "$out/labels.jsonl" "$out/incidents.jsonl" || rc=$?
if [ "${PROMPTS:-1}" != 0 ]; then
    echo
    bash "$here/prompts.sh" "$build" "$half"
fi
exit "$rc"
