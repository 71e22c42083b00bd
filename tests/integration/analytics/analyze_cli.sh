#!/usr/bin/env bash
# custos analyze as a user meets it: incidents as JSON lines with every field
# the issue lists, the same output for the same events in any order within
# the reorder window and from standard input, bad lines reported with file,
# line and reason and skipped, bad rule files and missing files refused.
. "$(dirname "$0")/../../lib/env.sh"

"$CUSTOS_SCENGEN" --data "$CUSTOS_PROMPTS_DIR" --half test --seed 11 --hours 6 --keys 300 \
    --events "$T_DIR/events.jsonl" --labels "$T_DIR/labels.jsonl" 2>/dev/null

"$CUSTOS_BIN" analyze --log-level warn "$T_DIR/events.jsonl" >"$T_DIR/a.jsonl"
n=$(wc -l <"$T_DIR/a.jsonl")
[ "$n" -ge 10 ] || t_fail "only $n incidents"
for t in extraction probing drift leakage flood; do
    grep -q "\"type\":\"$t\"" "$T_DIR/a.jsonl" || t_fail "no $t incident"
done
# every line has every field, in this order (api_key_id only for key-scoped)
bad=$(grep -cv '^{"incident_id":"inc-[0-9a-f]\{16\}","type":"[a-z]*","severity":"\(low\|medium\|high\|critical\)",\("api_key_id":"[^"]*",\)\?"model":"[^"]*","model_version":"[^"]*","first_seen":"[0-9T:.Z-]*","detected_at":"[0-9T:.Z-]*","atlas":\[[^]]*\],"owasp":\[[^]]*\],"summary":"[^"]*","evidence":{.*}}$' "$T_DIR/a.jsonl" || true)
[ "$bad" = 0 ] || t_fail "$bad incident lines do not have the documented shape: $(head -c 400 "$T_DIR/a.jsonl")"
grep '"type":"drift"' "$T_DIR/a.jsonl" | grep -q '"api_key_id"' && t_fail "a drift incident names a key"

# the same again, from standard input, with neighbouring lines swapped
# (disorder of at most a few events: inside the reorder window) and with
# blank and invalid lines in between
awk 'NR % 2 == 1 { held = $0; next } { print; print held; held = "" }
     END { if (held != "") print held }' "$T_DIR/events.jsonl" |
    awk 'NR == 100 { print ""; print "{\"event_id\": 1}"; print "not json" } { print }' \
        >"$T_DIR/shuffled.jsonl"
CUSTOS_ANALYTICS_REORDER_WINDOW_MS=1m "$CUSTOS_BIN" analyze --log-level warn - \
    <"$T_DIR/shuffled.jsonl" >"$T_DIR/b.jsonl" 2>"$T_DIR/b.err"
cmp -s "$T_DIR/a.jsonl" "$T_DIR/b.jsonl" || t_fail "reordered input gave other incidents"
grep -q '<stdin>:101: skipped: ' "$T_DIR/b.err" || t_fail "the bad line is not reported: $(cat "$T_DIR/b.err")"
grep -q '<stdin>:102: skipped: malformed JSON' "$T_DIR/b.err" || t_fail "malformed line not reported"

# bad rule file: file, line and rule named, exit 3
mkdir -p "$T_DIR/rules"
printf -- '- id: broken\n  kind: probe\n  field: prompt\n  patterns: ["(unclosed"]\n' >"$T_DIR/rules/x.yaml"
set +e
CUSTOS_ANALYTICS_RULES_DIR="$T_DIR/rules" "$CUSTOS_BIN" analyze "$T_DIR/events.jsonl" \
    >/dev/null 2>"$T_DIR/rules.err"
rc=$?
"$CUSTOS_BIN" analyze "$T_DIR/missing.jsonl" >/dev/null 2>"$T_DIR/missing.err"
rc2=$?
"$CUSTOS_BIN" analyze >/dev/null 2>&1
rc3=$?
set -e
[ "$rc" = 3 ] || t_fail "a bad rule file exited $rc, not 3"
grep -q "x.yaml:4: rule broken: pattern does not compile" "$T_DIR/rules.err" ||
    t_fail "rule error not located: $(cat "$T_DIR/rules.err")"
[ "$rc2" = 1 ] && grep -q "missing.jsonl: cannot open" "$T_DIR/missing.err" ||
    t_fail "missing file: exit $rc2, $(cat "$T_DIR/missing.err")"
[ "$rc3" = 2 ] || t_fail "no input files exited $rc3, not 2"
t_log "$n incidents; same output reordered and from stdin; errors located"
