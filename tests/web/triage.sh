#!/usr/bin/env bash
# Working an incident: PATCH /api/v1/incidents/{id} (status, disposition,
# severity, assignee, reason) under incidents/'s status rule (closing needs
# a disposition and a reason), POST .../take and .../comments; each change
# audited by incidents/ with the person as actor; refusals 400, unknown
# incidents 404; viewer and auditor 403.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
           last_seen, alerts, atlas, owasp, summary, doc)
       VALUES ('inc-1', 'extraction', 'high', 'key-1', now(), now(), now(), 3, '{}', '{}', 'x', '{}')" >/dev/null
w_signin analyst
AJAR=$W_JAR
A=(-b "$AJAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN")
JS=(-H 'Content-Type: application/json')

for r in viewer auditor; do
    w_signin "$r" "$T_DIR/j.$r"
    w_req PATCH /api/v1/incidents/inc-1 -b "$T_DIR/j.$r" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" \
        "${JS[@]}" -d '{"status":"investigating"}'
    w_expect 403 forbidden
    w_req POST /api/v1/incidents/inc-1/comments -b "$T_DIR/j.$r" -H "X-CSRF-Token: $W_CSRF" \
        -H "Origin: $W_ORIGIN" "${JS[@]}" -d '{"text":"hi"}'
    w_expect 403 forbidden
done
w_req PATCH /api/v1/incidents/inc-1 -b "$AJAR" -H "Origin: $W_ORIGIN" "${JS[@]}" -d '{"status":"investigating"}'
w_expect 403 csrf

# Take it, then move it along.
w_req POST /api/v1/incidents/inc-1/take "${A[@]}"
w_expect 200
[ "$(w_json '["changed"]')" = true ] || t_fail "take: $(cat "$W_BODY")"
[ "$(t_sql "SELECT assignee FROM incidents WHERE incident_id = 'inc-1'")" = analyst ] || t_fail "not assigned"
w_req POST /api/v1/incidents/inc-1/take "${A[@]}"
w_expect 200
[ "$(w_json '["changed"]')" = false ] || t_fail "taking twice changed something"
w_req PATCH /api/v1/incidents/inc-1 "${A[@]}" "${JS[@]}" -d '{"status":"investigating","severity":"critical"}'
w_expect 200
[ "$(t_sql "SELECT status || ' ' || severity FROM incidents WHERE incident_id = 'inc-1'")" = "investigating critical" ] ||
    t_fail "status/severity not applied"
w_req PATCH /api/v1/incidents/inc-1 "${A[@]}" "${JS[@]}" -d '{"assignee":"responder"}'
w_expect 200
# Closing needs a disposition and a reason: the rule's refusal is a 400.
w_req PATCH /api/v1/incidents/inc-1 "${A[@]}" "${JS[@]}" -d '{"status":"closed"}'
w_expect 400 refused
grep -q 'disposition' "$W_BODY" || t_fail "refusal does not say why: $(cat "$W_BODY")"
w_req PATCH /api/v1/incidents/inc-1 "${A[@]}" "${JS[@]}" -d '{"status":"closed","disposition":"false_positive"}'
w_expect 400 refused
[ "$(t_sql "SELECT status FROM incidents WHERE incident_id = 'inc-1'")" = investigating ] || t_fail "a refused change applied"
w_req PATCH /api/v1/incidents/inc-1 "${A[@]}" "${JS[@]}" \
    -d '{"status":"closed","disposition":"false_positive","reason":"the load test of the week"}'
w_expect 200
[ "$(t_sql "SELECT status || '|' || disposition || '|' || closed_by FROM incidents WHERE incident_id = 'inc-1'")" = \
  "closed|false_positive|analyst" ] || t_fail "close not applied: $(t_sql "SELECT status, disposition, closed_by FROM incidents")"

# Bad requests.
for body in '{}' '{"status":"gone"}' '{"disposition":"maybe"}' '{"severity":"huge"}' '{"colour":"red"}' \
        '{"status":1}' '{"assignee":7}'; do
    w_req PATCH /api/v1/incidents/inc-1 "${A[@]}" "${JS[@]}" -d "$body"
    w_expect 400 bad_request
