#!/usr/bin/env bash
# The detectors prompt by prompt: each attack prompt of one half of
# data/prompts (every style) and each benign prompt (every set, once
# answered and once refused) as the only event of its own key; prints how
# many raise a probing incident.
#
#   bench/detect/prompts.sh [BUILD_DIR] [HALF]     HALF: test (default) or tune
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
half=${2:-test}
out=${DETECT_OUT:-/tmp/custos-detect}
mkdir -p "$out"
scengen=${CUSTOS_SCENGEN:-$build/tools/scengen} # CMake target (tools/scenarios)
[ -x "$scengen" ] || { echo "$scengen: not built (cmake --build $build)" >&2; exit 2; }
"$scengen" --data "${CUSTOS_PROMPTS_DIR:-$src/data/prompts}" --half "$half" --prompts-only 1 \
    --events "$out/prompts.jsonl" --labels /dev/null 2>/dev/null
"$build/custos" analyze --log-level warn "$out/prompts.jsonl" >"$out/prompts-incidents.jsonl"
grep '"type":"probing"' "$out/prompts-incidents.jsonl" | grep -o '"api_key_id":"[^"]*"' |
    cut -d'"' -f4 | sort -u >"$out/prompts-hit.txt"
grep -o '"api_key_id":"[^"]*"' "$out/prompts.jsonl" | cut -d'"' -f4 | sort -u >"$out/prompts-keys.txt"
# key names: atk-STYLE-NNNN, benign-ans|ref-SET-NNNN
awk -v half="$half" 'NR == FNR { hit[$1] = 1; next }
    { n = split($1, p, "-"); grp = p[1] == "atk" ? "attack " p[2] : "benign " p[3] " " p[2]
      tot[grp]++; if ($1 in hit) h[grp]++
      if (p[1] == "benign") { btot[p[2]]++; if ($1 in hit) bh[p[2]]++ } }
    END {
      printf "| prompts (%s half for attacks) | raise a probing incident | of | share |\n|---|---|---|---|\n", half
      for (g in tot) printf "| %s | %d | %d | %.2f%% |\n", g, h[g], tot[g], 100 * h[g] / tot[g] | "sort"
      close("sort")
      for (k in btot) printf "benign pooled, %s: %d of %d = %.3f%%\n", k == "ans" ? "answered" : "refused", bh[k], btot[k], 100 * bh[k] / btot[k]
    }' "$out/prompts-hit.txt" "$out/prompts-keys.txt"
