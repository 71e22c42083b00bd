#!/usr/bin/env bash
# The console's own routes with curl, each result checked against psql:
# GET /api/v1/series (per-minute requests, tokens, refusals from
# interactions; novelty and the baseline from the alerts' evidence; bounded
# range and points, 400s), GET /api/v1/overview (incident figures; ingest
# "not available" under custos web alone), GET /api/v1/audit (filters,
# keyset pages) and POST /api/v1/audit/verify (holds, then a tampered row
# is found), /api/v1/views (per user, limits, CSRF, audited), and the ATLAS
# and OWASP names beside the ids.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup
# 30 minutes of key-1's traffic from 10:00: minute m has m % 4 + 1 requests,
# each 100 + 10 tokens, the even minutes' first one refused.
t_sql "INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, prompt_tokens,
           completion_tokens, refusal)
       SELECT timestamptz '2026-11-30 10:00Z' + m * interval '1 minute' + k * interval '1 second',
              'ev-' || m || '-' || k, 'key-1', 'chat', 'v1', 100, 10, m % 2 = 0 AND k = 0
       FROM generate_series(0, 29) m, generate_series(0, 3) k WHERE k <= m % 4" >/dev/null
t_sql "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, first_seen,
           detected_at, last_seen, alerts, atlas, owasp, summary, doc)
       VALUES ('inc-x', 'extraction', 'high', 'resolved', 'key-1', '2026-11-30 10:00Z', now() - interval '2 hours',
               '2026-11-30 10:30Z', 2, '{AML.T0024.002,AML.T9999}', '{LLM10:2025}', 'x', '{}'),
              ('inc-f', 'flood', 'critical', 'investigating', 'key-2', now() - interval '3 hours',
               now() - interval '3 hours', now(), 1, '{}', '{}', 'f', '{}');
       INSERT INTO alerts (incident_id, type, severity, ts, event_id, api_key_id, summary, evidence)
       VALUES ('inc-x', 'extraction', 'high', '2026-11-30 10:12:30Z', 'ev-12-0', 'key-1', 's',
               '{\"novelty\": 0.91, \"key_baseline_per_5min\": 7.5}'),
              ('inc-x', 'extraction', 'high', '2026-11-30 10:20:05Z', 'ev-20-0', 'key-1', 's',
               '{\"novelty\": 0.42, \"key_baseline_per_5min\": -1}');
       INSERT INTO incident_updates (incident_id, status, actor, at)
       VALUES ('inc-f', 'investigating', 'analyst', now() - interval '2 hours'),
              ('inc-x', 'resolved', 'analyst', now() - interval '1 hour')" >/dev/null
w_signin viewer
J=(-b "$W_JAR")

# ---- series ----
w_req GET '/api/v1/series?api_key=key-1&since=2026-11-30T10:00:00Z&until=2026-11-30T10:30:00Z&step=60' "${J[@]}"
w_expect 200
python3 - "$W_BODY" <<'PY' || t_fail "series of key-1: $(head -c 600 "$W_BODY")"
import json, sys
s = json.load(open(sys.argv[1]))
p = s["points"]
assert s["step"] == 60 and len(p) == 30, (s["step"], len(p))
for m, pt in enumerate(p):
    n = m % 4 + 1
    assert pt["t"] == "2026-11-30T10:%02d:00Z" % m, pt
    assert pt["requests"] == n and pt["tokens"] == 110 * n, pt
    assert pt["refusals"] == (1 if m % 2 == 0 else 0), pt
    want = {12: 0.91, 20: 0.42}.get(m)
    assert pt["novelty"] == want, (m, pt)
