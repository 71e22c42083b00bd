#!/usr/bin/env bash
# The preservation gate (EU AI Act Art. 73(6)) and an approval's reason,
# against the real server and PostgreSQL (model_deployments, actions,
# evidence_records and the audit chain read back with psql):
# - a rollback for a serious incident is refused approval without the
#   authority statement (409, nothing moves, nothing frozen), accepted with
#   it, and accepted with a recorded override (CLI); the gate's answer and
#   the reason land in the action's record and its audit row;
# - the evidence is frozen before the rollback's effect (evidence row and
#   its audit row before the deployment switch and the done row);
# - the manual path (POST .../rollback, with or without the incident) is
#   held the same way; a playbook's rollback that needs no approval by
#   policy waits for one when a serious incident concerns it; an approval
#   recorded without the gate's answer does not execute (custos actions tick);
# - approve with a reason on an ordinary action: the reason in the audit
#   chain and the action's record (API and CLI); bad reasons are 400.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../web/lib/web.sh"

w_setup CUSTOS_EFFECTORS_CONTROL=off
export CUSTOS_EFFECTORS_CONTROL=off
for m in 1 2 3 4 5; do
    t_sql "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, model_version,
               first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc)
           VALUES ('inc-m$m', 'drift', 'high', 'open', NULL, 'm-$m', 'v2', now() - interval '1 hour',
                   now() - interval '40 minutes', now(), 1, '{}', '{}', 'm-$m v2 drifted', '{}');
           INSERT INTO model_deployments (model, version, active, deployed_at, retired_at) VALUES
             ('m-$m', 'v1', false, now() - interval '2 days', now() - interval '1 day'),
             ('m-$m', 'v2', true, now() - interval '1 day', NULL)" >/dev/null
done
t_sql "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, model_version,
           first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc)
       VALUES ('inc-k', 'extraction', 'high', 'open', 'k-1', NULL, NULL, now() - interval '1 hour',
               now() - interval '50 minutes', now(), 2, '{}', '{}', 'harvesting from k-1', '{}')" >/dev/null
pending() { # KIND SUBJECT PARAMS INCIDENT
    t_sql "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state,
               approval_required, expires_at, actor)
           VALUES ('$4', 'test', '$1', '$2', '$3', md5(random()::text), 'pending_approval', true,
               now() + interval '1 hour', 'playbook:test') RETURNING id"
}
active() { t_sql "SELECT version FROM model_deployments WHERE model = '$1' AND active"; }

