#!/usr/bin/env bash
# GET /api/v1/incidents (filters, keyset pages stable under inserts, counts
# per status, bad filters) and GET /api/v1/incidents/{id} (404, bad id, the
# evidence without prompt or response content), through incidents/.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup
# 25 incidents an hour apart: types and severities in turn, 5 of them
# contained, tenant t1 for the even ones.
t_sql "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, first_seen,
           detected_at, last_seen, alerts, atlas, owasp, summary, doc, tenant)
       SELECT 'inc-' || lpad(g::text, 3, '0'),
              (ARRAY['extraction','probing','leakage','flood','extraction'])[g % 5 + 1],
              (ARRAY['low','medium','high','critical'])[g % 4 + 1],
              CASE WHEN g % 5 = 0 THEN 'contained' ELSE 'open' END,
              'key-' || (g % 3), timestamptz '2026-11-30 00:00Z' + g * interval '1 hour',
              timestamptz '2026-11-30 00:00Z' + g * interval '1 hour',
              timestamptz '2026-11-30 00:00Z' + g * interval '1 hour', 1, '{}', '{}',
              'summary of incident ' || g || CASE WHEN g = 7 THEN ' with Needle' ELSE '' END,
              '{}', CASE WHEN g % 2 = 0 THEN 't1' END
       FROM generate_series(1, 25) g" >/dev/null
# Evidence of inc-007 whose prompt and response must not be shown.
t_sql "INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, prompt, response)
       VALUES (now(), 'ev-1', 'key-1', 'm', 'v1', 'SECRET-PROMPT-TEXT', 'SECRET-RESPONSE-TEXT');
       INSERT INTO incident_events (incident_id, event_id, ts, api_key_id)
       SELECT 'inc-007', 'ev-1', ts, 'key-1' FROM interactions WHERE event_id = 'ev-1'" >/dev/null
w_signin viewer
J=(-b "$W_JAR")

# First page: newest first, 50 by default, counts per status.
w_req GET /api/v1/incidents "${J[@]}"
w_expect 200
[ "$(w_json '["incidents"].__len__()')" = 25 ] || t_fail "first page size"
[ "$(w_json '["incidents"][0]["incident_id"]')" = inc-025 ] || t_fail "not newest first"
[ "$(w_json '["next_cursor"]')" = None ] || t_fail "a cursor past the last page"
[ "$(w_json '["counts"]["open"]')" = 20 ] && [ "$(w_json '["counts"]["contained"]')" = 5 ] ||
    t_fail "counts: $(w_json '["counts"]')"

# Filters.
check_ids() { # QUERY EXPECTED-IDS (space-separated, in order)
    w_req GET "/api/v1/incidents?$1" "${J[@]}"
    w_expect 200
    got=$(w_json '["incidents"]' | grep -o "'inc-[0-9]*'" | tr -d "'" | tr '\n' ' ' | sed 's/ $//')
    [ "$got" = "$2" ] || t_fail "?$1: got [$got], wanted [$2]"
}
check_ids 'status=contained' 'inc-025 inc-020 inc-015 inc-010 inc-005'
check_ids 'type=leakage&severity=high' 'inc-022 inc-002'
check_ids 'type=leakage' 'inc-022 inc-017 inc-012 inc-007 inc-002'
check_ids 'severity=high&tenant=t1' 'inc-022 inc-018 inc-014 inc-010 inc-006 inc-002'
check_ids 'api_key=key-0&status=open' 'inc-024 inc-021 inc-018 inc-012 inc-009 inc-006 inc-003'
check_ids 'q=needle' 'inc-007'
check_ids 'since=2026-11-30T20:00:00Z&until=2026-11-30T23:00:00Z' 'inc-022 inc-021 inc-020'
check_ids 'since=2026-11-30T20:00:00.5Z&until=2026-11-30T22:00:00Z' 'inc-021'
w_req GET '/api/v1/incidents?status=contained' "${J[@]}"
[ "$(w_json '["counts"]')" = "{'contained': 5}" ] || t_fail "counts follow the filter: $(w_json '["counts"]')"

# The first page's counts are cached per filter until the change feed
# reports an incident change: asked again, they come from the cache; after
# an update in PostgreSQL (not through the API), they follow it.
w_req GET /api/v1/incidents "${J[@]}"
w_req GET /api/v1/incidents "${J[@]}"
[ "$(w_json '["counts"]["open"]')" = 20 ] || t_fail "cached counts: $(w_json '["counts"]')"
hits=$(curl -s "$W_BASE/metrics" | awk '$1 == "custos_web_counts_cache_hits_total" {print $2}')
[ "${hits:-0}" -ge 1 ] || t_fail "no counts cache hit in /metrics (${hits:-none})"
w_sql "UPDATE incidents SET status = 'contained' WHERE incident_id = 'inc-001'" >/dev/null
deadline=$(($(date +%s) + 30))
until w_req GET /api/v1/incidents "${J[@]}" && [ "$(w_json '["counts"]["contained"]')" = 6 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || t_fail "counts never followed the update: $(w_json '["counts"]')"
    sleep 0.1
done
[ "$(w_json '["counts"]["open"]')" = 19 ] || t_fail "counts after the update: $(w_json '["counts"]')"
w_sql "UPDATE incidents SET status = 'open' WHERE incident_id = 'inc-001'" >/dev/null
until w_req GET /api/v1/incidents "${J[@]}" && [ "$(w_json '["counts"]["open"]')" = 20 ]; do
    [ "$(date +%s)" -lt "$deadline" ] || t_fail "counts never followed the second update"
    sleep 0.1
done

# Keyset pages of 7, with 3 incidents arriving (newer) while paging: every
# original incident is seen exactly once, none of the new ones.
seen="" cursor="" pages=0
while :; do
    q="limit=7"
    [ -n "$cursor" ] && q="$q&cursor=$cursor"
    w_req GET "/api/v1/incidents?$q" "${J[@]}"
    w_expect 200
    seen+=$(w_json '["incidents"]' | grep -o "'inc-[0-9a-z-]*'" | tr -d "'" | tr '\n' ' ')
    pages=$((pages + 1))
    if [ "$pages" = 1 ]; then
        t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
                   last_seen, alerts, atlas, owasp, summary, doc)
               SELECT 'inc-new-' || g, 'flood', 'low', 'k', now(), now(), now(), 1, '{}', '{}', 'new', '{}'
               FROM generate_series(1, 3) g" >/dev/null
    else
        [ "$(w_json '.get("counts")')" = None ] || t_fail "counts on a later page"
    fi
    cursor=$(w_json '["next_cursor"]')
    [ "$cursor" = None ] && break
    [ "$pages" -le 10 ] || t_fail "more than 10 pages"