# the latest alert with a baseline: 7.5 per 5 min (the later one has none, -1)
assert s["baseline"]["requests_per_min"] == 1.5, s["baseline"]
assert s["baseline"]["tokens_per_min"] is None, s["baseline"]
assert s["baseline"]["source"]["type"] == "extraction", s["baseline"]
PY
want=$(t_sql "SELECT count(*) FROM interactions WHERE api_key_id = 'key-1' AND ts >= '2026-11-30 10:00Z' AND ts < '2026-11-30 10:30Z'")
got=$(w_json '["points"]' | python3 -c "import ast,sys; print(sum(p['requests'] for p in ast.literal_eval(sys.stdin.read())))")
[ "$got" = "$want" ] || t_fail "series requests sum $got, psql says $want"
# a 5-minute step sums the minutes
w_req GET '/api/v1/series?api_key=key-1&since=2026-11-30T10:00:00Z&until=2026-11-30T10:30:00Z&step=300' "${J[@]}"
w_expect 200
[ "$(w_json '["points"][0]["requests"]')" = "$(t_sql "SELECT count(*) FROM interactions WHERE ts < '2026-11-30 10:05Z'")" ] ||
    t_fail "5-minute bucket: $(head -c 300 "$W_BODY")"
# a model version: the same rows
w_req GET '/api/v1/series?model=chat&version=v1&since=2026-11-30T10:00:00Z&until=2026-11-30T10:02:00Z' "${J[@]}"
w_expect 200
[ "$(w_json '["points"][1]["requests"]')" = 2 ] || t_fail "model series: $(head -c 300 "$W_BODY")"
[ "$(w_json '["baseline"]["requests_per_min"]')" = None ] || t_fail "a model with no baseline alert has a baseline"
for bad in '' 'api_key=key-1' 'api_key=key-1&model=chat&version=v1&since=2026-11-30T10:00:00Z&until=2026-11-30T11:00:00Z' \
    'model=chat&since=2026-11-30T10:00:00Z&until=2026-11-30T11:00:00Z' \
    'api_key=key-1&since=2026-11-30T11:00:00Z&until=2026-11-30T10:00:00Z' \
    'api_key=key-1&since=2026-11-01T00:00:00Z&until=2026-11-30T10:00:00Z' \
    'api_key=key-1&since=2026-11-29T00:00:00Z&until=2026-11-30T10:00:00Z&step=10' \
    'api_key=key-1&since=2026-11-30T10:00:00Z&until=2026-11-30T11:00:00Z&step=5' \
    'api_key=key-1&since=yesterday&until=2026-11-30T11:00:00Z' \
    'api_key=key-1&since=2026-11-30T10:00:00Z&until=2026-11-30T11:00:00Z&bogus=1' \
    'api_key=key-1&api_key=key-2&since=2026-11-30T10:00:00Z&until=2026-11-30T11:00:00Z'; do
    w_req GET "/api/v1/series?$bad" "${J[@]}"
    w_expect 400 bad_query
done

# ---- ATLAS / OWASP names ----
w_req GET /api/v1/incidents/inc-x "${J[@]}"
w_expect 200
[ "$(w_json '["atlas_names"]')" = "{'AML.T0024.002': 'Exfiltration via AI Inference API: Extract AI Model'}" ] ||
    t_fail "atlas names: $(w_json '["atlas_names"]')"
[ "$(w_json '["owasp_names"]["LLM10:2025"]')" = 'Unbounded Consumption' ] || t_fail "owasp names"
w_req GET '/api/v1/incidents?type=extraction' "${J[@]}"
[ "$(w_json '["incidents"][0]["owasp_names"]["LLM10:2025"]')" = 'Unbounded Consumption' ] || t_fail "names in the list"