w_signin analyst "$T_DIR/j.analyst"
A=(-b "$T_DIR/j.analyst" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
w_signin responder "$T_DIR/j.responder"
R=(-b "$T_DIR/j.responder" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
for m in 1 2 3 4 5; do
    w_req POST "/api/v1/incidents/inc-m$m/serious" "${A[@]}" -d '{"category":"critical_infrastructure"}'
    w_expect 200
done

# ---- refused without the authority statement ----
p1=$(pending rollback_model m-1 '{"model":"m-1","from":"v2","to":"previous","reason":"drift"}' inc-m1)
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}"
w_expect 409 preservation_gate
msg=$(w_json '["error"]["message"]')
[[ "$msg" == *"inc-m1"* && "$msg" == *"73(6)"* && "$msg" == *"authority_informed"* ]] || t_fail "gate message: $msg"
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d '{"reason":"looks fine"}'
w_expect 409 preservation_gate
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d '{"gate":"authority_informed"}'
w_expect 400 bad_request
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d '{"gate":"told","reason":"x"}'
w_expect 400 bad_request
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d '{"gate":"authority_informed","reason":"two\nlines"}'
w_expect 400 bad_request
long=$(head -c 1001 /dev/zero | tr '\0' a)
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d "{\"gate\":\"authority_informed\",\"reason\":\"$long\"}"
w_expect 400
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d '{"reason":"x","why":"y"}'
w_expect 400
[ "$(t_sql "SELECT state FROM actions WHERE id = $p1")" = pending_approval ] && [ "$(active m-1)" = v2 ] &&
    [ "$(t_sql "SELECT count(*) FROM evidence_records")" = 0 ] &&
    [ "$(t_sql "SELECT count(*) FROM audit_log WHERE action_id = $p1")" = 0 ] ||
    t_fail "a refused approval moved something: $(t_sql "SELECT state FROM actions WHERE id = $p1"), m-1 $(active m-1)"

# ---- accepted with it; the evidence frozen before the switch ----
stmt='Market surveillance authority (BNetzA) informed by phone 2026-12-01 10:00 UTC, ref MSA-17'
w_req POST "/api/v1/actions/$p1/approve" "${R[@]}" -d "{\"gate\":\"authority_informed\",\"reason\":\"$stmt\"}"
w_expect 200
[ "$(w_json '["state"]')" = done ] || t_fail "approved rollback: $(cat "$W_BODY")"
[ "$(active m-1)" = v1 ] || t_fail "the rollback did not switch m-1"
[ "$(t_sql "SELECT approval_gate || '|' || decision_reason || '|' || decided_by FROM actions WHERE id = $p1")" = \
    "authority_informed|$stmt|responder" ] || t_fail "action record: $(t_sql "SELECT approval_gate, decision_reason FROM actions WHERE id = $p1")"
[ "$(t_sql "SELECT detail::jsonb->>'gate' || '|' || (detail::jsonb->>'note') FROM audit_log
            WHERE action_id = $p1 AND event = 'approved' AND actor = 'responder'")" = "authority_informed|$stmt" ] ||
    t_fail "approval audit row: $(t_sql "SELECT detail FROM audit_log WHERE action_id = $p1 AND event = 'approved'")"
python3 - <<PY || t_fail "freeze order: $(t_sql "SELECT seq, event FROM audit_log WHERE action_id = $p1 ORDER BY seq")"
import subprocess
def q(s): return subprocess.check_output(["psql", "-X", "-A", "-t", "-q", "-d", "$T_DSN", "-c", s], text=True).strip()
seqs = dict(reversed(l.split("|")) for l in q("SELECT seq, event FROM audit_log WHERE action_id = $p1 ORDER BY seq").splitlines())
assert int(seqs["approved"]) < int(seqs["executing"]) < int(seqs["evidence_frozen"]) < int(seqs["done"]), seqs
assert q("SELECT count(*) FROM evidence_records WHERE action_id = $p1 AND incident_id = 'inc-m1'") == "1"
# the evidence row was written before the deployment changed
assert q("SELECT (SELECT created_at FROM evidence_records WHERE action_id = $p1) <= "
         "(SELECT at FROM model_deployment_history WHERE action_id = $p1)") == "t"
PY

# ---- a recorded override (the command line) ----
p2=$(pending rollback_model m-2 '{"model":"m-2","from":"v2","to":"previous","reason":"drift"}' inc-m2)
set +e
"$CUSTOS_BIN" actions approve "$p2" --actor carol --log-level warn >"$T_DIR/out" 2>"$T_DIR/err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'preservation\|73(6)' "$T_DIR/err" || t_fail "CLI approve without the gate: exit $rc $(cat "$T_DIR/err")"
why='wrong dosage answers in production: patient safety cannot wait; authority told within the hour'
"$CUSTOS_BIN" actions approve "$p2" --gate override --reason "$why" --actor carol --log-level warn >"$T_DIR/out" ||
    t_fail "CLI override: $(cat "$T_DIR/out")"
grep -q "approved by carol: done" "$T_DIR/out" || t_fail "CLI override printed $(cat "$T_DIR/out")"
[ "$(active m-2)" = v1 ] && [ "$(t_sql "SELECT approval_gate || '|' || decision_reason FROM actions WHERE id = $p2")" = "override|$why" ] &&
    [ "$(t_sql "SELECT detail::jsonb->>'gate' FROM audit_log WHERE action_id = $p2 AND event = 'approved' AND actor = 'carol'")" = override ] &&
    [ "$(t_sql "SELECT count(*) FROM evidence_records WHERE action_id = $p2")" = 1 ] || t_fail "override not recorded"

# ---- the manual path is held the same way ----
w_req POST /api/v1/models/m-3/versions/v2/rollback "${R[@]}" -d '{"reason":"drift","incident_id":"inc-m3"}'
w_expect 409 preservation_gate
[ "$(active m-3)" = v2 ] || t_fail "a held manual rollback switched m-3"
[ "$(t_sql "SELECT count(*) FROM actions WHERE kind = 'rollback_model' AND subject = 'm-3' AND state = 'pending_approval'")" = 1 ] ||
    t_fail "the held request is not left pending"
# without naming the incident: the serious incident about m-3 still holds it
w_req POST /api/v1/models/m-3/versions/v2/rollback "${R[@]}" -d '{"reason":"drift, no incident named"}'
w_expect 409 preservation_gate
[ "$(active m-3)" = v2 ] || t_fail "an unlinked manual rollback switched m-3"
w_req POST /api/v1/models/m-3/versions/v2/rollback "${R[@]}" -d '{"reason":"drift","incident_id":"inc-m3","gate":"override"}'
w_expect 400
w_req POST /api/v1/models/m-3/versions/v2/rollback "${R[@]}" \
    -d '{"reason":"drift confirmed","incident_id":"inc-m3","gate":"authority_informed","gate_reason":"AI Office informed by e-mail, ref AIO-9"}'
w_expect 201
[ "$(w_json '["state"]')" = done ] && [ "$(active m-3)" = v1 ] || t_fail "gated manual rollback: $(cat "$W_BODY")"
id3=$(w_json '["id"]')
[ "$(t_sql "SELECT approval_gate || '|' || decision_reason FROM actions WHERE id = $id3")" = \
    "authority_informed|AI Office informed by e-mail, ref AIO-9" ] || t_fail "manual gate not recorded"
[ "$(t_sql "SELECT count(*) FROM evidence_records WHERE action_id = $id3 AND incident_id = 'inc-m3'")" = 1 ] ||
    t_fail "no evidence frozen for the manual rollback"

# ---- a playbook's rollback that policy would run unapproved waits ----
mkdir -p "$T_DIR/pb"
cat >"$T_DIR/pb/rollback_now.lua" <<'LUA'
return {
  name = "rollback-now",
  on = { types = { "drift" }, min_severity = "low" },
  run = function(incident)
    custos.rollback_model(incident.subject.model, { to = "previous", reason = "drift" })
  end,
}
LUA
printf '%s\n' '{"incident_id":"inc-m4","type":"drift","severity":"high","api_key_id":null,"model":"m-4","model_version":"v2","first_seen":"2026-11-21T09:00:00Z","detected_at":"2026-11-21T10:00:00Z","atlas":[],"owasp":[],"summary":"m-4 v2 drifted","evidence":{"psi":0.6}}' >"$T_DIR/inc-m4.json"
CUSTOS_PLAYBOOKS_DIR=$T_DIR/pb CUSTOS_PLAYBOOKS_APPROVAL_KINDS='' "$CUSTOS_BIN" playbook apply \
    --incident "$T_DIR/inc-m4.json" --log-level warn >"$T_DIR/apply.out" 2>&1 || t_fail "playbook apply: $(cat "$T_DIR/apply.out")"
[ "$(t_sql "SELECT state || '|' || approval_required FROM actions WHERE kind = 'rollback_model' AND subject = 'm-4'")" = "pending_approval|true" ] &&
    [ "$(active m-4)" = v2 ] || t_fail "the playbook's rollback ran without approval: $(cat "$T_DIR/apply.out") $(t_sql "SELECT state, approval_required, error FROM actions WHERE subject = 'm-4'")"
# the same playbook for a model no serious incident concerns runs at once (the gate is not in the way)
t_sql "INSERT INTO model_deployments (model, version, active, deployed_at, retired_at) VALUES
         ('m-9', 'v1', false, now() - interval '2 days', now() - interval '1 day'), ('m-9', 'v2', true, now() - interval '1 day', NULL)" >/dev/null
sed 's/m-4/m-9/g; s/inc-m4/inc-m9/' "$T_DIR/inc-m4.json" >"$T_DIR/inc-m9.json"
CUSTOS_PLAYBOOKS_DIR=$T_DIR/pb CUSTOS_PLAYBOOKS_APPROVAL_KINDS='' "$CUSTOS_BIN" playbook apply \
    --incident "$T_DIR/inc-m9.json" --log-level warn >"$T_DIR/apply.out" 2>&1 || t_fail "playbook apply m-9: $(cat "$T_DIR/apply.out")"
[ "$(active m-9)" = v1 ] || t_fail "a rollback no serious incident concerns did not run: $(cat "$T_DIR/apply.out")"

# ---- an approval recorded without the gate's answer does not execute ----
t_sql "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state, actor,
           decided_by, decided_at, updated_at)
       VALUES ('inc-m5', 'test', 'rollback_model', 'm-5', '{\"model\":\"m-5\",\"from\":\"v2\",\"to\":\"previous\",\"reason\":\"drift\"}',
               'x5', 'approved', 'playbook:test', 'someone', now() - interval '5 minutes', now() - interval '5 minutes')" >/dev/null
