#!/usr/bin/env bash
# Actions and the audit chain against a real PostgreSQL: the registry
# effector revokes the key (read back with psql), the same incident again
# is the same action (idempotent), every transition is audited, the chain
# verifies, and tampering (an altered row, a cut tail, a forged row) is
# found and named by `custos audit verify`.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/pb.sh"
B=$CUSTOS_BIN
t_db
export CUSTOS_EFFECTORS_CONTROL=off

"$B" playbook apply --incident "$PB_DATA/extraction_high.json" --log-level warn >"$T_DIR/apply1.out" 2>"$T_DIR/apply1.log" ||
    t_fail "apply failed: $(cat "$T_DIR/apply1.out" "$T_DIR/apply1.log")"
pb_expect "key revoked" "$(t_sql "SELECT status || ' ' || (revoked_at IS NOT NULL) FROM api_keys WHERE key_id = 'key-attacker-1'")" "revoked true"
pb_expect "revoke action done" "$(t_sql "SELECT state FROM actions WHERE kind = 'revoke_key'")" done
pb_expect "registry row names the action" "$(t_sql "SELECT a.id = k.action_id FROM api_keys k JOIN actions a ON a.kind = 'revoke_key'")" t
pb_expect "revoke transitions audited" \
    "$(t_sql "SELECT string_agg(event, ',' ORDER BY seq) FROM audit_log WHERE action_id = (SELECT id FROM actions WHERE kind = 'revoke_key')")" \
    "proposed,approved,executing,done"
pb_expect "incident marked contained" "$(t_sql "SELECT status FROM incident_updates WHERE status IS NOT NULL")" contained

# the same incident again (an update): the same actions, not new ones
"$B" playbook apply --incident "$PB_DATA/extraction_high.json" --log-level warn >/dev/null 2>"$T_DIR/apply2.log" ||
    t_fail "second apply failed: $(cat "$T_DIR/apply2.log")"
pb_expect "deliveries" "$(t_sql "SELECT deliveries FROM incident_deliveries")" 2
pb_expect "actions after the update" "$(t_sql "SELECT count(*) FROM actions")" 3
pb_expect "revoke actions" "$(t_sql "SELECT count(*) FROM actions WHERE kind = 'revoke_key'")" 1

# dry run, global switch: recorded with what would have happened, nothing changed
pb_incident "$PB_DATA/extraction_high.json" inc-dry key-dry >"$T_DIR/dry.json"
CUSTOS_PLAYBOOKS_DRY_RUN=on "$B" playbook apply --incident "$T_DIR/dry.json" --log-level warn >/dev/null 2>&1 || t_fail "dry apply"
pb_expect "dry-run states" "$(t_sql "SELECT string_agg(DISTINCT state, ',') FROM actions WHERE incident_id = 'inc-dry'")" dry_run
pb_expect "dry-run would" "$(t_sql "SELECT result->>'would' FROM actions WHERE incident_id = 'inc-dry' AND kind = 'revoke_key'")" \
    "revoke key key-dry (effectors: registry)"
pb_expect "dry run changed nothing" "$(t_sql "SELECT count(*) FROM api_keys WHERE key_id = 'key-dry'")" 0
# ... and per playbook (dry_run = true in its declaration)
mkdir -p "$T_DIR/pb"
sed 's/^  name = "revoke-extraction",/  name = "revoke-extraction", dry_run = true,/' \
    "$CUSTOS_SOURCE_DIR/playbooks/revoke_extraction.lua" >"$T_DIR/pb/revoke_extraction.lua"
grep -q "dry_run = true" "$T_DIR/pb/revoke_extraction.lua" || t_fail "could not make the dry-run playbook"
pb_incident "$PB_DATA/extraction_high.json" inc-dry2 key-dry2 >"$T_DIR/dry2.json"
CUSTOS_PLAYBOOKS_DIR=$T_DIR/pb "$B" playbook apply --incident "$T_DIR/dry2.json" --log-level warn >/dev/null 2>&1 || t_fail "dry apply 2"
pb_expect "per-playbook dry run" "$(t_sql "SELECT state FROM actions WHERE incident_id = 'inc-dry2' AND kind = 'revoke_key'")" dry_run
pb_expect "key untouched" "$(t_sql "SELECT count(*) FROM api_keys WHERE key_id = 'key-dry2'")" 0