# ---- overview ----
w_req GET /api/v1/overview "${J[@]}"
w_expect 200
python3 - "$W_BODY" "$(t_sql "SELECT count(*) FROM incidents WHERE status NOT IN ('resolved','closed') AND severity = 'critical'")" <<'PY' || t_fail "overview: $(head -c 800 "$W_BODY")"
import json, sys
o = json.load(open(sys.argv[1]))
assert len(o["hours"]) == 24
assert sum(o["opened_per_hour"]["extraction"]) == 1 and sum(o["opened_per_hour"]["flood"]) == 1, o["opened_per_hour"]
assert o["open_by_severity"] == {"critical": int(sys.argv[2])}, o["open_by_severity"]
t = o["times"]["7d"]
assert t["incidents"] == 2 and t["acknowledged"] == 2 and t["resolved"] == 1, t
assert abs(t["resolve_median_s"] - 3600) < 60, t          # inc-x: detected 2 h ago, resolved 1 h ago
assert abs(t["ack_median_s"] - (3600 + 3600) / 2) < 60, t  # inc-f 1 h, inc-x 1 h
assert o["pending_approvals"] == 0
assert o["ingest"]["events_per_s"] is None and o["ingest"]["consumer_lag"] is None
assert "not available" in o["ingest"]["why"]
PY

# ---- the audit chain: auditors and admins ----
w_req GET /api/v1/audit "${J[@]}"
w_expect 403 forbidden
w_signin auditor "$T_DIR/jar.auditor"
A=(-b "$T_DIR/jar.auditor")
ACSRF=$W_CSRF
w_req GET '/api/v1/audit?limit=3' "${A[@]}"
w_expect 200
want=$(t_sql "SELECT string_agg(seq::text, ' ' ORDER BY seq DESC) FROM (SELECT seq FROM audit_log ORDER BY seq DESC LIMIT 3) t")
got=$(w_json '["entries"]' | python3 -c "import ast,sys; print(' '.join(str(e['seq']) for e in ast.literal_eval(sys.stdin.read())))")
[ "$got" = "$want" ] || t_fail "audit page 1: $got, psql: $want"
next=$(w_json '["next_before"]')
w_req GET "/api/v1/audit?limit=3&before=$next" "${A[@]}"
w_expect 200
want=$(t_sql "SELECT string_agg(seq::text, ' ' ORDER BY seq DESC) FROM (SELECT seq FROM audit_log WHERE seq < $next ORDER BY seq DESC LIMIT 3) t")
got=$(w_json '["entries"]' | python3 -c "import ast,sys; print(' '.join(str(e['seq']) for e in ast.literal_eval(sys.stdin.read())))")
[ "$got" = "$want" ] || t_fail "audit page 2: $got, psql: $want"
w_req GET '/api/v1/audit?actor=viewer&kind=signin' "${A[@]}"
w_expect 200
[ "$(w_json '["entries"].__len__()')" = "$(t_sql "SELECT count(*) FROM audit_log WHERE actor = 'viewer' AND event = 'signin'")" ] ||
    t_fail "audit filters: $(head -c 300 "$W_BODY")"
[ "$(w_json '["entries"][0]["kind"]')" = signin ] || t_fail "audit kind"
[ "$(w_json '["next_before"]')" = None ] || t_fail "a last page has no next"
for bad in 'before=0' 'before=x' 'limit=0' 'limit=501' 'who=x'; do
    w_req GET "/api/v1/audit?$bad" "${A[@]}"
    w_expect 400 bad_query
done
w_req POST /api/v1/audit/verify "${A[@]}"
w_expect 403 csrf
before=$(t_sql 'SELECT count(*) FROM audit_log')
w_req POST /api/v1/audit/verify "${A[@]}" -H "X-CSRF-Token: $ACSRF" -H "Origin: $W_ORIGIN"
w_expect 200
[ "$(w_json '["ok"]')" = true ] || t_fail "verify: $(cat "$W_BODY")"
[ "$(w_json '["rows"]')" = "$before" ] || t_fail "verify rows: $(cat "$W_BODY"), $before before"
[ "$(t_sql "SELECT actor || ' ' || (detail::jsonb->>'ok') FROM audit_log WHERE event = 'audit_verified'")" = 'auditor true' ] ||
    t_fail "the verify is not in the chain"
# a tampered row (the append-only trigger set aside as the owner could) is found
t_sql "ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET actor = 'mallory' WHERE seq = 2;
       ALTER TABLE audit_log ENABLE TRIGGER USER" >/dev/null
