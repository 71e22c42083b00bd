#!/usr/bin/env bash
# /readyz reports each check: database, schema and the consumer. Under
# custos run (the collector in the same process, on the embedded broker) the
# consumer check is "ok" with the partitions it holds, as the log says they
# were assigned; under custos web alone it is "not_applicable"; a schema
# behind makes the answer 503 with that check failed and the others still
# reported. (health.sh covers the rest of /readyz.)
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

PARTS=3
t_db
t_broker "$PARTS"
W_PORT=$(t_free_port)
W_BASE="http://127.0.0.1:$W_PORT"
t_start run env CUSTOS_WEB_ENABLED=on CUSTOS_WEB_LISTEN="127.0.0.1:$W_PORT" "$CUSTOS_BIN" run --log-level info
RUN=$T_LAST_PID
# Ready once the partitions are assigned (progress: the log line, then the answer).
deadline=$((SECONDS + 120))
until [ "$(grep -c 'msg="partition assigned"' "$T_DIR/run.log" 2>/dev/null)" -ge "$PARTS" ]; do
    kill -0 "$RUN" 2>/dev/null || t_fail "custos run exited: $(tail -5 "$T_DIR/run.log")"
    [ "$SECONDS" -lt "$deadline" ] || t_fail "no assignment within 120 s: $(tail -5 "$T_DIR/run.log")"
    sleep 0.1
done
until w_req GET /readyz && [ "$W_STATUS" = 200 ]; do
    kill -0 "$RUN" 2>/dev/null || t_fail "custos run exited: $(tail -5 "$T_DIR/run.log")"
    [ "$SECONDS" -lt "$deadline" ] || t_fail "/readyz not 200 within 120 s: $W_STATUS $(cat "$W_BODY")"
    sleep 0.1
done
[ "$(w_json '["status"]')" = ready ] || t_fail "readyz: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["database"]["status"]')" = ok ] || t_fail "database check: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["schema"]["status"]')" = ok ] || t_fail "schema check: $(cat "$W_BODY")"
want=$(t_sql 'SELECT max(version) FROM schema_migrations')
[ "$(w_json '["checks"]["schema"]["version"]')" = "$want" ] || t_fail "schema version: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["consumer"]["status"]')" = ok ] || t_fail "consumer check: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["consumer"]["partitions"]')" = "$PARTS" ] || t_fail "partitions: $(cat "$W_BODY")"
curl -s -o "$T_DIR/metrics" "$W_BASE/metrics"
grep -q "^custos_consumer_partitions_assigned $PARTS\$" "$T_DIR/metrics" ||
    t_fail "custos_consumer_partitions_assigned is not $PARTS"
kill -TERM "$RUN"
wait "$RUN" || t_fail "custos run exited $? after SIGTERM"

# custos web alone: no consumer here.
for r in viewer; do w_user "$r" "$r"; done
w_start
w_req GET /readyz
w_expect 200
[ "$(w_json '["checks"]["consumer"]["status"]')" = not_applicable ] || t_fail "consumer under custos web: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["database"]["status"]')" = ok ] || t_fail "database check"

# Schema behind: 503 not_ready, the schema check failed, the others said.
t_sql "CREATE TABLE t_saved AS SELECT * FROM schema_migrations WHERE version = $want;
       DELETE FROM schema_migrations WHERE version = $want" >/dev/null
behind=$(t_sql "SELECT max(version) FROM schema_migrations")
w_req GET /readyz
w_expect 503 not_ready
[ "$(w_json '["checks"]["schema"]["status"]')" = failed ] || t_fail "schema check: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["schema"]["version"]')" = "$behind" ] || t_fail "schema version behind ($behind): $(cat "$W_BODY")"
[ "$(w_json '["checks"]["schema"]["want"]')" = "$want" ] || t_fail "schema want: $(cat "$W_BODY")"
[ "$(w_json '["checks"]["database"]["status"]')" = ok ] || t_fail "database check while behind"
[ "$(w_json '["checks"]["consumer"]["status"]')" = not_applicable ] || t_fail "consumer check while behind"
t_sql "INSERT INTO schema_migrations SELECT * FROM t_saved; DROP TABLE t_saved" >/dev/null
w_req GET /readyz
w_expect 200
w_stop
t_log "PASS: readyz checks under custos run ($PARTS partitions) and custos web, schema behind"