done
[ "$pages" = 4 ] || t_fail "$pages pages of 7 for 25"
[ "$(tr ' ' '\n' <<<"$seen" | grep -c '^inc-[0-9]')" = 25 ] || t_fail "pages saw: $seen"
[ "$(tr ' ' '\n' <<<"$seen" | grep '^inc-[0-9]' | sort -u | wc -l)" = 25 ] || t_fail "a repeat across pages"
if grep -q inc-new <<<"$seen"; then t_fail "an incident newer than page 1 showed on a later page"; fi

# Bad filters: 400 bad_filter, never 500.
for q in 'status=nonsense' 'type=worm' 'severity=extreme' 'disposition=maybe' 'limit=0' 'limit=501' \
        'limit=x' 'since=yesterday' 'until=2026-11-30' 'since=2026-11-30T20:00:00+01:00' \
        'since=2026-12-01T00:00:00Z&until=2026-11-30T00:00:00Z' 'cursor=c1zz' 'cursor=garbage' \
        'colour=red' 'status=open&status=closed' "q=$(printf 'x%.0s' $(seq 300))" 'status'; do
    w_req GET "/api/v1/incidents?$q" "${J[@]}"
    w_expect 400 bad_filter
done

# One incident: masked evidence, 404, bad id.
w_req GET /api/v1/incidents/inc-007 "${J[@]}"
w_expect 200
[ "$(w_json '["incident_id"]')" = inc-007 ] || t_fail "detail: $(head -c 300 "$W_BODY")"
grep -q '"event_id":"ev-1"' "$W_BODY" || t_fail "the evidence event is missing: $(head -c 600 "$W_BODY")"
if grep -q 'SECRET-' "$W_BODY"; then t_fail "prompt or response content in the detail"; fi
w_req GET /api/v1/incidents/inc-999 "${J[@]}"
w_expect 404 not_found
w_req GET "/api/v1/incidents/inc%27or%271" "${J[@]}"
w_expect 400 bad_id
# Every role reads (the auditor too); without a session nothing.
for r in analyst responder auditor admin; do
    w_signin "$r" "$T_DIR/j.$r"
    w_req GET /api/v1/incidents/inc-001 -b "$T_DIR/j.$r"
    w_expect 200
done
w_req GET /api/v1/incidents
w_expect 401

# Content only through reveal, with a reason, audited; never for a viewer.
w_req POST /api/v1/incidents/inc-007/reveal "${J[@]}" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" \
    -H 'Content-Type: application/json' -d '{"reason":"checking"}'
w_expect 403 forbidden
w_signin analyst "$T_DIR/j.an"
AN=(-b "$T_DIR/j.an" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
for body in '{}' '{"reason":""}' '{"reason":"   "}' '{"reason":5}' '{"reason":"x","also":1}'; do
    w_req POST /api/v1/incidents/inc-007/reveal "${AN[@]}" -d "$body"
    w_expect 400 bad_request
done
w_req POST /api/v1/incidents/inc-404/reveal "${AN[@]}" -d '{"reason":"ticket 12"}'
w_expect 404 not_found
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'content_revealed'")" = 0 ] || t_fail "a refused reveal audited"
w_req POST /api/v1/incidents/inc-007/reveal "${AN[@]}" -d '{"reason":"ticket 12: is this a real leak?"}'
w_expect 200
grep -q 'SECRET-PROMPT-TEXT' "$W_BODY" && grep -q 'SECRET-RESPONSE-TEXT' "$W_BODY" ||
    t_fail "reveal does not show the content: $(head -c 400 "$W_BODY")"
row=$(t_sql "SELECT actor || '|' || incident_id || '|' || (detail::jsonb->>'reason') || '|' || (detail::jsonb->>'events') FROM audit_log WHERE event = 'content_revealed'")
[ "$row" = "analyst|inc-007|ticket 12: is this a real leak?|1" ] || t_fail "reveal audit row: $row"
w_signin auditor "$T_DIR/j.au"
w_req POST /api/v1/incidents/inc-007/reveal -b "$T_DIR/j.au" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" \
    -H 'Content-Type: application/json' -d '{"reason":"audit sample"}'
w_expect 200
# The plain detail is still masked afterwards.
w_req GET /api/v1/incidents/inc-007 -b "$T_DIR/j.an"
if grep -q 'SECRET-' "$W_BODY"; then t_fail "content in the plain detail after a reveal"; fi
"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "audit chain broken"
w_stop
t_log "PASS: incident list (filters, keyset under inserts, counts, bad filters), detail (masked), reveal (reason, audit, roles)"
