#!/usr/bin/env bash
# The live side (pb_live, run here by `custos playbook serve`): incidents in,
# hostile playbooks killed while the daemon lives and the others act, ttl
# auto-revert by the timer (recorded, LiteLLM unblocked), reload through
# `custos playbook reload` (NOTIFY) and SIGHUP, a broken file refused with
# its line while the old version keeps working.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
pb_hook_server litellm --token sk-admin-t0ken
export CUSTOS_EFFECTORS_CONTROL=off CUSTOS_PLAYBOOKS_TICK_MS=200 CUSTOS_LOG_ERROR_INTERVAL_MS=0
# The hostile playbooks must be stopped by their instruction and memory caps
# (what is checked below), not by the clock: at the default 1 s deadline a
# loaded machine reached the deadline first.
export CUSTOS_SECURITY_LUA_DEADLINE_MS=20s
export CUSTOS_EFFECTORS_LITELLM_URL=http://127.0.0.1:$PB_HOOK_PORT CUSTOS_EFFECTORS_LITELLM_TOKEN=sk-admin-t0ken
pbdir=$T_DIR/pb; mkdir -p "$pbdir"; export CUSTOS_PLAYBOOKS_DIR=$pbdir
cat >"$pbdir/aaa_evil.lua" <<'LUA'
return { name = "aaa-evil", on = { types = "*" }, run = function(incident)
  while true do pcall(function() while true do end end) end
end }
LUA
cat >"$pbdir/aab_hog.lua" <<'LUA'
return { name = "aab-hog", on = { types = "*" }, run = function(incident)
  local t = {} for i = 1, 1e9 do t[i] = string.rep("x", 64) .. i end
end }
LUA
cat >"$pbdir/revoke_ttl.lua" <<'LUA'
return { name = "revoke-ttl", on = { types = { "extraction" } }, run = function(incident)
  custos.revoke_key(incident.subject.api_key_id, { ttl = 2 })
end }
LUA
cat >"$pbdir/throttle_ttl.lua" <<'LUA'
return { name = "throttle-ttl", on = { types = { "probing" } }, run = function(incident)
  custos.throttle_key(incident.subject.api_key_id, { rps = 5, ttl = 2 })
end }
LUA
mkfifo "$T_DIR/in"
exec 3<>"$T_DIR/in" # read-write: opening does not block
# (an explicit < on the background command itself: a background job
# otherwise reads /dev/null)
"$B" playbook serve --log-level info <&3 >"$T_DIR/serve.out" 2>"$T_DIR/serve.log" &
SERVE=$!
T_PIDS+=("$SERVE")
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" 1 20

pb_incident "$PB_DATA/extraction_high.json" inc-live-1 key-live-1 >&3
t_wait_sql "SELECT status FROM api_keys WHERE key_id = 'key-live-1'" revoked 20
kill -0 "$SERVE" || t_fail "daemon died"
grep -q 'playbook="aaa-evil".*class=instructions' "$T_DIR/serve.log" || t_fail "evil run not reported: $(tail "$T_DIR/serve.log")"
grep -q 'playbook="aab-hog".*class=memory' "$T_DIR/serve.log" || t_fail "hog run not reported: $(tail "$T_DIR/serve.log")"
t_log "ok: hostile playbooks killed, revoke-ttl acted, daemon alive"

# the ttl runs out: restored by the timer, recorded, LiteLLM told
t_wait_sql "SELECT status FROM api_keys WHERE key_id = 'key-live-1'" active 15
rev=$(t_sql "SELECT id FROM actions WHERE kind = 'revoke_key' AND subject = 'key-live-1'")
pb_expect "restore recorded" "$(t_sql "SELECT kind || ' ' || state || ' ' || actor FROM actions WHERE revert_of = $rev")" \
    "restore_key done auto-revert"
t_wait_sql "SELECT reverted_at IS NOT NULL FROM actions WHERE id = $rev" t 5
pb_expect "revert audited" "$(t_sql "SELECT actor FROM audit_log WHERE action_id = $rev AND event = 'reverted'")" auto-revert
grep -q '"path": "/key/unblock".*"key": "key-live-1"' "$PB_HOOK_LOG" || t_fail "no /key/unblock: $(cat "$PB_HOOK_LOG")"
grep -q '"path": "/key/block".*"key": "key-live-1"' "$PB_HOOK_LOG" || t_fail "no /key/block"

