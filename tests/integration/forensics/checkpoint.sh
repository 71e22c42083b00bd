#!/usr/bin/env bash
# Signed audit checkpoints: `custos run` signs the chain's head every
# audit.checkpoint_interval_ms (1 s here) and again once the head moved;
# `custos audit verify` checks them. Then rows are cut off the end of the
# chain with the head set back to match, as someone with the database's
# superuser would: the chain alone still holds, the checkpoints show the
# cut. A forged checkpoint and a checkpoint checked against another key are
# named too.
. "$(dirname "$0")/../../lib/env.sh"

C="$CUSTOS_BIN"
t_db
export CUSTOS_AUDIT_SIGNING_KEY="$T_DIR/signing.key" CUSTOS_AUDIT_CHECKPOINT_INTERVAL_MS=1s
export CUSTOS_COLLECTOR_ANALYTICS=off CUSTOS_WEB_ENABLED=off
"$C" keys init >/dev/null
"$C" keys public >"$T_DIR/pub.txt"
for i in 1 2 3; do "$C" token create --role viewer --name "t$i" >/dev/null 2>&1; done

t_broker 1
t_start run "$C" run
RUN=$T_LAST_PID
head_seq() { t_sql "SELECT seq FROM audit_head"; }
H=$(head_seq)
t_wait_sql "SELECT count(*) > 0 FROM audit_checkpoints WHERE seq = $H" t 60
# The head moves: the next checkpoint covers the new head.
for i in 4 5 6; do "$C" token create --role viewer --name "t$i" >/dev/null 2>&1; done
H2=$(head_seq)
t_wait_sql "SELECT count(*) > 0 FROM audit_checkpoints WHERE seq = $H2" t 60
grep -q 'msg="audit checkpoint signed"' "$T_DIR/run.log" || t_fail "no checkpoint logged"
kill -TERM "$RUN"; wait "$RUN" || t_fail "custos run exited $?"
# No new rows: no new checkpoint.
n=$(t_sql "SELECT count(*) FROM audit_checkpoints")
"$C" audit checkpoint | grep -q "no new rows since the last checkpoint" || t_fail "a checkpoint of an unmoved head"
[ "$(t_sql "SELECT count(*) FROM audit_checkpoints")" = "$n" ] || t_fail "a checkpoint was written for an unmoved head"

"$C" audit verify --pubkey "$T_DIR/pub.txt" >"$T_DIR/verify.out" || t_fail "verify: $(cat "$T_DIR/verify.out")"
grep -q "audit chain verifies: $H2 rows; $n signed checkpoints hold, the newest covers row $H2" "$T_DIR/verify.out" \
    || t_fail "verify said: $(cat "$T_DIR/verify.out")"

# Another key: the checkpoints were not signed by it.
CUSTOS_AUDIT_SIGNING_KEY="$T_DIR/other.key" "$C" keys init >/dev/null
CUSTOS_AUDIT_SIGNING_KEY="$T_DIR/other.key" "$C" keys public >"$T_DIR/other.pub"
H3=$(head_seq)
"$C" audit checkpoint >/dev/null
set +e
"$C" audit verify --pubkey "$T_DIR/other.pub" >"$T_DIR/v1.out"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "was signed by key $(awk '{print $3}' "$T_DIR/pub.txt"), not by the given key $(awk '{print $3}' "$T_DIR/other.pub")" "$T_DIR/v1.out" \
    || t_fail "another key: rc $rc, $(cat "$T_DIR/v1.out")"

# ---- cut the last two rows off, the head set back to match ----
keep=$((H3 - 2))
t_sql "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;
       DELETE FROM audit_log WHERE seq > $keep;
       ALTER TABLE audit_log ENABLE TRIGGER audit_log_append_only;
       UPDATE audit_head SET seq = $keep, hash = (SELECT hash FROM audit_log WHERE seq = $keep)"
set +e
"$C" audit verify --pubkey "$T_DIR/pub.txt" >"$T_DIR/v2.out"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "covers row $((keep + 1)), but the log ends at row $keep: rows were cut off the end of the chain" "$T_DIR/v2.out" \
    || t_fail "the cut was not caught: rc $rc, $(cat "$T_DIR/v2.out")"

# ---- a forged checkpoint (a fresh database): signature does not verify ----
t_db
"$C" token create --role viewer --name f1 >/dev/null 2>&1
"$C" audit checkpoint >/dev/null
t_sql "ALTER TABLE audit_checkpoints DISABLE TRIGGER audit_checkpoints_append_only;
       UPDATE audit_checkpoints SET ts_us = ts_us + 1;
       ALTER TABLE audit_checkpoints ENABLE TRIGGER audit_checkpoints_append_only"
set +e
"$C" audit verify --pubkey "$T_DIR/pub.txt" >"$T_DIR/v3.out"; rc=$?
set -e
[ "$rc" = 1 ] && grep -q "the signature does not verify (the checkpoint was altered or forged)" "$T_DIR/v3.out" \
    || t_fail "a forged checkpoint: rc $rc, $(cat "$T_DIR/v3.out")"
t_log "ok: checkpoints signed by custos run, the cut tail, another key and a forged checkpoint caught"