# concurrent writers (four processes at once) still make one chain
for i in 1 2 3 4; do
    pb_incident "$PB_DATA/extraction_high.json" "inc-par-$i" "key-par-$i" >"$T_DIR/par$i.json"
done
for i in 1 2 3 4; do
    "$B" playbook apply --incident "$T_DIR/par$i.json" --log-level warn >/dev/null 2>"$T_DIR/par$i.log" &
    pids[$i]=$!
done
for i in 1 2 3 4; do wait "${pids[$i]}" || t_fail "parallel apply $i: $(cat "$T_DIR/par$i.log")"; done
pb_expect "parallel revokes" "$(t_sql "SELECT count(*) FROM api_keys WHERE key_id LIKE 'key-par-%' AND status = 'revoked'")" 4
pb_expect "no gaps in the chain" "$(t_sql "SELECT max(seq) = count(*) FROM audit_log")" t
"$B" audit verify --log-level warn || t_fail "the chain broke under concurrent writers"

rows=$(t_sql "SELECT count(*) FROM audit_log")
out=$("$B" audit verify --log-level warn) || t_fail "verify failed on a clean chain: $out"
pb_expect "verify" "$out" "audit chain verifies: $rows rows"

# append-only: the trigger refuses changes
if t_sql "UPDATE audit_log SET actor = 'x' WHERE seq = 3" 2>/dev/null; then t_fail "audit_log UPDATE allowed"; fi
if t_sql "DELETE FROM audit_log WHERE seq = 3" 2>/dev/null; then t_fail "audit_log DELETE allowed"; fi

# a superuser goes around the trigger: verify names the first altered row
t_sql "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only"
seq=$(t_sql "SELECT min(seq) FROM audit_log WHERE event = 'proposed' AND detail LIKE '%key-attacker-1%'")
t_sql "UPDATE audit_log SET detail = replace(detail, 'key-attacker-1', 'key-innocent') WHERE seq = $seq"
if out=$("$B" audit verify --log-level warn); then t_fail "altered row not found: $out"; fi
echo "$out" | grep -q "BROKEN at row $seq: hash does not match" || t_fail "wrong verdict: $out"
t_log "ok: altered row -> $out"
t_sql "UPDATE audit_log SET detail = replace(detail, 'key-innocent', 'key-attacker-1') WHERE seq = $seq"
"$B" audit verify --log-level warn >/dev/null || t_fail "restored chain does not verify"

# rows cut off the end
t_sql "DELETE FROM audit_log WHERE seq >= $((rows - 1))"
if out=$("$B" audit verify --log-level warn); then t_fail "cut tail not found: $out"; fi
echo "$out" | grep -q "BROKEN at row $((rows - 1)): the chain head says row $rows" || t_fail "wrong verdict: $out"
t_log "ok: cut tail -> $out"

# a forged row in the middle (re-hashed by someone without the chain)
t_sql "UPDATE audit_log SET ts = ts + interval '1 hour' WHERE seq = 2"
if out=$("$B" audit verify --log-level warn); then t_fail "moved timestamp not found: $out"; fi
echo "$out" | grep -q "BROKEN at row 2: ts does not match" || t_fail "wrong verdict: $out"
t_log "ok: moved timestamp -> $out"
t_sql "UPDATE audit_log SET ts = ts - interval '1 hour' WHERE seq = 2"
t_sql "UPDATE audit_log SET seq = seq + 100 WHERE seq = 3"
if out=$("$B" audit verify --log-level warn); then t_fail "missing row not found: $out"; fi
echo "$out" | grep -q "BROKEN at row 4: expected row 3, found 4" || t_fail "wrong verdict: $out"
t_log "ok: removed row -> $out"
t_log "PASS"