done
w_req PATCH /api/v1/incidents/inc-404 "${A[@]}" "${JS[@]}" -d '{"status":"investigating"}'
w_expect 404 not_found
w_req POST /api/v1/incidents/inc-404/take "${A[@]}"
w_expect 404 not_found

# Comments.
w_req POST /api/v1/incidents/inc-1/comments "${A[@]}" "${JS[@]}" -d '{"text":"seen this key before <b>x</b>"}'
w_expect 201
w_req POST /api/v1/incidents/inc-1/comments "${A[@]}" "${JS[@]}" -d '{"text":""}'
w_expect 400 bad_request
w_req POST /api/v1/incidents/inc-1/comments "${A[@]}" "${JS[@]}" -d '{"text":"a","x":1}'
w_expect 400 bad_request
w_req POST /api/v1/incidents/inc-404/comments "${A[@]}" "${JS[@]}" -d '{"text":"a"}'
w_expect 404 not_found
w_req GET /api/v1/incidents/inc-1 "${A[@]}"
w_expect 200
[ "$(w_json '["comments"][0]["body"]')" = 'seen this key before <b>x</b>' ] || t_fail "comment not in detail"
[ "$(w_json '["comments"][0]["actor"]')" = analyst ] || t_fail "comment actor"

# The audit chain has each change with the person.
ev=$(t_sql "SELECT string_agg(event || ':' || actor, ' ' ORDER BY seq) FROM audit_log WHERE event LIKE 'incident_%'")
[ "$ev" = "incident_changed:analyst incident_changed:analyst incident_changed:analyst incident_changed:analyst incident_commented:analyst" ] ||
    t_fail "audit: $ev"

# Bulk: one change to several incidents, each on its own; a result per id.
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
           last_seen, alerts, atlas, owasp, summary, doc)
       SELECT 'inc-b' || g, 'flood', 'low', 'key-1', now(), now(), now(), 1, '{}', '{}', 'x', '{}'
       FROM generate_series(1, 3) g" >/dev/null
w_req POST /api/v1/incidents/bulk "${A[@]}" "${JS[@]}" -d '{"ids":["inc-b1","inc-b2","inc-404","inc-b3"],"status":"investigating","assignee":"analyst"}'
w_expect 200
[ "$(w_json '["changed"]')" = 3 ] || t_fail "bulk: $(cat "$W_BODY")"
[ "$(w_json '["results"][2]["error"]["code"]')" = not_found ] && [ "$(w_json '["results"][3]["changed"]')" = true ] ||
    t_fail "bulk results: $(cat "$W_BODY")"
[ "$(t_sql "SELECT count(*) FROM incidents WHERE incident_id LIKE 'inc-b%' AND status = 'investigating' AND assignee = 'analyst'")" = 3 ] ||
    t_fail "bulk not applied"
w_req POST /api/v1/incidents/bulk "${A[@]}" "${JS[@]}" -d '{"ids":["inc-b1","inc-b2"],"status":"closed"}'
w_expect 200
[ "$(w_json '["changed"]')" = 0 ] && [ "$(w_json '["results"][0]["error"]["code"]')" = refused ] ||
    t_fail "bulk close without a disposition: $(cat "$W_BODY")"
many=$(python3 -c 'import json; print(json.dumps({"ids": ["inc-%d" % i for i in range(101)], "status": "open"}))')
for body in '{"ids":[],"status":"open"}' '{"ids":"inc-b1","status":"open"}' '{"ids":["inc-b1"]}' \
        '{"ids":[1],"status":"open"}' '{"ids":["inc b1"],"status":"open"}' "$many"; do
    w_req POST /api/v1/incidents/bulk "${A[@]}" "${JS[@]}" -d "$body"
    w_expect 400 bad_request
done
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'incident_changed' AND incident_id LIKE 'inc-b%'")" = 3 ] ||
    t_fail "bulk changes not audited one by one"
"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "audit chain broken"
w_stop
t_log "PASS: take, change, close under the rule, comments, bulk, refusals, roles, audit"
