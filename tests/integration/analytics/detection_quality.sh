#!/usr/bin/env bash
# Detection quality on the labelled scenarios with the held-back half of the
# attack prompts (bench/detect/run.sh): every attack found (recall 1.0) in
# time, precision >= 0.95, per-key recall on the jailbreak keys of mixed-in
# probing >= 0.90 (the target the issue sets for them), no benign
# key beyond 1 %, no look-alike flagged. The one target not asserted is the
# worst time to detect of mixed-in probing: a key whose first attempt no rule
# catches is found at its next one (docs/analytics.md).
. "$(dirname "$0")/../../lib/env.sh"

DETECT_OUT=$T_DIR SEED=${SEED:-1} LOG_LEVEL=warn \
    bash "$CUSTOS_SOURCE_DIR/bench/detect/run.sh" "$(dirname "$CUSTOS_BIN")" test \
    >"$T_DIR/score.txt" 2>&1 || true
cat "$T_DIR/score.txt" >&2
grep -q '^| all |' "$T_DIR/score.txt" || t_fail "the scorer did not run"
# scenario rows: | name | instances | detected | recall | median | worst | target | met |
# Every check below fails when its line is missing from the scorer's output:
# a scorer that prints nothing must not pass.
awk -F'|' 'NF >= 10 && /^\| [a-z_]+ \| [0-9]+ \| [0-9]+ \| [0-9.]+ \|/ {
    rows++
    name = $2; gsub(/ /, "", name); met = $9; gsub(/ /, "", met); rec = $5 + 0
    if (rec < 1.0 && name != "probing_mixed") { print "recall below 1: " name; bad = 1 }
    if (met != "yes" && name != "probing_mixed") { print "time to detect missed: " name; bad = 1 }
} END { if (rows < 5) { print "only " rows + 0 " scenario rows"; bad = 1 }; exit bad }' "$T_DIR/score.txt" ||
    t_fail "a scenario target is missed"
awk -F'|' '/^\| all \|/ { seen = 1; p = $5 + 0; if (p < 0.95) bad = 1 } END { exit !seen || bad }' \
    "$T_DIR/score.txt" || t_fail "precision below 0.95 (or not reported)"
awk '/^per-key recall/ { seen = 1; split($0, a, "= "); if (a[2] + 0 < 0.90) bad = 1 } END { exit !seen || bad }' \
    "$T_DIR/score.txt" || t_fail "per-key recall below 0.90 (or not reported)"
awk '/^benign keys flagged/ { seen = 1; split($0, a, "= "); if (a[2] + 0 > 1.0) bad = 1 } END { exit !seen || bad }' \
    "$T_DIR/score.txt" || t_fail "more than 1 % of benign keys flagged (or not reported)"
grep -q '^look-alike subjects flagged: 0/' "$T_DIR/score.txt" || t_fail "a look-alike was flagged"
t_log "detection targets met (mixed-in probing's worst time to detect reported, not asserted)"
