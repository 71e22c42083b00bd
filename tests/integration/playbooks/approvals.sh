#!/usr/bin/env bash
# Approval gates through the CLI: a critical drift proposes a rollback that
# waits; `custos actions approve` runs it (evidence frozen first, registry
# switched); reject records the reason; approvals expire; the global policy
# gates other kinds; a rollback that cannot run fails and escalates.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
export CUSTOS_EFFECTORS_CONTROL=off

t_sql "INSERT INTO model_deployments (model, version, active, deployed_at) VALUES
         ('acme-chat', '2024-05', false, now() - interval '60 days'),
         ('acme-chat', '2024-06', false, now() - interval '30 days'),
         ('acme-chat', '2024-07', true, now() - interval '1 day'),
         ('solo-model', 'v1', true, now() - interval '1 day')"
# events of the drifting version inside the incident's span, and one outside
t_sql "INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, prompt, response)
       SELECT timestamptz '2026-11-21 09:10:00+00' + i * interval '5 minutes', 'ev-' || i, 'k-' || i,
              'acme-chat', '2024-07', 'prompt ' || i, 'response ' || i FROM generate_series(1, 5) i
       UNION ALL SELECT timestamptz '2026-11-21 11:00:00+00', 'ev-late', 'k-x', 'acme-chat', '2024-07', 'p', 'r'"

"$B" playbook apply --incident "$PB_DATA/drift_critical.json" --log-level warn >/dev/null 2>"$T_DIR/apply.log" ||
    t_fail "apply: $(cat "$T_DIR/apply.log")"
id=$(t_sql "SELECT id FROM actions WHERE kind = 'rollback_model'")
pb_expect "rollback waits" "$(t_sql "SELECT state || ' ' || approval_required FROM actions WHERE id = $id")" "pending_approval true"
pb_expect "nothing rolled back yet" "$(t_sql "SELECT version FROM model_deployments WHERE model = 'acme-chat' AND active")" 2024-07
"$B" actions list --state pending_approval --log-level warn | grep -Eq "^$id +pending_approval +rollback_model +acme-chat" ||
    t_fail "list does not show the pending rollback"

"$B" actions list --json --state pending_approval --log-level warn | python3 -c '
import json, sys
rows = [json.loads(l) for l in sys.stdin]
assert len(rows) == 1 and rows[0]["kind"] == "rollback_model" and rows[0]["approval_required"], rows
assert rows[0]["params"]["from"] == "2024-07" and rows[0]["expires_at"], rows' || t_fail "actions list --json"
out=$("$B" actions approve "$id" --actor alice --log-level warn) || t_fail "approve failed: $out"
pb_expect "approve" "$out" "action $id approved by alice: done"
pb_expect "rolled back" "$(t_sql "SELECT version FROM model_deployments WHERE model = 'acme-chat' AND active")" 2024-06
pb_expect "history" "$(t_sql "SELECT from_version || '>' || to_version || ' ' || (action_id = $id) FROM model_deployment_history")" "2024-07>2024-06 true"
pb_expect "decided by" "$(t_sql "SELECT decided_by FROM actions WHERE id = $id")" alice
pb_expect "evidence events" "$(t_sql "SELECT events FROM evidence_records WHERE action_id = $id")" 5
pb_expect "evidence hash" "$(t_sql "SELECT sha256 = encode(sha256(convert_to(content, 'UTF8')), 'hex') FROM evidence_records")" t
pb_expect "evidence holds the drift windows" \
    "$(t_sql "SELECT json_array_length((content::json)->'drift_windows'->'windows') FROM evidence_records")" 3
pb_expect "evidence frozen before the rollback ran" \
    "$(t_sql "SELECT string_agg(event, ',' ORDER BY seq) FROM audit_log WHERE action_id = $id")" \
    "proposed,pending_approval,approved,executing,evidence_frozen,done"
if t_sql "UPDATE evidence_records SET content = '{}'" 2>/dev/null; then t_fail "evidence altered"; fi
if t_sql "DELETE FROM evidence_records" 2>/dev/null; then t_fail "evidence deleted"; fi

if out=$("$B" actions approve "$id" --log-level warn 2>&1); then t_fail "approved twice"; fi
echo "$out" | grep -q "is done, not pending approval" || t_fail "wrong refusal: $out"

# reject
pb_incident "$PB_DATA/drift_critical.json" inc-drift-2 >"$T_DIR/d2.json"
"$B" playbook apply --incident "$T_DIR/d2.json" --log-level warn >/dev/null 2>&1 || true
# the active version is now 2024-06, so the proposal is the same rollback of 2024-07 for a new incident
id2=$(t_sql "SELECT id FROM actions WHERE kind = 'rollback_model' AND incident_id = 'inc-drift-2'")
if "$B" actions reject "$id2" --log-level warn 2>/dev/null; then t_fail "reject without a reason"; fi
"$B" actions reject "$id2" --reason "false positive: load test" --actor bob --log-level warn >/dev/null || t_fail "reject failed"
pb_expect "rejected" "$(t_sql "SELECT state || '|' || decided_by || '|' || decision_reason FROM actions WHERE id = $id2")" \
    "rejected|bob|false positive: load test"