"$CUSTOS_BIN" actions tick --log-level error >"$T_DIR/tick.out" 2>&1 || t_fail "actions tick: $(cat "$T_DIR/tick.out")"
[ "$(t_sql "SELECT state FROM actions WHERE subject = 'm-5'")" = failed ] &&
    [[ "$(t_sql "SELECT error FROM actions WHERE subject = 'm-5'")" == "preservation gate (EU AI Act Art. 73(6))"* ]] &&
    [ "$(active m-5)" = v2 ] || t_fail "ungated approval executed: $(t_sql "SELECT state, error FROM actions WHERE subject = 'm-5'")"

# ---- an approval's reason on an ordinary action ----
p6=$(pending revoke_key k-1 '{"key_id":"k-1","reason":"r1"}' inc-k)
w_req POST "/api/v1/actions/$p6/approve" "${R[@]}" -d '{"reason":"confirmed by the SOC lead (ticket 4711)"}'
w_expect 200
[ "$(w_json '["state"]')" = done ] || t_fail "approve with a reason: $(cat "$W_BODY")"
[ "$(t_sql "SELECT decision_reason || '|' || coalesce(approval_gate, '-') FROM actions WHERE id = $p6")" = \
    "confirmed by the SOC lead (ticket 4711)|-" ] || t_fail "reason not in the action's record"
