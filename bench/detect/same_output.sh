#!/usr/bin/env bash
# Speed work must not change what custos analyze finds: the incidents two
# binaries write for the same events, byte for byte. Inputs: the speed
# benchmark's events (`custos gen --seed 5 --attacks`, SAME_EVENTS of them,
# default 200 000) and the scenario of `scengen --seed 1 --half test --keys
# 300` (six hours, 300 benign keys and every attack scenario), each with
# analytics.learned on and off. Prints one line per input and exits 1 when
# any differ (the first differing lines are shown).
#
#   bench/detect/same_output.sh BASE_BIN [BUILD_DIR]
#   e.g. git worktree add /tmp/base HEAD~3, build it, then
#        bench/detect/same_output.sh /tmp/base/build/custos build
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
base=${1:?usage: same_output.sh BASE_BIN [BUILD_DIR]}
build=${2:-$src/build}
new=$build/custos
out=${DETECT_OUT:-/tmp/custos-detect}/same-output
n_events=${SAME_EVENTS:-200000}
for b in "$base" "$new" "$build/tools/scengen"; do
    [ -x "$b" ] || { echo "same_output.sh: $b not built" >&2; exit 2; }
done
mkdir -p "$out"
"$new" gen --count "$n_events" --seed 5 --attacks >"$out/gen.jsonl" 2>/dev/null
"$build/tools/scengen" --data "$src/data/prompts" --half test --seed 1 --hours 6 --keys 300 \
    --events "$out/scenario.jsonl" --labels "$out/labels.jsonl" >/dev/null
fail=0
for input in gen scenario; do
    for learned in on off; do
        for bin in base new; do
            b=$base
            [ $bin = new ] && b=$new
            CUSTOS_ANALYTICS_LEARNED=$learned "$b" analyze --log-level warn "$out/$input.jsonl" \
                >"$out/$input-$learned-$bin.out" 2>"$out/$input-$learned-$bin.err"
        done
        a=$out/$input-$learned-base.out z=$out/$input-$learned-new.out
        if cmp -s "$a" "$z"; then
            printf '  %-9s learned=%-3s identical: %d incidents, sha256 %s\n' "$input" "$learned" \
                "$(wc -l <"$z")" "$(sha256sum <"$z" | cut -c1-16)"
        else
            printf '  %-9s learned=%-3s DIFFER: %d incidents base, %d new\n' "$input" "$learned" \
                "$(wc -l <"$a")" "$(wc -l <"$z")"
            diff "$a" "$z" | head -4 | cut -c1-300
            fail=1
        fi
    done
done
exit $fail
