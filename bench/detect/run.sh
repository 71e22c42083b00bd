#!/usr/bin/env bash
# Detection quality: generate the labelled scenarios, run `custos analyze`
# over them, score the incidents (recall, precision, time to detect).
#
#   bench/detect/run.sh [BUILD_DIR] [HALF]    HALF: test (default) or tune
#
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
cc -O2 -Wall -o "$out/scengen" "$here/scengen.c" -lcjson -lm
cc -O2 -Wall -o "$out/score" "$here/score.c" -lcjson
"$out/scengen" --data "$data" --half "$half" --seed "${SEED:-1}" --hours 6 --keys 300 \
    --events "$out/events.jsonl" --labels "$out/labels.jsonl"
"$build/custos" analyze --log-level "${LOG_LEVEL:-info}" "$out/events.jsonl" >"$out/incidents.jsonl"
"$out/score" "$out/labels.jsonl" "$out/incidents.jsonl"
