#!/usr/bin/env bash
# Webhook and LiteLLM effectors against a real HTTP server on loopback that
# checks the HMAC signature and the admin bearer token: signed deliveries,
# /key/block with the key, retries with back-off on 5xx, no retry on a
# refused signature, failure escalates; secrets never logged and masked.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
export CUSTOS_EFFECTORS_CONTROL=off CUSTOS_EFFECTORS_RETRY_MIN_MS=50 CUSTOS_EFFECTORS_RETRY_MAX_MS=200
export CUSTOS_EFFECTORS_WEBHOOK_SECRET=hook-s3cret-value CUSTOS_EFFECTORS_LITELLM_TOKEN=sk-admin-t0ken

pb_hook_server ok --secret hook-s3cret-value --token sk-admin-t0ken
export CUSTOS_EFFECTORS_WEBHOOK_URL=http://127.0.0.1:$PB_HOOK_PORT/hook
export CUSTOS_EFFECTORS_LITELLM_URL=http://127.0.0.1:$PB_HOOK_PORT
"$B" playbook apply --incident "$PB_DATA/extraction_high.json" --log-level debug >"$T_DIR/apply.out" 2>"$T_DIR/apply.log" ||
    t_fail "apply: $(cat "$T_DIR/apply.out" "$T_DIR/apply.log")"
pb_expect "all actions done" "$(t_sql "SELECT string_agg(kind || ':' || state, ',' ORDER BY id) FROM actions")" \
    "notify:done,revoke_key:done,set_incident:done"
rid=$(t_sql "SELECT id FROM actions WHERE kind = 'revoke_key'")
check() { python3 - "$PB_HOOK_LOG" "$@" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
what = sys.argv[2]
if what == "hooks":      # every /hook delivery signed and accepted
    h = [r for r in recs if r["path"] == "/hook"]
    print(len(h), all(r["sig_ok"] and r["status"] == 200 for r in h))
elif what == "kinds":
    print(",".join(r["body"]["kind"] for r in recs if r["path"] == "/hook"))
elif what == "revoke":   # the revoke message as the receiver saw it
    r = [r for r in recs if r["path"] == "/hook" and r["body"]["kind"] == "revoke_key"][0]
    b = r["body"]
    print(b["schema"], b["action_id"] == int(sys.argv[3]), r["action"] == sys.argv[3], b["subject"], b["params"]["key_id"])
elif what == "litellm":
    print(" ".join("%s:%s:%s:%s" % (r["path"], r["body"].get("key"), r["auth_ok"], r["status"]) for r in recs if r["path"].startswith("/key/")))
elif what == "count":    # requests about one action
    print(sum(1 for r in recs if r["path"] == "/hook" and isinstance(r["body"], dict) and r["body"].get("action_id") == int(sys.argv[3])))
PY
}
pb_expect "signed hooks" "$(check hooks)" "3 True"
pb_expect "hook kinds (containment first)" "$(check kinds)" "revoke_key,notify,set_incident"
pb_expect "revoke message" "$(check revoke "$rid")" "custos.control.v1 True True key-attacker-1 key-attacker-1"
pb_expect "litellm block" "$(check litellm)" "/key/block:key-attacker-1:True:200"
pb_expect "result names the effectors" \
    "$(t_sql "SELECT concat_ws(' ', result->>'registry', result->>'webhook', result->>'litellm') FROM actions WHERE id = $rid")" \
    "ok 200 /key/block"

# secrets: never in the logs, masked by config check
grep -q "hook-s3cret-value\|sk-admin-t0ken" "$T_DIR/apply.log" "$T_DIR/apply.out" && t_fail "a secret was logged"
"$B" config check >"$T_DIR/config.out" || t_fail "config check"
grep -q "hook-s3cret-value\|sk-admin-t0ken" "$T_DIR/config.out" && t_fail "config check shows a secret"
grep -q 'webhook_secret: "\*\*\*\*"' "$T_DIR/config.out" || t_fail "webhook_secret not masked"
grep -q 'litellm_token: "\*\*\*\*"' "$T_DIR/config.out" || t_fail "litellm_token not masked"
t_log "ok: secrets masked and never logged"

# a webhook URL without a secret is refused: webhooks are always signed
if CUSTOS_EFFECTORS_WEBHOOK_SECRET= "$B" playbook apply --incident "$PB_DATA/extraction_high.json" \
    --log-level warn >/dev/null 2>"$T_DIR/nosecret.log"; then t_fail "unsigned webhook accepted"; fi
grep -q "webhooks are always signed" "$T_DIR/nosecret.log" || t_fail "no reason: $(cat "$T_DIR/nosecret.log")"

# transient failures: two 500s, then success on the third attempt
pb_hook_server flaky --secret hook-s3cret-value --token sk-admin-t0ken --fail 2
export CUSTOS_EFFECTORS_WEBHOOK_URL=http://127.0.0.1:$PB_HOOK_PORT/hook CUSTOS_EFFECTORS_LITELLM_URL=
pb_incident "$PB_DATA/extraction_high.json" inc-flaky key-flaky >"$T_DIR/flaky.json"
"$B" playbook apply --incident "$T_DIR/flaky.json" --log-level warn >/dev/null 2>"$T_DIR/flaky.log" || t_fail "flaky apply"
fid=$(t_sql "SELECT id FROM actions WHERE incident_id = 'inc-flaky' AND kind = 'revoke_key'")
pb_expect "attempts on the flaky receiver" "$(check count "$fid")" 3
pb_expect "revoke done after retries" "$(t_sql "SELECT state FROM actions WHERE id = $fid")" done

# a refused signature (wrong secret) is permanent: no retries, failed, escalated
pb_hook_server strict --secret another-secret --token x
export CUSTOS_EFFECTORS_WEBHOOK_URL=http://127.0.0.1:$PB_HOOK_PORT/hook
pb_incident "$PB_DATA/extraction_high.json" inc-badsig key-badsig >"$T_DIR/badsig.json"
"$B" playbook apply --incident "$T_DIR/badsig.json" --log-level warn >/dev/null 2>"$T_DIR/badsig.log" || true
bid=$(t_sql "SELECT id FROM actions WHERE incident_id = 'inc-badsig' AND kind = 'revoke_key'")
pb_expect "one attempt only" "$(check count "$bid")" 1
pb_expect "revoke failed" "$(t_sql "SELECT state || ': ' || error FROM actions WHERE id = $bid")" "failed: webhook: HTTP 401 \"{\\\"ok\\\":false}\""
pb_expect "incident escalated" "$(t_sql "SELECT count(*) >= 1 FROM incident_updates WHERE incident_id = 'inc-badsig' AND status = 'escalated'")" t

# a receiver that is down for good: retries, then failed
pb_hook_server down --secret hook-s3cret-value --fail -1
export CUSTOS_EFFECTORS_WEBHOOK_URL=http://127.0.0.1:$PB_HOOK_PORT/hook CUSTOS_EFFECTORS_RETRIES=2
pb_incident "$PB_DATA/extraction_high.json" inc-down key-down >"$T_DIR/down.json"
"$B" playbook apply --incident "$T_DIR/down.json" --log-level warn >/dev/null 2>"$T_DIR/down.log" || true
did=$(t_sql "SELECT id FROM actions WHERE incident_id = 'inc-down' AND kind = 'revoke_key'")
pb_expect "attempts on the dead receiver" "$(check count "$did")" 3
pb_expect "failed after retries" "$(t_sql "SELECT state FROM actions WHERE id = $did")" failed
"$B" audit verify --log-level warn || t_fail "audit chain"
t_log "PASS"
