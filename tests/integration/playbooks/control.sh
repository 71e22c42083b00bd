#!/usr/bin/env bash
# The Kafka control topic: one JSON message per action, keyed by subject,
# read back with kcat from the embedded broker; with the broker gone the
# action fails after its retries and the incident escalates.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
t_broker 1 custos.control
export CUSTOS_EFFECTORS_CONTROL=on CUSTOS_EFFECTORS_CONTROL_TOPIC=custos.control

"$B" playbook apply --incident "$PB_DATA/extraction_high.json" --log-level warn >/dev/null 2>"$T_DIR/apply.log" ||
    t_fail "apply: $(cat "$T_DIR/apply.log")"
rid=$(t_sql "SELECT id FROM actions WHERE kind = 'revoke_key'")
# notify-new's notify goes to the webhook, which is not configured here:
# skipped (no effector carries it out), not done
pb_expect "actions done" "$(t_sql "SELECT string_agg(kind || ':' || state, ',' ORDER BY id) FROM actions")" \
    "notify:skipped,revoke_key:done,set_incident:done"
kcat -C -b "$T_BROKER" -t custos.control -o beginning -e -q -f '%k\t%s\n' >"$T_DIR/control.out" 2>"$T_DIR/kcat.log" ||
    t_fail "kcat: $(cat "$T_DIR/kcat.log")"
cat "$T_DIR/control.out" >&2
pb_expect "messages" "$(wc -l <"$T_DIR/control.out")" 2
python3 - "$T_DIR/control.out" "$rid" <<'PY' || t_fail "control messages do not match"
import json, sys
lines = [l.rstrip("\n").split("\t", 1) for l in open(sys.argv[1])]
rid = int(sys.argv[2])
key, msg = lines[0][0], json.loads(lines[0][1])
assert key == "key-attacker-1", key
assert msg["schema"] == "custos.control.v1"
assert msg["action_id"] == rid and msg["kind"] == "revoke_key", msg
assert msg["subject"] == "key-attacker-1" and msg["incident_id"] == "inc-ext-1"
assert msg["params"]["key_id"] == "key-attacker-1" and msg["revert_of"] is None
assert msg["playbook"] == "revoke-extraction" and msg["issued_at"].endswith("Z")
key2, msg2 = lines[1][0], json.loads(lines[1][1])
assert key2 == "inc-ext-1" and msg2["kind"] == "set_incident" and msg2["params"]["status"] == "contained"
PY
t_log "ok: control messages read back"
pb_expect "result" "$(t_sql "SELECT result->>'control' FROM actions WHERE id = $rid")" ok

# the broker goes away: the action fails after its retries and escalates
kill -KILL "$T_BROKER_PID"; wait "$T_BROKER_PID" 2>/dev/null || true
pb_incident "$PB_DATA/extraction_high.json" inc-nobroker key-nobroker >"$T_DIR/nb.json"
start=$(date +%s)
CUSTOS_EFFECTORS_CONTROL_TIMEOUT_MS=1000 CUSTOS_EFFECTORS_RETRIES=1 CUSTOS_EFFECTORS_RETRY_MIN_MS=100 \
    "$B" playbook apply --incident "$T_DIR/nb.json" --log-level warn >/dev/null 2>"$T_DIR/nb.log" || true
nid=$(t_sql "SELECT id FROM actions WHERE incident_id = 'inc-nobroker' AND kind = 'revoke_key'")
pb_expect "failed without the broker" "$(t_sql "SELECT state || ' ' || (error LIKE 'control topic:%')::text FROM actions WHERE id = $nid")" "failed true"
pb_expect "escalated" "$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'escalated' AND action_id = $nid")" 1
pb_expect "registry still revoked the key" "$(t_sql "SELECT status FROM api_keys WHERE key_id = 'key-nobroker'")" revoked
t_log "took $(( $(date +%s) - start )) s without a broker"
"$B" audit verify --log-level warn || t_fail "audit chain"
t_log "PASS"
