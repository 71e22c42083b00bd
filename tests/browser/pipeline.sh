#!/usr/bin/env bash
# The console over incidents the real pipeline made: `custos gen --attacks`
# through the embedded broker into `custos run` (detectors, incidents,
# playbooks), then `custos web` over that database and chromium
# (pipeline.mjs): the queue shows what psql holds, an incident's timeline its
# rows, a revealed prompt the stored one. Screenshots in tests/browser/artifacts/.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"
. "$(dirname "$0")/../integration/web/lib/web.sh"
. "$(dirname "$0")/lib.sh"
b_npm_install

HERE=$CUSTOS_SOURCE_DIR/tests/browser
N=20000
export CUSTOS_ANALYTICS_PARTITION_IDLE_MS=5s CUSTOS_EFFECTORS_CONTROL=off

t_db
t_broker 2 custos.interactions
"$CUSTOS_BIN" gen --count "$N" --seed 3 --attacks --eps 200 >"$T_DIR/events.jsonl"
t_start_collector collector
coll=$T_LAST_PID
t_wait_log "$T_DIR/collector.log" 'msg="partition assigned"' 60 "$coll"
"$CUSTOS_BIN" produce --rate 4000 --brokers "$T_BROKER" --topic custos.interactions \
    "$T_DIR/events.jsonl" >/dev/null 2>"$T_DIR/produce.log" || t_fail "produce failed"
t_wait_count "$N" 300
# The detectors close their windows on idle partitions: wait for incidents
# to stop arriving (progress, not a clock), then stop the daemon.
last=-1 since=$SECONDS
while [ $((SECONDS - since)) -lt 8 ]; do
    n=$(t_sql "SELECT count(*) FROM incidents")
    if [ "$n" != "$last" ]; then last=$n; since=$SECONDS; fi
    sleep 0.5
done
kill -TERM "$coll"
wait "$coll" || t_fail "custos run exited $? after SIGTERM"
[ "$last" -ge 2 ] || t_fail "the pipeline opened only $last incidents: $(tail -5 "$T_DIR/collector.log")"
t_log "the pipeline opened $last incidents"

for r in analyst viewer; do w_user "$r" "$r"; done
w_start
mkdir -p "$HERE/artifacts"
BASE=$W_BASE PW=$W_PW ART=$HERE/artifacts DSN=$T_DSN \
    node "$HERE/pipeline.mjs" 2>&1 | tee "$T_DIR/node.log" >&2 ||
    t_fail "the browser test failed (server log: $T_DIR/web.log)"
grep -q '^BROWSER PASS' "$T_DIR/node.log" || t_fail "the browser test did not finish"
w_stop
t_log "PASS: the console over the pipeline's $last incidents"