[ "$(t_sql "SELECT detail::jsonb->>'note' FROM audit_log WHERE action_id = $p6 AND event = 'approved' AND actor = 'responder'")" = \
    "confirmed by the SOC lead (ticket 4711)" ] || t_fail "reason not in the audit chain"
p7=$(pending throttle_key k-2 '{"key_id":"k-2","rps":1,"reason":"r7"}' inc-k)
"$CUSTOS_BIN" actions approve "$p7" --reason 'second opinion: Dana' --actor dana --log-level warn >"$T_DIR/out" ||
    t_fail "CLI approve with a reason: $(cat "$T_DIR/out")"
[ "$(t_sql "SELECT detail::jsonb->>'note' FROM audit_log WHERE action_id = $p7 AND event = 'approved' AND actor = 'dana'")" = \
    'second opinion: Dana' ] || t_fail "CLI reason not in the audit chain"
# no body at all still approves (the console's button)
p8=$(pending revoke_key k-3 '{"key_id":"k-3","reason":"r8"}' inc-k)
w_req POST "/api/v1/actions/$p8/approve" -b "$T_DIR/j.responder" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN"
w_expect 200
[ "$(t_sql "SELECT coalesce(decision_reason, '-') FROM actions WHERE id = $p8")" = - ] || t_fail "no-body approval"

"$CUSTOS_BIN" audit verify --log-level warn >"$T_DIR/verify" || t_fail "audit chain: $(cat "$T_DIR/verify")"
w_stop
t_log "PASS: gate refuses without the statement, accepts it and an override, holds the manual and playbook paths and an ungated approval; evidence frozen first; reasons audited"
