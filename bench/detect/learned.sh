#!/usr/bin/env bash
# The learned detector on the held-back half of data/prompts (odd FNV-1a 64
# hash: never trained on, thresholds not chosen on it), set by set, beside
# the targets of issue 12, with its inference cost in microseconds per KB of
# prompt on one core; then, in the same run, the probing detector prompt by
# prompt (bench/detect/prompts.sh) with the signatures alone
# (analytics.learned=off) and with the learned signal.
#
#   bench/detect/learned.sh [BUILD_DIR]
#   LEARNED_MODEL=FILE (default analytics/models/learned.bin)  LEARNED_CORE=C (default 1)
#   PROMPTS=0 skips the prompts.sh comparison.
#   FRESH=0 skips the fresh benign set (prompts.sh fresh: unseen text from
#   Debian packages, data/prompts/fresh) with the signatures alone and with
#   the learned signal.
#
# prompts.sh takes the attack prompts of the held-back half but every benign
# prompt (both halves: the benign tuning half was trained on), so its benign
# figures for the learned signal are not held-back figures; the first table's
# are.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=${1:-$src/build}
model=${LEARNED_MODEL:-$src/analytics/models/learned.bin}
core=${LEARNED_CORE:-1}
out=${DETECT_OUT:-/tmp/custos-detect}
[ -x "$build/train_learned" ] || { echo "learned.sh: $build/train_learned not built" >&2; exit 1; }
mkdir -p "$out"

echo "## The learned detector alone, per prompt, held-back half"
echo "targets (issue 12): catch >= 0.85 on every attack style but persuasion;"
echo "benign FP <= 0.1 % pooled and <= 0.5 % on every hard-negative set"
echo "(hard negatives: bipia clean contexts, xstest safe, notinject trigger words,"
echo "awesome/gpteacher roleplay, pap persuasion, l10n debian: benign text in the multilingual set's languages)"
taskset -c "$core" "$build/train_learned" --eval "$model" --data "$src/data/prompts"

# both_ways TITLE SET: prompts.sh on SET with the signatures alone, then
# with the signatures and the learned signal
both_ways() {
    echo
    echo "## $1, signatures alone: analytics.learned=off"
    CUSTOS_ANALYTICS_LEARNED=off DETECT_OUT="$out/learned-off" bash "$here/prompts.sh" "$build" "$2"
    echo
    echo "## $1, signatures and the learned signal"
    CUSTOS_ANALYTICS_LEARNED=on CUSTOS_ANALYTICS_LEARNED_MODEL="$model" \
        DETECT_OUT="$out/learned-on" bash "$here/prompts.sh" "$build" "$2"
}
[ "${PROMPTS:-1}" = 0 ] || both_ways "Probing incidents per prompt (prompts.sh)" test
[ "${FRESH:-1}" = 0 ] || both_ways "The fresh benign set (unseen; prompts.sh fresh)" fresh
