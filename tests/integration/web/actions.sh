#!/usr/bin/env bash
# POST /api/v1/actions/{id}/approve and /reject: a responder's decision goes
# through the playbooks' approval path (the same as custos actions), is
# audited with the person as actor, and runs the approved action; refusals
# are 404 (no such action), 409 (not pending), 400 (no reason, bad id); a
# role that may not decide gets 403 before anything is looked up.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup CUSTOS_EFFECTORS_CONTROL=off
# Two pending notifications (no webhook and no control topic: an approved one ends
# 'skipped', with the effectors' outcome recorded).
pending() {
    t_sql "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state,
               approval_required, expires_at, actor)
           VALUES ('inc-1', 'test', 'notify', 'soc', '{\"message\":\"m$1\"}', 'k$1', 'pending_approval',
               true, now() + interval '1 hour', 'playbook:test') RETURNING id"
}
a1=$(pending 1)
a2=$(pending 2)
w_signin responder
RJAR=$W_JAR
R=(-b "$RJAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN")

# Viewer, analyst and auditor: 403, and the action is untouched.
for r in viewer analyst auditor; do
    w_signin "$r" "$T_DIR/j.$r"
    w_req POST "/api/v1/actions/$a1/approve" -b "$T_DIR/j.$r" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN"
    w_expect 403 forbidden
done
[ "$(t_sql "SELECT state FROM actions WHERE id = $a1")" = pending_approval ] || t_fail "a refused decision changed the action"
# Missing CSRF: refused before the playbooks see it.
w_req POST "/api/v1/actions/$a1/approve" -b "$RJAR" -H "Origin: $W_ORIGIN"
w_expect 403 csrf

w_req POST "/api/v1/actions/$a1/approve" "${R[@]}"
w_expect 200
[ "$(w_json '["decision"]')" = approved ] || t_fail "approve: $(cat "$W_BODY")"
state=$(t_sql "SELECT state || ' ' || decided_by FROM actions WHERE id = $a1")
[ "$state" = "skipped responder" ] || t_fail "approved action is '$state'"
[ "$(w_json '["state"]')" = skipped ] || t_fail "answer state: $(cat "$W_BODY")"
w_req POST "/api/v1/actions/$a1/approve" "${R[@]}"
w_expect 409 not_pending
w_req POST "/api/v1/actions/$a1/reject" "${R[@]}" -H 'Content-Type: application/json' -d '{"reason":"late"}'
w_expect 409 not_pending
w_req POST /api/v1/actions/999999/approve "${R[@]}"
w_expect 404 not_found
w_req POST /api/v1/actions/abc/approve "${R[@]}"
w_expect 400 bad_id

# Reject: a reason is required and recorded.
w_req POST "/api/v1/actions/$a2/reject" "${R[@]}" -H 'Content-Type: application/json' -d '{}'
w_expect 400 bad_request
w_req POST "/api/v1/actions/$a2/reject" "${R[@]}" -H 'Content-Type: application/json' -d '{"reason":""}'
w_expect 400 bad_request
w_req POST "/api/v1/actions/$a2/reject" "${R[@]}" -H 'Content-Type: application/json' -d '{"reason":7}'
w_expect 400 bad_request
w_req POST "/api/v1/actions/$a2/reject" "${R[@]}" -H 'Content-Type: application/json' \
    -d '{"reason":"a known benign load test"}'
w_expect 200
[ "$(t_sql "SELECT state || '|' || decided_by || '|' || decision_reason FROM actions WHERE id = $a2")" = \
  "rejected|responder|a known benign load test" ] || t_fail "rejection not recorded"

# An API token decides too, named as the token.
a3=$(pending 3)
rtok=$("$CUSTOS_BIN" token create --role responder --name soar --log-level warn 2>/dev/null)
w_req POST "/api/v1/actions/$a3/approve" -H "Authorization: Bearer $rtok"
w_expect 200
[ "$(t_sql "SELECT decided_by FROM actions WHERE id = $a3")" = token:soar ] || t_fail "token actor"

# The decisions are in the audit chain with the people who made them.
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE action_id IN ($a1, $a2, $a3) AND actor IN ('responder', 'token:soar')")" -ge 3 ] ||
    t_fail "decisions not audited with the actor: $(t_sql "SELECT actor, event, action_id FROM audit_log WHERE action_id IS NOT NULL")"
"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "audit chain broken"
w_stop
t_log "PASS: approve and reject through the playbooks, refusals, roles, CSRF, audit"
