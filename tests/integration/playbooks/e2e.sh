#!/usr/bin/env bash
# End to end: attack events into Kafka -> `custos run` (collector, live
# analytics) -> incident -> playbook -> key revoked in api_keys, control
# message published, signed webhook received, audit chain verifies; and the
# same through an approval gate (pending until approved with the CLI).
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN

"$B" gen --count 10000 --attacks >"$T_DIR/events.jsonl" 2>"$T_DIR/gen.err"
KEY_J=$(grep -o 'jailbreak burst from key [A-Za-z0-9_]*' "$T_DIR/gen.err" | awk '{print $NF}')
KEY_X=$(grep -o 'extraction burst from key [A-Za-z0-9_]*' "$T_DIR/gen.err" | awk '{print $NF}')
[ -n "$KEY_J" ] && [ -n "$KEY_X" ] || t_fail "no attack keys: $(cat "$T_DIR/gen.err")"
N=$(wc -l <"$T_DIR/events.jsonl")

pbdir=$T_DIR/pb; mkdir -p "$pbdir"; export CUSTOS_PLAYBOOKS_DIR=$pbdir
cp "$CUSTOS_SOURCE_DIR/playbooks/notify_new.lua" "$CUSTOS_SOURCE_DIR/playbooks/escalate_failed.lua" "$pbdir/"
cat >"$pbdir/revoke_jailbreaker.lua" <<LUA
return { name = "revoke-jailbreaker", on = { types = { "probing" }, min_severity = "high" },
  when = function(incident) return incident.subject.api_key_id == "$KEY_J" end,
  run = function(incident) custos.revoke_key(incident.subject.api_key_id, { reason = "e2e" }) end }
LUA
cat >"$pbdir/gated_extractor.lua" <<LUA
return { name = "gated-extractor", on = { types = { "probing" }, min_severity = "high" },
  approval = "required",
  when = function(incident) return incident.subject.api_key_id == "$KEY_X" end,
  run = function(incident) custos.revoke_key(incident.subject.api_key_id, { reason = "e2e gated" }) end }
LUA

t_db
t_broker 4 custos.interactions
pb_hook_server hook --secret e2e-hook-secret
export CUSTOS_EFFECTORS_CONTROL=on CUSTOS_EFFECTORS_CONTROL_TOPIC=custos.control
export CUSTOS_EFFECTORS_WEBHOOK_URL=http://127.0.0.1:$PB_HOOK_PORT/hook CUSTOS_EFFECTORS_WEBHOOK_SECRET=e2e-hook-secret
export CUSTOS_ANALYTICS_PARTITION_IDLE_MS=10s
t_start_collector run
RUN=$T_LAST_PID
t_wait_log "$T_DIR/run.log" 'msg="playbooks live"' 60 "$RUN"
t_wait_log "$T_DIR/run.log" 'msg="partition assigned"' 60 "$RUN"
"$B" produce --rate 4000 --brokers "$T_BROKER" --topic custos.interactions "$T_DIR/events.jsonl" \
    2>"$T_DIR/produce.log" || t_fail "produce: $(tail -n 3 "$T_DIR/produce.log")"
t_wait_count "$N" 300

t_wait_sql "SELECT status FROM api_keys WHERE key_id = '$KEY_J'" revoked 120
t_log "ok: $KEY_J revoked by the live chain"
inc=$(t_sql "SELECT incident_id FROM actions WHERE kind = 'revoke_key' AND subject = '$KEY_J'")
pb_expect "the revoke belongs to an analytics incident" \
    "$(t_sql "SELECT type FROM incidents WHERE incident_id = '$inc'")" probing

t_wait_sql "SELECT count(*) FROM actions WHERE kind = 'revoke_key' AND subject = '$KEY_X' AND state = 'pending_approval'" 1 120
pb_expect "gated key untouched" "$(t_sql "SELECT count(*) FROM api_keys WHERE key_id = '$KEY_X'")" 0
gid=$(t_sql "SELECT id FROM actions WHERE kind = 'revoke_key' AND subject = '$KEY_X'")
out=$("$B" actions approve "$gid" --actor e2e-analyst --log-level warn) || t_fail "approve: $out"
pb_expect "approved" "$out" "action $gid approved by e2e-analyst: done"
pb_expect "gated key revoked" "$(t_sql "SELECT status FROM api_keys WHERE key_id = '$KEY_X'")" revoked

kcat -C -b "$T_BROKER" -t custos.control -o beginning -e -q -f '%k\t%s\n' >"$T_DIR/control.out" 2>"$T_DIR/kcat.log" ||
    t_fail "kcat: $(cat "$T_DIR/kcat.log")"
for k in "$KEY_J" "$KEY_X"; do
    grep -q "^$k	.*\"kind\":\"revoke_key\"" "$T_DIR/control.out" || t_fail "no control message for $k"
done
python3 - "$PB_HOOK_LOG" "$KEY_J" "$KEY_X" <<'PY' || t_fail "webhook deliveries"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
rev = {r["body"]["subject"] for r in recs if r["path"] == "/hook" and r["status"] == 200 and r["sig_ok"]
       and r["body"]["kind"] == "revoke_key"}
assert set(sys.argv[2:]) <= rev, rev
assert all(r["sig_ok"] for r in recs if r["path"] == "/hook"), "an unsigned delivery"
PY
t_log "ok: control messages and signed webhooks for both keys"
# the running daemon reloads on `custos playbook reload` and on SIGHUP
n0=$(t_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'")
"$B" playbook reload --log-level warn >"$T_DIR/reload.out" || t_fail "reload: $(cat "$T_DIR/reload.out")"
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" $((n0 + 1)) 10
kill -HUP "$RUN"
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" $((n0 + 2)) 10
t_log "ok: custos run reloaded on NOTIFY and on SIGHUP"
kill -0 "$RUN" || t_fail "custos run died"
kill -TERM "$RUN"; wait "$RUN" || t_fail "custos run exited $? after SIGTERM"
"$B" audit verify --log-level warn || t_fail "audit chain"
t_log "PASS"