w_req POST /api/v1/audit/verify "${A[@]}" -H "X-CSRF-Token: $ACSRF" -H "Origin: $W_ORIGIN"
w_expect 200
[ "$(w_json '["ok"]')" = false ] && [ "$(w_json '["bad_seq"]')" = 2 ] || t_fail "a tampered chain: $(cat "$W_BODY")"
t_sql "ALTER TABLE audit_log DISABLE TRIGGER USER; UPDATE audit_log SET actor = (SELECT actor FROM audit_log WHERE seq = 1) WHERE seq = 2;
       ALTER TABLE audit_log ENABLE TRIGGER USER" >/dev/null

# ---- saved views: per user, CSRF, limits, audited ----
w_signin analyst "$T_DIR/jar.analyst"
N=(-b "$T_DIR/jar.analyst" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
w_req POST /api/v1/views -b "$T_DIR/jar.analyst" -H 'Content-Type: application/json' -d '{"name":"a","query":"x=1"}'
w_expect 403 csrf
w_req POST /api/v1/views "${N[@]}" -d '{"name":"high leaks","query":"severity=high&type=leakage"}'
w_expect 201
vid=$(w_json '["id"]')
[ "$(t_sql "SELECT v.query FROM web_saved_views v JOIN web_users u USING (user_id) WHERE u.username = 'analyst' AND v.name = 'high leaks'")" = 'severity=high&type=leakage' ] ||
    t_fail "the view is not stored"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE actor = 'analyst' AND event = 'view_saved'")" = 1 ] || t_fail "saving a view is not audited"
w_req POST /api/v1/views "${N[@]}" -d '{"name":"high leaks","query":"severity=high"}'
w_expect 200
[ "$(w_json '["id"]')" = "$vid" ] || t_fail "saving under the same name replaces"
w_req GET /api/v1/views -b "$T_DIR/jar.analyst"
w_expect 200
[ "$(w_json '["views"][0]["query"]')" = 'severity=high' ] && [ "$(w_json '["views"].__len__()')" = 1 ] || t_fail "views list: $(cat "$W_BODY")"
# another user sees none of them, and cannot delete them
w_req GET /api/v1/views "${J[@]}"
[ "$(w_json '["views"].__len__()')" = 0 ] || t_fail "views are per user"
w_signin viewer
w_req DELETE "/api/v1/views/$vid" -b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN"
w_expect 404 not_found
for bad in '{"name":"","query":"a=1"}' '{"name":"x"}' '{"name":"x","query":"a b"}' '{"name":"x","query":7}' \
    "{\"name\":\"$(printf 'n%.0s' $(seq 61))\",\"query\":\"a=1\"}" "{\"name\":\"x\",\"query\":\"$(printf 'q%.0s' $(seq 2001))\"}"; do
    w_req POST /api/v1/views "${N[@]}" -d "$bad"
    w_expect 400
done
for i in $(seq 2 50); do
    w_req POST /api/v1/views "${N[@]}" -d "{\"name\":\"v$i\",\"query\":\"q=$i\"}"
    w_expect 201
done
w_req POST /api/v1/views "${N[@]}" -d '{"name":"one too many","query":"q=51"}'
w_expect 409 too_many_views
w_req DELETE "/api/v1/views/$vid" "${N[@]}"
w_expect 204
[ "$(t_sql "SELECT count(*) FROM web_saved_views")" = 49 ] || t_fail "delete"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'view_deleted' AND detail::jsonb->>'name' = 'high leaks'")" = 1 ] || t_fail "delete not audited"
w_req GET /api/v1/views -H "Authorization: Bearer $W_ADMIN_TOKEN"
w_expect 400 not_a_session
w_req GET /api/v1/audit/verify -b "$T_DIR/jar.auditor"
w_expect 405
w_stop
t_log "PASS: series, overview, audit list and verify, saved views, ATLAS/OWASP names"
