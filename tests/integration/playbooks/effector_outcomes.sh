#!/usr/bin/env bash
# Containment that says what it did (issue 13): with only the database and a
# control topic that cannot be reached, a revoke records each effector's
# outcome (registry done: the key is revoked; control failed within
# effectors.max_wait_ms; webhook skipped, with why), the action is failed
# with that partial effect kept, and the escalation that follows, which
# cannot reach anyone, is visible (escalation_failed audit rows, log lines);
# a notify with no webhook is skipped, not done; and the daemon warns at
# start-up about what no effector carries out.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
# a broker address where nothing listens: every control message fails
export CUSTOS_KAFKA_BROKERS=127.0.0.1:9 CUSTOS_EFFECTORS_CONTROL=on
export CUSTOS_EFFECTORS_CONTROL_TIMEOUT_MS=300 CUSTOS_EFFECTORS_MAX_WAIT_MS=1s
export CUSTOS_EFFECTORS_RETRIES=5 CUSTOS_EFFECTORS_RETRY_MIN_MS=400
pbdir=$T_DIR/pb; mkdir -p "$pbdir"; export CUSTOS_PLAYBOOKS_DIR=$pbdir
cat >"$pbdir/revoke.lua" <<'LUA'
return { name = "revoke", on = { types = { "extraction" } }, run = function(incident)
  custos.revoke_key(incident.subject.api_key_id, { reason = "extraction" })
end }
LUA
cp "$CUSTOS_SOURCE_DIR/playbooks/escalate_failed.lua" "$pbdir/"
pb_incident "$PB_DATA/extraction_high.json" inc-fx-1 key-fx-1 >"$T_DIR/inc.json"

"$B" playbook apply --incident "$T_DIR/inc.json" --log-level info >"$T_DIR/apply.out" 2>"$T_DIR/apply.log" ||
    t_fail "apply: $(tail -n 5 "$T_DIR/apply.log")"
rid=$(t_sql "SELECT id FROM actions WHERE incident_id = 'inc-fx-1' AND kind = 'revoke_key'")
[ -n "$rid" ] || t_fail "no revoke recorded"
eff() { t_sql "SELECT result->'effectors'->'$2'->>'$3' FROM actions WHERE id = $1"; }
pb_expect "revoke state" "$(t_sql "SELECT state FROM actions WHERE id = $rid")" failed
pb_expect "registry outcome" "$(eff "$rid" registry state)" done
pb_expect "the partial effect is real" "$(t_sql "SELECT status FROM api_keys WHERE key_id = 'key-fx-1'")" revoked
pb_expect "control outcome" "$(eff "$rid" control state)" failed
case $(eff "$rid" control error) in
*"gave up: effectors.max_wait_ms 1000 ms spent"*) t_log "ok: control gave up within effectors.max_wait_ms" ;;
*) t_fail "control error: $(eff "$rid" control error)" ;;
esac
# retries=5 would allow six attempts; the wait budget allowed fewer
att=$(eff "$rid" control attempts)
[ "$att" -ge 1 ] && [ "$att" -lt 6 ] || t_fail "control attempts: $att"
pb_expect "webhook outcome" "$(eff "$rid" webhook state) $(eff "$rid" webhook why)" \
    "skipped effectors.webhook_url is empty"
pb_expect "litellm outcome" "$(eff "$rid" litellm state)" skipped

# the escalation: its set_incident fails on the control topic, its notify
# to the webhook has no effector; both are recorded and made visible
pb_expect "escalation's notify" \
    "$(t_sql "SELECT state || ' ' || error FROM actions WHERE incident_id = 'inc-fx-1' AND kind = 'notify'")" \
    "skipped no effector is configured for notify to webhook"
pb_expect "escalation's notify outcome" \
    "$(t_sql "SELECT result->'effectors'->'webhook'->>'state' FROM actions WHERE incident_id = 'inc-fx-1' AND kind = 'notify'")" \
    skipped
pb_expect "escalation's set_incident" \
    "$(t_sql "SELECT state FROM actions WHERE incident_id = 'inc-fx-1' AND kind = 'set_incident'")" failed
pb_expect "failed escalations audited" \
    "$(t_sql "SELECT string_agg(detail::json->>'kind', ',' ORDER BY seq) FROM audit_log WHERE event = 'escalation_failed' AND incident_id = 'inc-fx-1'")" \
    "set_incident,notify"
[ "$(grep -c 'msg="escalation failed" incident="inc-fx-1"' "$T_DIR/apply.log")" = 2 ] ||
    t_fail "escalation failures not logged: $(grep escalation "$T_DIR/apply.log")"
t_log "ok: the failed escalation is visible"

# start-up: the daemon says what nothing carries out
export CUSTOS_EFFECTORS_CONTROL=off
mkfifo "$T_DIR/in"
exec 3<>"$T_DIR/in"
"$B" playbook serve --log-level info <&3 >"$T_DIR/serve.out" 2>"$T_DIR/serve.log" &
SERVE=$!
T_PIDS+=("$SERVE")
deadline=$((SECONDS + 20))
until grep -q 'msg="playbooks live"' "$T_DIR/serve.log"; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "serve did not start: $(tail -n 5 "$T_DIR/serve.log")"
    sleep 0.2
done
grep -q 'msg="no effector configured: such actions will be recorded skipped" action="notify to webhook" why="effectors.webhook_url is empty"' \
    "$T_DIR/serve.log" || t_fail "no start-up warning for notify to webhook: $(grep -i effector "$T_DIR/serve.log")"
grep -q 'action="notify to control" why="effectors.control is off"' "$T_DIR/serve.log" ||
    t_fail "no start-up warning for notify to control"
if grep -q 'action="revoke_key"' "$T_DIR/serve.log"; then t_fail "revoke_key has the registry, no warning due"; fi
kill -TERM "$SERVE"
deadline=$((SECONDS + 15))
while kill -0 "$SERVE" 2>/dev/null; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "serve did not stop"
    sleep 0.1
done
t_log "PASS"
