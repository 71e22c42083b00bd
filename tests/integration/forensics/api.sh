#!/usr/bin/env bash
# The forensic API over HTTP (custos web, real PostgreSQL, curl): an
# auditor pages through a key's interactions by cursor (every row once, in
# (ts, event_id) order, as psql has them), content masked unless revealed
# with a reason, each page an audit row whose digest is the SHA-256 of the
# body curl received; NDJSON and CSV pages; bad queries refused with 400;
# an analyst refused; an evidence bundle downloaded that `custos evidence
# verify` accepts with the instance's public key. The CLI's `custos
# forensics query` and a named query against psql, and the read-only
# custos_auditor role, too.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../web/lib/web.sh"

export CUSTOS_AUDIT_SIGNING_KEY="$T_DIR/signing.key"
w_setup
t_sql "$(cat "$(dirname "$0")/lib/fixture.sql")" >/dev/null
"$CUSTOS_BIN" keys init >/dev/null
"$CUSTOS_BIN" keys public >"$T_DIR/pub.txt"
w_signin auditor
AUD=(-b "$W_JAR" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN")
RANGE="since=2026-11-20T00:00:00Z&until=2026-11-21T00:00:00Z"

# ---- pages by cursor: every row once, in order, masked ----
: >"$T_DIR/paged.txt"
cursor=""
pages=0
while :; do
    q="/api/v1/forensics/events?$RANGE&api_key=ak_fx_1&limit=37"
    [ -n "$cursor" ] && q="$q&cursor=$cursor"
    w_req GET "$q" -b "$W_JAR"
    w_expect 200
    pages=$((pages + 1))
    [ "$(sha256sum <"$W_BODY" | cut -d' ' -f1)" = "$(w_header X-Content-SHA256)" ] || t_fail "X-Content-SHA256 is not the body's digest"
    python3 - "$W_BODY" >>"$T_DIR/paged.txt" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
for r in d["rows"]:
    assert "prompt" not in r and "response" not in r, "content not masked"
    assert len(r["prompt_sha256"]) == 64
    print(r["event_id"])
PY
    cursor=$(w_json '["next_cursor"]')
    [ "$cursor" = None ] && break
    [ "$pages" -lt 20 ] || t_fail "more pages than rows"
done
t_sql "SELECT event_id FROM interactions WHERE api_key_id = 'ak_fx_1' ORDER BY ts, event_id" >"$T_DIR/want.txt"
diff "$T_DIR/want.txt" "$T_DIR/paged.txt" >/dev/null || t_fail "the pages are not the key's rows in order: $(diff "$T_DIR/want.txt" "$T_DIR/paged.txt" | head -3)"
[ "$pages" = 6 ] || t_fail "$pages pages for 200 rows of 37"
n=$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'forensic_query' AND actor = 'auditor' AND detail::jsonb->'filter'->>'api_key' = 'ak_fx_1'")
[ "$n" = "$pages" ] || t_fail "$n audit rows for $pages pages"
# The last page's audit row names its rows and the digest of what was sent.
got=$(t_sql "SELECT (detail::jsonb->>'rows') || ' ' || (detail::jsonb->>'sha256') || ' ' || (detail::jsonb->>'revealed') FROM audit_log WHERE event = 'forensic_query' ORDER BY seq DESC LIMIT 1")
[ "$got" = "$((200 - 37 * 5)) $(sha256sum <"$W_BODY" | cut -d' ' -f1) false" ] || t_fail "the query's audit row: $got"

# ---- reveal needs a reason, and is audited with it ----
w_req GET "/api/v1/forensics/events?$RANGE&api_key=ak_fx_1&limit=5&reveal=1" -b "$W_JAR"
w_expect 400 bad_request
w_req GET "/api/v1/forensics/events?$RANGE&api_key=ak_fx_1&limit=5&reveal=1&reason=case%2042" -b "$W_JAR"
w_expect 200
[ "$(w_json '["rows"][0]["prompt"]')" = "$(t_sql "SELECT prompt FROM interactions WHERE event_id = 'ev-0001'")" ] || t_fail "the revealed prompt is not the stored one"
[ "$(t_sql "SELECT detail::jsonb->>'reason' FROM audit_log WHERE event = 'forensic_query' AND (detail::jsonb->>'revealed')::boolean ORDER BY seq DESC LIMIT 1")" = "case 42" ] \
    || t_fail "the reveal's reason is not audited"

# ---- NDJSON and CSV, text search, filters ----
w_req GET "/api/v1/forensics/events?$RANGE&text=OTHER%20PROMPT&format=ndjson&limit=30" -b "$W_JAR"
w_expect 200
[ "$(wc -l <"$W_BODY")" = 30 ] && [ -n "$(w_header X-Next-Cursor)" ] || t_fail "ndjson page: $(wc -l <"$W_BODY") rows, cursor [$(w_header X-Next-Cursor)]"
grep -q '"api_key_id":"ak_fx_1"' "$W_BODY" && t_fail "--text matched another key's rows"
w_req GET "/api/v1/forensics/events?$RANGE&api_key=ak_fx_1&user=u-3&client_ip=203.0.113.4&format=csv" -b "$W_JAR"
w_expect 200
[ "$(head -n1 "$W_BODY" | cut -d, -f1-3)" = "ts,event_id,api_key_id" ] || t_fail "CSV header: $(head -n1 "$W_BODY")"
want=$(t_sql "SELECT count(*) FROM interactions WHERE api_key_id = 'ak_fx_1' AND user_id = 'u-3' AND client_ip = '203.0.113.4'")
[ "$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1]))))' "$W_BODY")" = "$want" ] || t_fail "CSV rows"

# ---- refused ----
w_req GET "/api/v1/forensics/events?api_key=ak_fx_1" -b "$W_JAR"; w_expect 400 bad_request
w_req GET "/api/v1/forensics/events?since=2026-01-01T00:00:00Z&until=2026-11-21T00:00:00Z" -b "$W_JAR"; w_expect 400 bad_request
grep -q "max_range_days" "$W_BODY" || t_fail "the range refusal does not say why"
w_req GET "/api/v1/forensics/events?$RANGE&cursor=zz" -b "$W_JAR"; w_expect 400 bad_request
w_req GET "/api/v1/forensics/events?$RANGE&nonsense=1" -b "$W_JAR"; w_expect 400 bad_request
w_req GET "/api/v1/forensics/events?$RANGE&limit=100001" -b "$W_JAR"; w_expect 400 bad_request
w_signin analyst "$T_DIR/jar.analyst"
w_req GET "/api/v1/forensics/events?$RANGE" -b "$T_DIR/jar.analyst"; w_expect 403 forbidden

# ---- an evidence bundle over HTTP, verified offline ----
w_req POST /api/v1/evidence "${AUD[@]}" -H 'Content-Type: application/json' -d '{"incident_id":"inc-fx-1"}'
w_expect 200
[ "$(w_header Content-Type)" = application/x-tar ] || t_fail "bundle content type: $(w_header Content-Type)"
cp "$W_BODY" "$T_DIR/http.tar"
"$CUSTOS_BIN" evidence verify "$T_DIR/http.tar" --pubkey "$T_DIR/pub.txt" >"$T_DIR/v.out" || t_fail "the HTTP bundle does not verify: $(cat "$T_DIR/v.out")"
[ "$(t_sql "SELECT actor FROM audit_log WHERE event = 'evidence_exported' ORDER BY seq DESC LIMIT 1")" = auditor ] || t_fail "the HTTP export is not audited as the auditor"
w_req POST /api/v1/evidence "${AUD[@]}" -H 'Content-Type: application/json' -d '{"incident_id":"inc-nope"}'
w_expect 404 not_found
w_req POST /api/v1/evidence "${AUD[@]}" -H 'Content-Type: application/json' -d '{"api_key_id":"ak_fx_1"}'
w_expect 400 bad_request
w_req POST /api/v1/evidence -b "$W_JAR" -H 'Content-Type: application/json' -d '{"incident_id":"inc-fx-1"}'
w_expect 403

# ---- the CLI and a named query against psql ----
"$CUSTOS_BIN" forensics query --since 2026-11-20T00:00:00Z --until 2026-11-21T00:00:00Z --key ak_fx_2 \
    --format csv >"$T_DIR/cli.csv" 2>"$T_DIR/cli.err"
[ "$(python3 -c 'import csv,sys; print(sum(1 for _ in csv.DictReader(open(sys.argv[1]))))' "$T_DIR/cli.csv")" = 40 ] || t_fail "CLI CSV rows"
grep -q "^rows: 40 sha256: $(sha256sum <"$T_DIR/cli.csv" | cut -d' ' -f1)$" "$T_DIR/cli.err" || t_fail "the CLI's digest: $(cat "$T_DIR/cli.err")"
h=$(t_sql "SELECT encode(sha256(convert_to(prompt, 'UTF8')), 'hex') FROM interactions WHERE event_id = 'other-3'")
"$CUSTOS_BIN" forensics named keys_by_prompt_hash prompt_sha256="$h" since=2026-11-20T00:00:00Z until=2026-11-21T00:00:00Z \
    >"$T_DIR/named.out" 2>/dev/null
[ "$(python3 -c 'import json,sys; r=[json.loads(l) for l in open(sys.argv[1])]; print(len(r), r[0]["api_key_id"], r[0]["times"])' "$T_DIR/named.out")" = "1 ak_fx_2 1" ] \
    || t_fail "the named query: $(cat "$T_DIR/named.out")"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'forensic_query' AND detail::jsonb->>'named_query' = 'keys_by_prompt_hash'")" = 1 ] || t_fail "the named query is not audited"

# ---- custos_auditor: reads the masked views, nothing else ----
[ "$(t_sql "SET ROLE custos_auditor; SELECT count(*) FROM auditor_interactions WHERE api_key_id = 'ak_fx_1'")" = 200 ] || t_fail "the auditor role cannot read its view"
for stmt in "SELECT count(*) FROM interactions" "SELECT count(*) FROM web_users" \
            "DELETE FROM auditor_audit_log" "UPDATE auditor_incidents SET status = 'closed'"; do
    if t_sql "SET ROLE custos_auditor; $stmt" >/dev/null 2>&1; then t_fail "custos_auditor may: $stmt"; fi
done
t_log "ok: $pages pages by cursor, reveal with a reason, NDJSON/CSV, refusals, a bundle over HTTP, the auditor role"
