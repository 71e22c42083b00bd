#!/usr/bin/env bash
# The approval queue and a person's containment over the API:
# GET /api/v1/actions (state, incident, keyset pages), POST
# /api/v1/keys/{key}/revoke|restore|throttle|unthrottle and
# /api/v1/models/{model}/versions/{version}/rollback, each an action through
# the playbooks' effectors (api_keys and model_deployments checked with
# psql), audited with the person (the chain verifies), refused with 400 on
# a bad body, 404 on an unknown incident or version, 403 for the roles that
# may not contain and without the CSRF token. custos actions request is
# the same path from the command line.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup CUSTOS_EFFECTORS_CONTROL=off
t_sql "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, model_version,
           first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc)
       VALUES ('inc-1', 'extraction', 'high', 'open', 'k-1', NULL, NULL, now() - interval '1 hour',
               now() - interval '50 minutes', now(), 2, '{}', '{}', 'harvesting from k-1', '{}'),
              ('inc-2', 'drift', 'medium', 'open', NULL, 'm-1', 'v2', now() - interval '1 hour',
               now() - interval '40 minutes', now(), 1, '{}', '{}', 'm-1 v2 drifted', '{}')" >/dev/null
pending() { # KIND SUBJECT PARAMS INCIDENT
    t_sql "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state,
               approval_required, expires_at, actor)
           VALUES ('$4', 'test', '$1', '$2', '$3', md5(random()::text), 'pending_approval', true,
               now() + interval '1 hour', 'playbook:test') RETURNING id"
}
p1=$(pending revoke_key k-1 '{"key_id":"k-1","reason":"r1"}' inc-1)
p2=$(pending notify soc '{"target":"log","message":{"m":1}}' inc-1)
p3=$(pending rollback_model m-1 '{"model":"m-1","from":"v2","to":"previous","reason":"drift"}' inc-2)
t_sql "UPDATE actions SET state = 'rejected', decided_by = 'someone', decision_reason = 'no' WHERE id = $p2" >/dev/null
p4=$(pending throttle_key k-2 '{"key_id":"k-2","rps":1,"reason":"r4"}' inc-1)

w_signin viewer "$T_DIR/j.viewer"
V=(-b "$T_DIR/j.viewer")

# ---- GET /api/v1/actions ----
w_req GET '/api/v1/actions?state=pending' "${V[@]}"
w_expect 200
got=$(python3 -c 'import json,sys; print(" ".join(str(a["id"]) for a in json.load(open(sys.argv[1]))["actions"]))' "$W_BODY")
[ "$got" = "$p1 $p3 $p4" ] || t_fail "pending, oldest first: '$got', wanted '$p1 $p3 $p4'"
python3 - "$W_BODY" "$p1" <<'PY' || t_fail "a pending action does not say what it will do: $(cat "$W_BODY")"
import json, sys
a = [x for x in json.load(open(sys.argv[1]))["actions"] if x["id"] == int(sys.argv[2])][0]
assert a["kind"] == "revoke_key" and a["incident_id"] == "inc-1" and a["playbook"] == "test", a
assert a["target"] == {"key_id": "k-1"}, a["target"]
assert a["will"].startswith("revoke key k-1") and "registry" in a["will"], a["will"]
assert a["requested_by"] == "playbook:test" and a["requested_at"].endswith("Z"), a
assert a["expires_at"].endswith("Z") and 3500 <= a["expires_in_s"] <= 3600, a
PY
# keyset pages: two of one, then the rest; nothing twice, nothing lost
w_req GET '/api/v1/actions?state=pending&limit=1' "${V[@]}"
w_expect 200
[ "$(w_json '["actions"][0]["id"]')" = "$p1" ] || t_fail "first page"
cur=$(w_json '["next_cursor"]')
w_req GET "/api/v1/actions?state=pending&limit=1&cursor=$cur" "${V[@]}"
w_expect 200
[ "$(w_json '["actions"][0]["id"]')" = "$p3" ] || t_fail "second page: $(cat "$W_BODY")"
cur=$(w_json '["next_cursor"]')
w_req GET "/api/v1/actions?state=pending&limit=5&cursor=$cur" "${V[@]}"
[ "$(w_json '[ "actions"][0]["id"]')" = "$p4" ] && [ "$(w_json '["next_cursor"]')" = None ] ||
    t_fail "last page: $(cat "$W_BODY")"