pb_expect "rejection audited" "$(t_sql "SELECT actor || ' ' || (detail::json->>'note') FROM audit_log WHERE action_id = $id2 AND event = 'rejected'")" \
    "bob false positive: load test"
if "$B" actions approve "$id2" --log-level warn 2>/dev/null; then t_fail "approved after rejection"; fi

# expiry
pb_incident "$PB_DATA/drift_critical.json" inc-drift-3 >"$T_DIR/d3.json"
CUSTOS_PLAYBOOKS_APPROVAL_EXPIRY_MS=1000 "$B" playbook apply --incident "$T_DIR/d3.json" --log-level warn >/dev/null 2>&1 || true
id3=$(t_sql "SELECT id FROM actions WHERE kind = 'rollback_model' AND incident_id = 'inc-drift-3'")
sleep 1.5
if out=$("$B" actions approve "$id3" --log-level warn 2>&1); then t_fail "approved after expiry: $out"; fi
echo "$out" | grep -q "is expired, not pending approval" || t_fail "wrong refusal: $out"
pb_expect "expired by" "$(t_sql "SELECT actor FROM audit_log WHERE action_id = $id3 AND event = 'expired'")" expiry

# global policy: revocations need approval too
CUSTOS_PLAYBOOKS_APPROVAL_KINDS=rollback_model,revoke_key "$B" playbook apply \
    --incident "$PB_DATA/extraction_high.json" --log-level warn >/dev/null 2>&1 || t_fail "apply extraction"
pb_expect "gated revoke" "$(t_sql "SELECT state FROM actions WHERE kind = 'revoke_key'")" pending_approval
pb_expect "key untouched" "$(t_sql "SELECT count(*) FROM api_keys")" 0
rid=$(t_sql "SELECT id FROM actions WHERE kind = 'revoke_key'")
"$B" actions approve "$rid" --log-level warn >/dev/null || t_fail "approve revoke"
pb_expect "revoked after approval" "$(t_sql "SELECT status FROM api_keys WHERE key_id = 'key-attacker-1'")" revoked

# a rollback that cannot run (no earlier version) fails and escalates
python3 -c '
import json, sys
d = json.load(open(sys.argv[1])); d.update(incident_id="inc-solo", model="solo-model", model_version="v1")
print(json.dumps(d))' "$PB_DATA/drift_critical.json" >"$T_DIR/solo.json"
"$B" playbook apply --incident "$T_DIR/solo.json" --log-level warn >/dev/null 2>&1 || true
sid=$(t_sql "SELECT id FROM actions WHERE kind = 'rollback_model' AND incident_id = 'inc-solo'")
if out=$("$B" actions approve "$sid" --log-level warn 2>"$T_DIR/solo.log"); then t_fail "impossible rollback done: $out"; fi
pb_expect "failed" "$(t_sql "SELECT state || ': ' || error FROM actions WHERE id = $sid")" \
    "failed: registry: solo-model has no version deployed before 'v1'"
pb_expect "escalated" "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'escalated' AND action_id = $sid")" 1
pb_expect "escalation playbook ran" \
    "$(t_sql "SELECT status || ' ' || severity FROM incident_updates WHERE incident_id = 'inc-solo' AND status = 'escalated'")" \
    "escalated critical"
pb_expect "model untouched" "$(t_sql "SELECT version FROM model_deployments WHERE model = 'solo-model' AND active")" v1

# crash recovery (simulated behind custos' back): an approved action nobody
# executed is executed by the timer; one stuck executing fails and escalates
pb_incident "$PB_DATA/extraction_high.json" inc-orphan key-orphan >"$T_DIR/orphan.json"
pb_incident "$PB_DATA/extraction_high.json" inc-stuck key-stuck >"$T_DIR/stuck.json"
CUSTOS_PLAYBOOKS_APPROVAL_KINDS=revoke_key "$B" playbook apply --incident "$T_DIR/orphan.json" --log-level warn >/dev/null 2>&1
CUSTOS_PLAYBOOKS_APPROVAL_KINDS=revoke_key "$B" playbook apply --incident "$T_DIR/stuck.json" --log-level warn >/dev/null 2>&1
t_sql "UPDATE actions SET state = 'approved', updated_at = now() - interval '1 hour' WHERE subject = 'key-orphan'"
t_sql "UPDATE actions SET state = 'executing', started_at = now() - interval '1 hour' WHERE subject = 'key-stuck'"
"$B" actions tick --log-level warn >/dev/null || t_fail "tick"
pb_expect "orphan executed" "$(t_sql "SELECT state FROM actions WHERE subject = 'key-orphan'") $(t_sql "SELECT status FROM api_keys WHERE key_id = 'key-orphan'")" "done revoked"
pb_expect "stuck one failed" "$(t_sql "SELECT state || ': ' || error FROM actions WHERE subject = 'key-stuck'")" \
    "failed: interrupted: custos stopped while executing it"
pb_expect "and escalated" "$(t_sql "SELECT count(*) FROM incident_updates WHERE incident_id = 'inc-stuck' AND status = 'escalated'")" 1

"$B" audit verify --log-level warn || t_fail "audit chain"
t_log "PASS"
