#!/usr/bin/env bash
# The signature rules prompt by prompt: each attack prompt of one half of
# data/prompts (and each benign prompt) as the only event of its own key;
# prints how many raise a probing incident.
#
#   bench/detect/prompts.sh [BUILD_DIR] [HALF]     HALF: test (default) or tune
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
half=${2:-test}
out=${DETECT_OUT:-/tmp/custos-detect}
mkdir -p "$out"
cc -O2 -Wall -o "$out/scengen" "$here/scengen.c" -lcjson -lm
"$out/scengen" --data "${CUSTOS_PROMPTS_DIR:-$src/data/prompts}" --half "$half" --prompts-only 1 \
    --events "$out/prompts.jsonl" --labels /dev/null 2>/dev/null
"$build/custos" analyze --log-level warn "$out/prompts.jsonl" >"$out/prompts-incidents.jsonl"
for set in atk-template atk-dan atk-sysprompt benign; do
    total=$(grep -c "\"api_key_id\":\"$set-" "$out/prompts.jsonl" || true)
    hit=$(grep '"type":"probing"' "$out/prompts-incidents.jsonl" | grep -c "\"api_key_id\":\"$set-" || true)
    echo "$set ($half half for attacks): $hit of $total prompts raise a probing incident"
done