# other states newest first; the incident filter
w_req GET '/api/v1/actions' "${V[@]}"
[ "$(w_json '["actions"][0]["id"]')" = "$p4" ] || t_fail "all actions, newest first"
w_req GET '/api/v1/actions?state=rejected' "${V[@]}"
[ "$(w_json '["actions"][0]["decision_reason"]')" = no ] || t_fail "rejected filter: $(cat "$W_BODY")"
w_req GET '/api/v1/actions?incident=inc-2' "${V[@]}"
[ "$(w_json '["actions"].__len__()')" = 1 ] && [ "$(w_json '["actions"][0]["target"]["from"]')" = v2 ] ||
    t_fail "incident filter: $(cat "$W_BODY")"
for bad in 'state=bogus' 'cursor=zz' 'limit=0' 'limit=501' 'foo=1' 'state=pending&state=done' 'state='; do
    w_req GET "/api/v1/actions?$bad" "${V[@]}"
    w_expect 400 bad_filter
done
w_req GET '/api/v1/actions?state=pending'
w_expect 401 unauthenticated

# ---- a person's containment of a key ----
w_signin responder "$T_DIR/j.responder"
R=(-b "$T_DIR/j.responder" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
for r in viewer analyst auditor; do
    w_signin "$r" "$T_DIR/j2.$r"
    w_req POST /api/v1/keys/k-1/revoke -b "$T_DIR/j2.$r" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" \
        -H 'Content-Type: application/json' -d '{"reason":"x"}'
    w_expect 403 forbidden
done
w_req POST /api/v1/keys/k-1/revoke -b "$T_DIR/j.responder" -H "Origin: $W_ORIGIN" \
    -H 'Content-Type: application/json' -d '{"reason":"x"}'
w_expect 403 csrf
for body in '{}' '{"reason":""}' '{"reason":"  "}' '{"reason":7}' '{"reason":"x","ttl_s":0}' \
    '{"reason":"x","ttl_s":1.5}' '{"reason":"x","ttl_s":"60"}' '{"reason":"x","rps":1}' \
    '{"reason":"x","what":1}' '{"reason":"a\nb"}' '[1]' 'not json'; do
    w_req POST /api/v1/keys/k-1/revoke "${R[@]}" -d "$body"
    [ "$W_STATUS" = 400 ] || t_fail "revoke with $body: $W_STATUS $(cat "$W_BODY")"
done
w_req POST /api/v1/keys/k-1/revoke "${R[@]}" -d '{"reason":"x","incident_id":"inc-nope"}'
w_expect 404 not_found
w_req POST '/api/v1/keys/k%20one/revoke' "${R[@]}" -d '{"reason":"x"}'
w_expect 400
[ "$(t_sql "SELECT count(*) FROM actions WHERE playbook = 'manual'")" = 0 ] || t_fail "a refused request was recorded"

w_req POST /api/v1/keys/k-1/revoke "${R[@]}" -d '{"reason":"ticket 7: extraction from k-1","incident_id":"inc-1"}'
w_expect 201
[ "$(w_json '["state"]')" = done ] && [ "$(w_json '["kind"]')" = revoke_key ] ||
    t_fail "revoke: $(cat "$W_BODY")"
a1=$(w_json '["id"]')
[ "$(w_json '["requested_by"]')" = responder ] && [ "$(w_json '["decided_by"]')" = responder ] ||
    t_fail "revoke not requested and decided by the responder: $(cat "$W_BODY")"
[ "$(t_sql "SELECT status || '|' || reason || '|' || action_id FROM api_keys WHERE key_id = 'k-1'")" = \
  "revoked|ticket 7: extraction from k-1|$a1" ] || t_fail "api_keys after the revoke: $(t_sql "SELECT * FROM api_keys")"
[ "$(t_sql "SELECT incident_id || '|' || playbook || '|' || actor FROM actions WHERE id = $a1")" = "inc-1|manual|responder" ] ||
    t_fail "the action row"
events=$(t_sql "SELECT string_agg(event, ' ' ORDER BY seq) FROM audit_log WHERE action_id = $a1")
[ "$events" = "proposed pending_approval approved executing done" ] || t_fail "audit of the revoke: $events"
[ "$(t_sql "SELECT count(DISTINCT actor) FROM audit_log WHERE action_id = $a1 AND event IN ('proposed', 'approved')")" = 1 ] &&
[ "$(t_sql "SELECT actor FROM audit_log WHERE action_id = $a1 AND event = 'approved'")" = responder ] || t_fail "audit actor"

w_req POST /api/v1/keys/k-1/restore "${R[@]}" -d '{"reason":"false positive, ticket 7"}'
w_expect 201
[ "$(w_json '["state"]')" = done ] && [ "$(w_json '["incident_id"]')" = None ] || t_fail "restore: $(cat "$W_BODY")"
[ "$(t_sql "SELECT status FROM api_keys WHERE key_id = 'k-1'")" = active ] || t_fail "restore did not restore"
w_req POST /api/v1/keys/k-1/restore "${R[@]}" -d '{"reason":"x","ttl_s":60}'
w_expect 400 bad_request

w_req POST /api/v1/keys/k-1/throttle "${R[@]}" -d '{"reason":"slow it down"}'
w_expect 400 bad_request
w_req POST /api/v1/keys/k-1/throttle "${R[@]}" -d '{"reason":"slow it down","rps":0}'
w_expect 400 bad_request
w_req POST /api/v1/keys/k-1/throttle "${R[@]}" -d '{"reason":"slow it down","rps":2.5,"ttl_s":600}'
w_expect 201
[ "$(w_json '["state"]')" = done ] && [ "$(w_json '["ttl_s"]')" = 600 ] && [ "$(w_json '["revert_at"]')" != None ] ||
    t_fail "throttle: $(cat "$W_BODY")"
[ "$(t_sql "SELECT throttle_rps || '|' || (throttled_until > now() + interval '590 seconds') FROM api_keys WHERE key_id = 'k-1'")" = "2.5|true" ] ||
    t_fail "throttle not in api_keys: $(t_sql "SELECT * FROM api_keys")"

# ---- GET /api/v1/keys and /api/v1/keys/{key} ----
t_sql "INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, prompt_tokens, completion_tokens, refusal, status)
       SELECT now() - (g % 3) * interval '1 minute', 'ev-k1-' || g, 'k-1', 'm-1', 'v2', 10, 5, g % 4 = 0, 200
       FROM generate_series(1, 12) g" >/dev/null
w_req GET /api/v1/keys/k-1 "${V[@]}"
w_expect 200
python3 - "$W_BODY" <<'PY' || t_fail "one key: $(cat "$W_BODY")"
import json, sys
k = json.load(open(sys.argv[1]))
assert k["key_id"] == "k-1" and k["status"] == "throttled" and k["until"] and k["throttle_rps"] == 2.5, k
assert k["in_registry"] and k["open_incidents"] == 1 and k["incident_count"] == 1, k
assert [h["kind"] for h in k["history"]] == ["throttle_key", "restore_key", "revoke_key", "revoke_key"], k["history"]
assert k["history"][0]["will"].startswith("throttle key k-1"), k["history"][0]
pts = k["traffic"]["points"]
assert len(pts) == 60 and k["traffic"]["step_s"] == 60, len(pts)
assert sum(p["requests"] for p in pts) == 12 and sum(p["tokens"] for p in pts) == 180, pts[-4:]
assert sum(p["refusals"] for p in pts) == 3, pts[-4:]
assert [i["incident_id"] for i in k["incidents"]] == ["inc-1"] and k["incidents_more"] is False, k["incidents"]
assert k["last_seen"] and k["first_seen"], k
PY
w_req GET /api/v1/keys/k-nobody "${V[@]}"
w_expect 404 not_found
w_req POST /api/v1/keys/k-1/unthrottle "${R[@]}" -d '{"reason":"load test over"}'
w_expect 201
[ "$(t_sql "SELECT coalesce(throttle_rps::text, 'none') FROM api_keys WHERE key_id = 'k-1'")" = none ] || t_fail "unthrottle"
w_req POST /api/v1/keys/k-3/revoke "${R[@]}" -d '{"reason":"leaked on a forum"}'
w_expect 201
w_req GET /api/v1/keys "${V[@]}"
w_expect 200
[ "$(python3 -c 'import json,sys; print(" ".join(k["key_id"]+":"+k["status"] for k in json.load(open(sys.argv[1]))["keys"]))' "$W_BODY")" = \
  "k-1:active k-3:revoked" ] || t_fail "keys list: $(cat "$W_BODY")"
w_req GET '/api/v1/keys?status=revoked' "${V[@]}"
[ "$(w_json '["keys"].__len__()')" = 1 ] && [ "$(w_json '["keys"][0]["key_id"]')" = k-3 ] || t_fail "status filter"
w_req GET '/api/v1/keys?q=K-1' "${V[@]}"
[ "$(w_json '["keys"].__len__()')" = 1 ] || t_fail "q filter"
w_req GET '/api/v1/keys?limit=1' "${V[@]}"
cur=$(w_json '["next_cursor"]')
w_req GET "/api/v1/keys?limit=1&cursor=$cur" "${V[@]}"
[ "$(w_json '["keys"][0]["key_id"]')" = k-3 ] && [ "$(w_json '["next_cursor"]')" = None ] || t_fail "key pages: $(cat "$W_BODY")"
for bad in 'status=gone' 'cursor=zz' 'limit=x' 'bar=1'; do
    w_req GET "/api/v1/keys?$bad" "${V[@]}"
    w_expect 400 bad_filter
done

# ---- models: the list, one version, a rollback ----
t_sql "INSERT INTO model_deployments (model, version, active, deployed_at, retired_at) VALUES
         ('m-1', 'v1', false, now() - interval '2 days', now() - interval '1 day'),
         ('m-1', 'v2', true, now() - interval '1 day', NULL);
       INSERT INTO alerts (incident_id, type, severity, ts, event_id, model, model_version, summary, evidence)
       VALUES ('inc-2', 'drift', 'medium', now() - interval '30 minutes', 'ev-d', 'm-1', 'v2', 'drift',
               '{\"psi\":{\"latency_ms\":0.41,\"completion_tokens\":0.12},\"windows_over_threshold\":3}')" >/dev/null
w_req GET /api/v1/models "${V[@]}"
w_expect 200
python3 - "$W_BODY" <<'PY' || t_fail "models: $(cat "$W_BODY")"
import json, sys
m = json.load(open(sys.argv[1]))["models"]
assert [x["model"] for x in m] == ["m-1"] and m[0]["active_version"] == "v2", m
v = {x["version"]: x for x in m[0]["versions"]}
assert set(v) == {"v1", "v2"} and v["v2"]["active"] and not v["v1"]["active"], v
assert v["v2"]["drift"]["state"] == "drifting" and v["v2"]["drift"]["incident_id"] == "inc-2", v["v2"]
assert v["v1"]["drift"]["state"] == "none" and v["v2"]["open_incidents"] == 1, v
PY
w_req GET /api/v1/models/m-1/versions/v2 "${V[@]}"
w_expect 200
python3 - "$W_BODY" "$p3" <<'PY' || t_fail "one version: $(cat "$W_BODY")"
import json, sys
v = json.load(open(sys.argv[1]))
assert v["model"] == "m-1" and v["version"] == "v2" and v["active"] and v["active_version"] == "v2", v
assert v["drift"]["psi"]["latency_ms"] == 0.41 and v["drift"]["windows_over_threshold"] == 3, v["drift"]
assert [i["incident_id"] for i in v["incidents"]] == ["inc-2"], v["incidents"]
assert [a["id"] for a in v["rollbacks"]] == [int(sys.argv[2])] and v["deployments"] == [] and len(v["traffic"]["points"]) == 60, v
assert sum(p["requests"] for p in v["traffic"]["points"]) == 12, v["traffic"]
assert [x["version"] for x in v["versions"]] == ["v1", "v2"], v["versions"]
PY
w_req GET /api/v1/models/m-1/versions/v9 "${V[@]}"
w_expect 404 not_found
w_req GET '/api/v1/models?cursor=bad' "${V[@]}"
w_expect 400 bad_filter
w_req POST /api/v1/models/m-1/versions/v9/rollback "${R[@]}" -d '{"reason":"x"}'
w_expect 404 not_found
w_req POST /api/v1/models/m-1/versions/v2/rollback "${R[@]}" -d '{"reason":"x","to":"v2"}'
w_expect 400 bad_request
w_req POST /api/v1/models/m-1/versions/v2/rollback "${R[@]}" -d '{"reason":"x","from":"v1"}'
w_expect 400 bad_request
w_req POST /api/v1/models/m-1/versions/v2/rollback "${R[@]}" -d '{"reason":"drift confirmed","incident_id":"inc-2"}'
w_expect 201
[ "$(w_json '["state"]')" = done ] && [ "$(w_json '["target"]["to"]')" = previous ] || t_fail "rollback: $(cat "$W_BODY")"
rb=$(w_json '["id"]')
[ "$(t_sql "SELECT version FROM model_deployments WHERE model = 'm-1' AND active")" = v1 ] || t_fail "rollback did not switch"
[ "$(t_sql "SELECT from_version || '>' || to_version FROM model_deployment_history WHERE action_id = $rb")" = "v2>v1" ] ||
    t_fail "no deployment history"
[ "$(t_sql "SELECT count(*) FROM evidence_records WHERE action_id = $rb")" = 1 ] || t_fail "no evidence frozen before the rollback"
w_req GET /api/v1/models/m-1/versions/v2 "${V[@]}"
[ "$(w_json '["rollbacks"][0]["id"]')" = "$rb" ] && [ "$(w_json '["deployments"][0]["by"]')" = responder ] &&
[ "$(w_json '["active"]')" = false ] || t_fail "version after the rollback: $(cat "$W_BODY")"
# a second rollback from v2, no longer active: recorded as failed, with the effector's reason
w_req POST /api/v1/models/m-1/versions/v2/rollback "${R[@]}" -d '{"reason":"again"}'
w_expect 201
[ "$(w_json '["state"]')" = failed ] && [[ "$(w_json '["error"]')" == *"active version of m-1 is 'v1'"* ]] ||
    t_fail "second rollback: $(cat "$W_BODY")"

# ---- the same from the command line ----
out=$(CUSTOS_EFFECTORS_CONTROL=off "$CUSTOS_BIN" actions request --kind revoke_key --key k-4 --reason 'cli test' --actor ops --log-level warn) ||
    t_fail "custos actions request failed: $out"
[[ "$out" == *"done"* ]] || t_fail "cli request: $out"
[ "$(t_sql "SELECT status FROM api_keys WHERE key_id = 'k-4'")" = revoked ] || t_fail "cli revoke"
[ "$(t_sql "SELECT decided_by FROM actions WHERE subject = 'k-4'")" = ops ] || t_fail "cli actor"
if CUSTOS_EFFECTORS_CONTROL=off "$CUSTOS_BIN" actions request --kind revoke_key --key k-4 --log-level warn 2>"$T_DIR/err"; then
    t_fail "a request without a reason was accepted"
fi
grep -q 'reason' "$T_DIR/err" || t_fail "the refusal does not say why: $(cat "$T_DIR/err")"
"$CUSTOS_BIN" actions list --state pending --json --log-level warn >"$T_DIR/list" || t_fail "actions list"
[ "$(wc -l <"$T_DIR/list")" = 3 ] || t_fail "actions list --state pending: $(cat "$T_DIR/list")"

"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "audit chain broken"
w_stop
t_log "PASS: the approval queue, containment of keys and models through the effectors, keys and models reads"
