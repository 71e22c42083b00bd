#!/usr/bin/env bash
# custos playbook test: the author's loop. Each shipped playbook against a
# sample incident in dry run; broken and hostile playbooks are refused or
# killed with their file:line, and the command stays usable.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
P=$CUSTOS_SOURCE_DIR/playbooks
export CUSTOS_EFFECTORS_CONTROL=on

out=$("$B" playbook test "$P/revoke_extraction.lua" --incident "$PB_DATA/extraction_high.json" --json --log-level warn)
pb_expect "extraction: run status" "$(echo "$out" | python3 -c 'import json,sys; print([json.loads(l)["status"] for l in sys.stdin if "status" in json.loads(l)][0])')" ok
pb_expect "extraction: actions" "$(echo "$out" | grep -c '"state":"dry_run"')" 2
echo "$out" | grep -q '"kind":"revoke_key","subject":"key-attacker-1"' || t_fail "no revoke of key-attacker-1: $out"
echo "$out" | grep -q '"would":"revoke key key-attacker-1 (effectors: registry,control)"' || t_fail "no 'would': $out"

# below the playbook's minimum severity: nothing runs
low=$(mktemp -p "$T_DIR"); pb_incident "$PB_DATA/extraction_high.json" inc-low | sed 's/"high"/"low"/' >"$low"
out=$("$B" playbook test "$P/revoke_extraction.lua" --incident "$low" --log-level warn)
echo "$out" | grep -q "does not match" || t_fail "low severity ran: $out"

# probing: throttle first, revoke when it comes back
out=$("$B" playbook test "$P/throttle_probing.lua" --incident "$PB_DATA/probing_medium.json" --json --log-level warn)
echo "$out" | grep -q '"kind":"throttle_key"' || t_fail "first delivery did not throttle: $out"
out=$("$B" playbook test "$P/throttle_probing.lua" --incident "$PB_DATA/probing_medium.json" --deliveries 2 --json --log-level warn)
echo "$out" | grep -q '"kind":"revoke_key"' || t_fail "second delivery did not revoke: $out"

# drift: rollback that needs approval
out=$("$B" playbook test "$P/rollback_drift.lua" --incident "$PB_DATA/drift_critical.json" --json --log-level warn)
echo "$out" | grep -q '"kind":"rollback_model".*"from":"2024-07","to":"previous".*"approval_required":true' ||
    t_fail "no gated rollback: $out"

# escalation playbook on an action_failed delivery
fa=$(mktemp -p "$T_DIR")
python3 - "$PB_DATA/extraction_high.json" >"$fa" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
print(json.dumps(d))
PY
out=$("$B" playbook test "$P/escalate_failed.lua" --incident "$fa" --event action_failed --log-level warn 2>&1 || true)
echo "$out" | grep -q "escalate-failed-action: error" || t_fail "escalation ran without a failed action: $out"

# a syntax error is refused with file:line
bad=$T_DIR/bad.lua
printf 'return {\n  on = { types = "*" },\n  run = function(incident)\n    custos.revoke_key(\n  end,\n}\n' >"$bad"
if out=$("$B" playbook test "$bad" --incident "$PB_DATA/extraction_high.json" 2>&1); then t_fail "bad playbook accepted"; fi
echo "$out" | grep -q "bad.lua:5:" || t_fail "no line number: $out"

# hostile playbooks: killed, reported with class and line, fast
for body in "while true do end" "local s = string.rep('x', 1 << 30)" "os.execute('id')" \
            "pcall(function() while true do end end) custos.revoke_key('k')"; do
    f=$T_DIR/evil.lua
    printf 'return {\n  on = { types = "*" },\n  run = function(incident)\n    %s\n  end,\n}\n' "$body" >"$f"
    start=$(date +%s%N)
    if out=$("$B" playbook test "$f" --incident "$PB_DATA/extraction_high.json" 2>&1); then t_fail "[$body] succeeded"; fi
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    echo "$out" | grep -Eq "run evil: (instructions|memory|blocked|deadline), 0 action" || t_fail "[$body]: $out"
    echo "$out" | grep -q "^action " && t_fail "[$body] took an action: $out"
    [ "$ms" -lt 3000 ] || t_fail "[$body] took $ms ms"
    t_log "ok: [$body] -> $(echo "$out" | grep -Eo "evil: [a-z]+")"
done

# every shipped playbook loads
"$B" playbook check "$P" --log-level warn | tee "$T_DIR/check.out"
pb_expect "shipped playbooks" "$(grep -c '^loaded' "$T_DIR/check.out")" 5
t_log "PASS"