pb_incident "$PB_DATA/probing_medium.json" inc-live-2 key-live-2 >&3
t_wait_sql "SELECT throttle_rps FROM api_keys WHERE key_id = 'key-live-2'" 5 20
t_wait_sql "SELECT coalesce(throttle_rps::text, 'none') FROM api_keys WHERE key_id = 'key-live-2'" none 15
pb_expect "unthrottle recorded" "$(t_sql "SELECT kind || ' ' || state FROM actions WHERE revert_of IS NOT NULL AND subject = 'key-live-2'")" \
    "unthrottle_key done"

# reload through PostgreSQL: a new version of revoke-ttl
cat >"$pbdir/revoke_ttl.lua" <<'LUA'
return { name = "revoke-ttl", on = { types = { "extraction" } }, run = function(incident)
  custos.revoke_key(incident.subject.api_key_id, { reason = "v2" })
end }
LUA
"$B" playbook reload --log-level warn >"$T_DIR/reload.out" || t_fail "reload: $(cat "$T_DIR/reload.out")"
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" 2 10
pb_incident "$PB_DATA/extraction_high.json" inc-live-3 key-live-3 >&3
t_wait_sql "SELECT reason FROM api_keys WHERE key_id = 'key-live-3'" v2 20

# a broken file is refused with its line; the old version keeps working
printf 'return { name = "revoke-ttl", on = { types = { "extraction" } },\n run = function(incident)\n  custos.revoke_key(incident.subject.api_key_id, { reason = "v3" }\nend }\n' \
    >"$pbdir/revoke_ttl.lua"
if "$B" playbook reload --log-level warn >"$T_DIR/reload2.out" 2>&1; then t_fail "broken reload reported success"; fi
grep -q "revoke_ttl.lua:4:" "$T_DIR/reload2.out" || t_fail "no line in the CLI report: $(cat "$T_DIR/reload2.out")"
t_wait_sql "SELECT count(*) FROM audit_log WHERE event = 'playbooks_reloaded'" 3 10
pb_expect "refusal audited with its line" \
    "$(t_sql "SELECT (r->>'error') LIKE '%revoke_ttl.lua:4:%' AND (r->>'kept_previous')::boolean FROM audit_log, json_array_elements(detail::json->'refused') r WHERE event = 'playbooks_reloaded' AND seq = (SELECT max(seq) FROM audit_log WHERE event = 'playbooks_reloaded')")" t
pb_incident "$PB_DATA/extraction_high.json" inc-live-4 key-live-4 >&3
t_wait_sql "SELECT reason FROM api_keys WHERE key_id = 'key-live-4'" v2 20

# the daemon's connection is killed: the incident is kept, the connection
# comes back, the incident is handled
t_sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database()
       AND application_name = 'custos' AND pid <> pg_backend_pid()" >/dev/null
pb_incident "$PB_DATA/extraction_high.json" inc-live-5 key-live-5 >&3
t_wait_sql "SELECT status FROM api_keys WHERE key_id = 'key-live-5'" revoked 30
grep -q 'msg="reconnected to PostgreSQL"' "$T_DIR/serve.log" || t_fail "no reconnection logged"
t_log "ok: connection lost and back, incident handled"

# SIGHUP reloads as well
kill -HUP "$SERVE"
t_wait_sql "SELECT count(*) >= 4 FROM audit_log WHERE event = 'playbooks_reloaded'" t 10
kill -0 "$SERVE" || t_fail "daemon died"
exec 3>&-
kill -TERM "$SERVE"
for _ in $(seq 50); do kill -0 "$SERVE" 2>/dev/null || break; sleep 0.1; done
kill -0 "$SERVE" 2>/dev/null && t_fail "serve did not stop on SIGTERM"
grep -q 'msg="playbooks stopped".*blocked=0 memory=[1-9].*instructions=[1-9]' "$T_DIR/serve.log" ||
    t_fail "no stop summary counting the killed runs: $(tail -n 2 "$T_DIR/serve.log")"
"$B" audit verify --log-level warn || t_fail "audit chain"
t_log "PASS"
