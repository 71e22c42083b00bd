#!/usr/bin/env bash
# The detectors prompt by prompt: each attack prompt of one half of
# data/prompts (every style) and each benign prompt (every set, once
# answered and once refused) as the only event of its own key; prints how
# many raise a probing incident.
#
#   bench/detect/prompts.sh [BUILD_DIR] [HALF]     HALF: test (default) or tune
#   bench/detect/prompts.sh [BUILD_DIR] fresh
#
# fresh: only the fresh benign set (data/prompts/fresh/benign_fresh.jsonl,
# made by data/prompts/make_fresh.py from Debian packages and kept unseen:
# evaluation only, never tuned on), answered and refused, with its false
# positives pooled, per language, per request language, per kind of request,
# per source and on the trigger-word subset (counts only: the bench does not
# print which prompts were flagged), beside the targets of issue 12.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
half=${2:-test}
out=${DETECT_OUT:-/tmp/custos-detect}
mkdir -p "$out"
scengen=${CUSTOS_SCENGEN:-$build/tools/scengen} # CMake target (tools/scenarios)
[ -x "$scengen" ] || { echo "$scengen: not built (cmake --build $build)" >&2; exit 2; }
if [ "$half" = fresh ]; then
    fresh=${CUSTOS_FRESH_SET:-$src/data/prompts/fresh/benign_fresh.jsonl}
    "$scengen" --data "${CUSTOS_PROMPTS_DIR:-$src/data/prompts}" --prompts-only 1 --fresh "$fresh" \
        --events "$out/fresh.jsonl" --labels /dev/null 2>/dev/null
    "$build/custos" analyze --log-level info "$out/fresh.jsonl" >"$out/fresh-incidents.jsonl" \
        2>"$out/fresh-analyze.log"
    # (awk: no incident at all is a result, not an error)
    awk -F'"api_key_id":"' '/"type":"probing"/ { split($2, a, "\""); print a[1] }' \
        "$out/fresh-incidents.jsonl" | sort -u >"$out/fresh-hit.txt"
    grep -o '"api_key_id":"[^"]*"' "$out/fresh.jsonl" | cut -d'"' -f4 | sort -u >"$out/fresh-keys.txt"
    # key names: fresh-ans|ref-LANG-ASK-KIND-SOURCE-TRIGGER-NNNNN (tools/scenarios/scengen.c)
    awk 'FILENAME == ARGV[1] { hit[$1] = 1; next }
        function add(g, x) { tot[g, x]++; if ($1 in hit) h[g, x]++; groups[g] = 1; seen[g, x] = 1 }
        { split($1, p, "-"); a = p[2]; x = $1 in hit
          add("pooled", a); add("language " p[3], a)
          add("request in " (p[4] == p[3] ? "the passage language" : "English, passage not"), a)
          add("kind " p[5], a); add("source " p[6], a)
          if (p[7] == "1") add("passage holds trigger words", a) }
        END {
          printf "| fresh benign set (unseen) | answered: incidents | of | FP | refused: incidents | of | FP | target |\n|---|---|---|---|---|---|---|---|\n"
          for (k in groups) {
              tgt = k == "pooled" ? "<= 0.1 %" : "<= 0.5 %"
              ok = (h[k, "ans"] / tot[k, "ans"] <= (k == "pooled" ? 0.001 : 0.005)) &&
                   (h[k, "ref"] / tot[k, "ref"] <= (k == "pooled" ? 0.001 : 0.005))
              printf "| %s | %d | %d | %.2f%% | %d | %d | %.2f%% | %s %s |\n", k,
                  h[k, "ans"], tot[k, "ans"], 100 * h[k, "ans"] / tot[k, "ans"],
                  h[k, "ref"], tot[k, "ref"], 100 * h[k, "ref"] / tot[k, "ref"], tgt,
                  ok ? "met" : "MISSED" | "sort"
          }
          close("sort")
        }' "$out/fresh-hit.txt" "$out/fresh-keys.txt"
    # weak signals below an incident: custos analyze's count (all groups together)
    grep 'msg="analyze done"' "$out/fresh-analyze.log" |
        sed -n 's/.* events=\([0-9]*\) .* alerts_only=\([0-9]*\).*/alerts without an incident: \2 of \1 events (answered and refused together)/p'
    exit 0
fi
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
