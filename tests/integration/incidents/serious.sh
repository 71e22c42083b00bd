#!/usr/bin/env bash
# Serious incidents (EU AI Act Art. 73) against the real server and
# PostgreSQL: marking with each category over the API and the CLI and the
# deadline custos derives (checked against PostgreSQL's own date arithmetic),
# the deadline check's notification and escalation each raised once (the
# clock driven by awareness times in the past, never by sleeping), reports
# filed (initial, then complete; refusals), the report exported as JSON and
# Markdown holding the same facts, role checks on the new routes, and every
# change an audit row of a chain that verifies.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../web/lib/web.sh"

w_setup
for i in 1 2 3 4 5 6 7 8; do
    t_sql "INSERT INTO incidents (incident_id, type, severity, status, api_key_id, model, model_version,
               first_seen, detected_at, last_seen, alerts, atlas, owasp, summary, doc)
           VALUES ('inc-$i', 'leakage', 'high', 'open', 'k-$i', 'm-$i', 'v1', now() - interval '1 hour',
                   now() - interval '50 minutes', now(), 2, '{AML.T0057}', '{LLM02:2025}',
                   'leak | from *k-$i* <b>', '{}')" >/dev/null
done

w_signin analyst "$T_DIR/j.analyst"
A=(-b "$T_DIR/j.analyst" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
w_signin viewer "$T_DIR/j.viewer"
V=(-b "$T_DIR/j.viewer" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')
w_signin auditor "$T_DIR/j.auditor"
U=(-b "$T_DIR/j.auditor" -H "X-CSRF-Token: $W_CSRF" -H "Origin: $W_ORIGIN" -H 'Content-Type: application/json')

# ---- roles: marking is the analyst's and up; the report reads ----
for who in V U; do
    eval "args=(\"\${$who[@]}\")"
    w_req POST /api/v1/incidents/inc-1/serious "${args[@]}" -d '{"category":"general"}'
    w_expect 403 forbidden
    w_req POST /api/v1/incidents/inc-1/serious/reports "${args[@]}" -d '{"kind":"initial","reference":"x"}'
    w_expect 403 forbidden
done
w_req POST /api/v1/incidents/inc-1/serious -H 'Content-Type: application/json' -d '{"category":"general"}'
w_expect 401 unauthenticated
[ "$(t_sql "SELECT count(*) FROM serious_incidents")" = 0 ] || t_fail "a denied call marked an incident"
"$CUSTOS_BIN" web --routes >"$T_DIR/routes"
for r in 'POST /api/v1/incidents/{id}/serious triage' 'POST /api/v1/incidents/{id}/serious/reports triage' \
    'GET /api/v1/incidents/{id}/report read' 'POST /api/v1/actions/{id}/approve respond'; do
    grep -q "^$r " "$T_DIR/routes" || t_fail "route table lacks '$r' (the role matrix of web/roles.sh walks it)"
done

# ---- each category and its deadline ----
# awareness 5 days ago; deadline = awareness + days (Art. 73(2)-(4)): general
# and death still ahead, the 2-day ones passed
aware=$(t_sql "SELECT change_feed_ts(date_trunc('second', now()) - interval '5 days')")
declare -A DAYS=([general]=15 [widespread_infringement]=2 [critical_infrastructure]=2 [death]=10)
declare -A ART=([general]='73(2)' [widespread_infringement]='73(3)' [critical_infrastructure]='73(3)' [death]='73(4)')
n=1
for cat in general widespread_infringement critical_infrastructure death; do
    w_req POST "/api/v1/incidents/inc-$n/serious" "${A[@]}" -d "{\"category\":\"$cat\",\"aware_at\":\"$aware\"}"
    w_expect 200
    want=$(t_sql "SELECT to_char(('$aware'::timestamptz + interval '${DAYS[$cat]} days') AT TIME ZONE 'UTC',
                  'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')")
    [ "$(w_json '["deadline_at"]')" = "$want" ] || t_fail "$cat: deadline $(w_json '["deadline_at"]'), wanted $want"
    st=report_due
    [ "${DAYS[$cat]}" = 2 ] && st=overdue
    [ "$(w_json '["article"]')" = "${ART[$cat]}" ] && [ "$(w_json '["deadline_days"]')" = "${DAYS[$cat]}" ] &&
        [ "$(w_json '["state"]')" = "$st" ] && [ "$(w_json '["marked_by"]')" = analyst ] ||
        t_fail "$cat: $(cat "$W_BODY")"
    [ "$(t_sql "SELECT deadline_at = aware_at + interval '${DAYS[$cat]} days' FROM serious_incidents
                WHERE incident_id = 'inc-$n'")" = t ] || t_fail "$cat: stored deadline"
    # the incident's own JSON carries it
    w_req GET "/api/v1/incidents/inc-$n" "${V[@]}"
    w_expect 200
    [ "$(w_json '["serious"]["category"]')" = "$cat" ] && [ "$(w_json '["serious"]["deadline_at"]')" = "$want" ] ||
        t_fail "GET incident inc-$n: serious is $(w_json '["serious"]')"
    [ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_incident_marked' AND incident_id = 'inc-$n'
                AND actor = 'analyst' AND detail::jsonb->>'category' = '$cat'")" = 1 ] || t_fail "$cat: not audited"
    n=$((n + 1))
done
w_req GET /api/v1/incidents/inc-7 "${V[@]}"
[ "$(w_json '["serious"]')" = None ] || t_fail "an incident not marked serious: serious is $(w_json '["serious"]')"
# bad input: 400 with a JSON error, nothing stored
for body in '{"category":"minor"}' '{}' '{"category":"general","aware_at":"yesterday"}' \
    '{"category":"general","aware_at":"2999-01-01T00:00:00Z"}' '{"category":"general","extra":1}'; do
    w_req POST /api/v1/incidents/inc-7/serious "${A[@]}" -d "$body"
    w_expect 400
done
w_req POST /api/v1/incidents/nope/serious "${A[@]}" -d '{"category":"general"}'
w_expect 404 not_found
[ "$(t_sql "SELECT count(*) FROM serious_incidents WHERE incident_id IN ('inc-7', 'nope')")" = 0 ] ||
    t_fail "a refused marking was stored"
# the CLI: the same, audited as cli:$USER
out=$("$CUSTOS_BIN" incidents serious inc-5 --category death --aware-at 2026-11-21T00:00:00Z --log-level warn)
[ "$out" = "serious incident inc-5 (Art. 73(4), death): report due 2026-12-01T00:00:00.000000Z (10 days from awareness)" ] ||
    t_fail "CLI mark printed: $out"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_incident_marked' AND incident_id = 'inc-5'
            AND actor LIKE 'cli:%'")" = 1 ] || t_fail "CLI mark not audited as cli:USER"
set +e
"$CUSTOS_BIN" incidents serious inc-5 --category bogus --log-level warn 2>"$T_DIR/err"
rc=$?
set -e
[ "$rc" = 2 ] && grep -q 'critical_infrastructure' "$T_DIR/err" || t_fail "CLI bad category: exit $rc $(cat "$T_DIR/err")"

# ---- the deadline check: a notification before, an escalation after, each once ----
# inc-5: death, due in 12 h (inside serious_notify_before_ms, 24 h); inc-6:
# general, due 1 h ago; inc-7: general, due in 3 days (nothing yet); inc-1
# (general) and inc-4 (death) due in 10 and 5 days: nothing; inc-3 (2 days)
# 3 days overdue: escalated; inc-2 (2 days) overdue but its initial report
# is filed: nothing.
t_sql "UPDATE serious_incidents SET aware_at = now() - interval '10 days' + interval '12 hours',
           deadline_at = now() + interval '12 hours' WHERE incident_id = 'inc-5'" >/dev/null
w_req POST /api/v1/incidents/inc-6/serious "${A[@]}" \
    -d "{\"category\":\"general\",\"aware_at\":\"$(t_sql "SELECT change_feed_ts(now() - interval '15 days 1 hour')")\"}"
w_expect 200
w_req POST /api/v1/incidents/inc-7/serious "${A[@]}" \
    -d "{\"category\":\"general\",\"aware_at\":\"$(t_sql "SELECT change_feed_ts(now() - interval '12 days')")\"}"
w_expect 200
# inc-2 has its initial report: its deadline is met, nothing is raised for it
w_req POST /api/v1/incidents/inc-2/serious/reports "${A[@]}" \
    -d '{"kind":"initial","reference":"AUTH-2026-0042","filed_by":"dpo@example.com","filed_at":"2026-11-21T09:00:00Z"}'
w_expect 201
[ "$(w_json '["state"]')" = initial_report_filed ] && [ "$(w_json '["reports"][0]["reference"]')" = AUTH-2026-0042 ] &&
    [ "$(w_json '["reports"][0]["filed_by"]')" = dpo@example.com ] || t_fail "report filed: $(cat "$W_BODY")"
out=$("$CUSTOS_BIN" incidents deadlines --log-level warn)
[ "$out" = "deadlines checked: 1 notified, 2 escalated" ] || t_fail "first check: $out"
for i in 1 2 3 4 5 6 7; do
    t_sql "SELECT incident_id, notified_at IS NOT NULL, escalated_at IS NOT NULL FROM serious_incidents
           WHERE incident_id = 'inc-$i'" >>"$T_DIR/raised"
done
want='inc-1|f|f
inc-2|f|f
inc-3|f|t
inc-4|f|f
inc-5|t|f
inc-6|f|t
inc-7|f|f'
[ "$(cat "$T_DIR/raised")" = "$want" ] || t_fail "raised: $(cat "$T_DIR/raised")"
out=$("$CUSTOS_BIN" incidents deadlines --log-level warn)
[ "$out" = "deadlines checked: 0 notified, 0 escalated" ] || t_fail "second check raised again: $out"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_deadline_near'")" = 1 ] &&
    [ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_deadline_near' AND incident_id = 'inc-5'")" = 1 ] &&
    [ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_deadline_passed'")" = 2 ] &&
    [ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_deadline_passed' AND incident_id = 'inc-6'")" = 1 ] ||
    t_fail "notification and escalation audit rows: $(t_sql "SELECT incident_id, event FROM audit_log WHERE event LIKE 'serious_deadline%'")"
# both reach the incident's update feed (incident_updates, which the console and the stream show)
[ "$(t_sql "SELECT count(*) FROM incident_updates WHERE incident_id = 'inc-6' AND actor = 'custos:art73'
            AND note LIKE 'ESCALATION: the Art. 73(2) report%'")" = 1 ] &&
    [ "$(t_sql "SELECT count(*) FROM incident_updates WHERE incident_id = 'inc-5' AND actor = 'custos:art73'
            AND note LIKE 'the Art. 73(4) report of this serious incident is due%'")" = 1 ] ||
    t_fail "updates: $(t_sql "SELECT incident_id, note FROM incident_updates WHERE actor = 'custos:art73'")"
# inc-5's deadline passes (set back): escalated once, after its notification
t_sql "UPDATE serious_incidents SET deadline_at = now() - interval '1 minute' WHERE incident_id = 'inc-5'" >/dev/null
out=$("$CUSTOS_BIN" incidents deadlines --log-level warn)
[ "$out" = "deadlines checked: 0 notified, 1 escalated" ] || t_fail "inc-5 passing: $out"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_deadline_passed' AND incident_id = 'inc-5'")" = 1 ] ||
    t_fail "inc-5's escalation not audited"
# a re-marking that moves the deadline may be notified again; the CLI check once more raises nothing
out=$("$CUSTOS_BIN" incidents deadlines --log-level warn)
[ "$out" = "deadlines checked: 0 notified, 0 escalated" ] || t_fail "third check: $out"

# ---- reports filed: initial then complete; refusals ----
w_req POST /api/v1/incidents/inc-2/serious/reports "${A[@]}" -d '{"kind":"initial","reference":"again"}'
w_expect 409 conflict
w_req POST /api/v1/incidents/inc-7/serious/reports "${A[@]}" -d '{"kind":"final","reference":"x"}'
w_expect 409
w_req POST /api/v1/incidents/inc-7/serious/reports "${A[@]}" -d '{"kind":"initial","reference":"two\nlines"}'
w_expect 409
w_req POST /api/v1/incidents/inc-7/serious/reports "${A[@]}" -d '{"kind":"initial"}'
w_expect 400
w_req POST /api/v1/incidents/nope/serious/reports "${A[@]}" -d '{"kind":"initial","reference":"x"}'
w_expect 404 not_found
out=$("$CUSTOS_BIN" incidents report-filed inc-2 --kind complete --reference AUTH-2026-0042/2 \
    --filed-by dpo@example.com --filed-at 2026-11-25T10:00:00Z --log-level warn)
[[ "$out" == "complete report of inc-2 recorded as report "* ]] || t_fail "CLI report-filed: $out"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_report_filed' AND incident_id = 'inc-2'")" = 2 ] ||
    t_fail "report filings not audited"
if t_sql "DELETE FROM serious_reports" 2>/dev/null; then t_fail "serious_reports took a DELETE"; fi

# ---- the report: JSON and Markdown with the same facts ----
t_sql "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state, actor,
           decided_by, decision_reason)
       VALUES ('inc-2', 'manual', 'revoke_key', 'k-2', '{\"key_id\":\"k-2\",\"reason\":\"leak\"}', 'x1', 'rejected',
               'alice', 'bob', 'false | alarm _x_')" >/dev/null
w_req GET '/api/v1/incidents/inc-2/report?kind=complete&format=json' "${V[@]}"
w_expect 200
cp "$W_BODY" "$T_DIR/report.json"
w_req GET '/api/v1/incidents/inc-2/report?kind=complete&format=md' "${V[@]}"
w_expect 200
[[ "$(w_header Content-Type)" == text/markdown* ]] || t_fail "markdown content type: $(w_header Content-Type)"
cp "$W_BODY" "$T_DIR/report.md"
"$CUSTOS_BIN" incidents report inc-2 --kind complete --format md -o "$T_DIR/cli.md" --log-level warn
"$CUSTOS_BIN" incidents report inc-2 --kind initial -o "$T_DIR/cli.json" --log-level warn
python3 - "$T_DIR/report.json" "$T_DIR/report.md" "$T_DIR/cli.md" "$T_DIR/cli.json" <<'PY' || t_fail "report facts differ"
import json, re, sys
rep = json.load(open(sys.argv[1]))
assert rep["format"] == "custos-art73-report-v1" and rep["kind"] == "complete", rep
assert rep["incident"]["incident_id"] == "inc-2" and rep["serious"]["category"] == "widespread_infringement"
assert [r["kind"] for r in rep["serious"]["reports"]] == ["initial", "complete"], rep["serious"]["reports"]
assert rep["actions"][0]["decision_reason"] == "false | alarm _x_", rep["actions"]
assert rep["generated_by"] == "viewer"
def esc(s):
    s = re.sub(r'([\\`*_{}\[\]()<>#+\-!|~])', r'\\\1', s)
    return re.sub(r'[\n\r\t]', ' ', s)
def text(v):
    if v is None: return "—"
    if isinstance(v, str): return esc(v)
    if isinstance(v, bool): return "true" if v else "false"
    if isinstance(v, list): return ", ".join(text(x) for x in v) if v else "—"
    return esc(json.dumps(v))
def rows(md):
    return set(re.findall(r'^\| (\S+) \| (.*) \|$', md, re.M))
# every scalar fact of the JSON is a row "| name | value |" of the Markdown
def facts(o, out, top=False):
    for k, v in o.items():
        if isinstance(v, dict):
            facts(v, out)
        elif isinstance(v, list) and v and isinstance(v[0], dict):
            for x in v: facts(x, out)
        elif top and isinstance(v, list):
            pass  # an empty section: "No ... record." in the Markdown
        else:
            out.add((k, text(v)))
    return out
for path in sys.argv[2:4]:
    md = open(path).read()
    want = {f for f in facts(rep, set(), True) if f[0] not in ("generated_at", "generated_by", "due_in_s")}
    got = rows(md)
    missing = want - got
    assert not missing, (path, sorted(missing)[:10])
    assert "<b>" not in md and "\\<b\\>" in md, "markup in a value is escaped"
    assert ("Serious incident (Art. 73(3), widespread infringement): report due %s." %
            rep["serious"]["deadline_at"]) in md, md[:300]
cli = json.load(open(sys.argv[4]))
assert cli["kind"] == "initial" and cli["incident"] == rep["incident"] and cli["actions"] == rep["actions"]
assert cli["serious"]["reports"] == rep["serious"]["reports"]
PY
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_report_exported' AND incident_id = 'inc-2'")" = 4 ] ||
    t_fail "report exports not audited"
# the audit row holds the SHA-256 of the JSON served
sha=$(head -c -1 "$T_DIR/report.json" | sha256sum | cut -d' ' -f1)
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_report_exported' AND detail::jsonb->>'sha256' = '$sha'")" = 1 ] ||
    t_fail "no export audit row with the served JSON's SHA-256 $sha"
for q in 'kind=final' '' 'kind=initial&format=html' 'kind=initial&x=1'; do
    w_req GET "/api/v1/incidents/inc-2/report?$q" "${V[@]}"
    w_expect 400
done
w_req GET '/api/v1/incidents/inc-7x/report?kind=initial' "${V[@]}"
w_expect 404 not_found
set +e
"$CUSTOS_BIN" incidents report inc-2 --kind initial -o "$T_DIR/cli.json" --log-level warn 2>"$T_DIR/err"
rc=$?
set -e
[ "$rc" = 1 ] && grep -q 'File exists' "$T_DIR/err" || t_fail "report -o over an existing file: exit $rc $(cat "$T_DIR/err")"

# ---- a playbook marks one: custos.set_incident({serious = CATEGORY}) ----
mkdir -p "$T_DIR/pb"
cat >"$T_DIR/pb/mark.lua" <<'LUA'
return {
  name = "mark-serious",
  on = { types = { "leakage" }, min_severity = "high" },
  run = function(incident)
    custos.set_incident({ serious = "widespread_infringement", note = "personal data of many users" })
  end,
}
LUA
cat >"$T_DIR/pb/bad.lua" <<'LUA'
return { name = "bad-serious", on = { types = { "leakage" } },
  run = function(incident) custos.set_incident({ serious = "minor" }) end }
LUA
printf '%s\n' '{"incident_id":"inc-8","type":"leakage","severity":"high","api_key_id":"k-8","model":"m-8","model_version":"v1","first_seen":"2026-11-21T09:00:00Z","detected_at":"2026-11-21T10:00:00Z","atlas":[],"owasp":[],"summary":"leak","evidence":{}}' >"$T_DIR/inc-8.json"
CUSTOS_PLAYBOOKS_DIR=$T_DIR/pb "$CUSTOS_BIN" playbook apply --incident "$T_DIR/inc-8.json" --log-level warn \
    >"$T_DIR/apply.out" 2>&1 || true
grep -q "serious 'minor' is not one of general" "$T_DIR/apply.out" || t_fail "a bad category from Lua: $(cat "$T_DIR/apply.out")"
[ "$(t_sql "SELECT category || '|' || marked_by || '|' || (deadline_at = aware_at + interval '2 days')
            FROM serious_incidents WHERE incident_id = 'inc-8'")" = "widespread_infringement|playbook:mark-serious|true" ] ||
    t_fail "the playbook did not mark inc-8: $(cat "$T_DIR/apply.out")"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'serious_incident_marked' AND incident_id = 'inc-8'
            AND actor = 'playbook:mark-serious'")" = 1 ] || t_fail "the playbook's marking is not audited"

"$CUSTOS_BIN" audit verify --log-level warn >"$T_DIR/verify" || t_fail "audit chain: $(cat "$T_DIR/verify")"
w_stop
t_log "PASS: 4 categories and their deadlines, 1 notification and 3 escalations each once, reports filed, report JSON = Markdown facts, roles"
