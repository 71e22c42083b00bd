#!/usr/bin/env bash
# Replay equals live: the labelled scenario goes through the embedded broker
# (4 partitions, keyed by api_key_id) into `custos run`, whose live analytics
# store incidents in PostgreSQL; `custos analyze` over the same file must
# give exactly the same incidents (every field of every incident document).
# Every evidence link must point at a stored interactions row.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

PARTS=4
TOPIC=custos.interactions
RATE=${REPLAY_RATE:-4000}

# The scenario covers hours of event time in seconds of wall time, and runs
# with the default reorder window: the watermark (the least of the
# partitions' newest event times) is what absorbs the partitions' lag. On a
# loaded machine (sanitizers, parallel tests) a partition may deliver nothing
# for longer than the default 500 ms; give it 10 s before it stops counting.
export CUSTOS_ANALYTICS_PARTITION_IDLE_MS=10s

# Redaction at ingest on, both classes pseudonymised with one key file (made
# by whichever starts first): the stored rows hold tokens, the detectors see
# the original in both runs, and the leakage evidence's keyed hashes are the
# same live and in the replay.
export CUSTOS_COLLECTOR_REDACT_SECRETS=pseudonymise CUSTOS_COLLECTOR_REDACT_PERSONAL=pseudonymise
export CUSTOS_COLLECTOR_REDACT_KEY=$T_DIR/redact.key

"$CUSTOS_SCENGEN" --data "$CUSTOS_PROMPTS_DIR" --half test --seed 7 --hours 6 --keys 60 \
    --events "$T_DIR/events.jsonl" --labels "$T_DIR/labels.jsonl" 2>"$T_DIR/scengen.log"
N=$(wc -l <"$T_DIR/events.jsonl")

"$CUSTOS_BIN" analyze --log-level info "$T_DIR/events.jsonl" >"$T_DIR/replay.jsonl" 2>"$T_DIR/analyze.log"
# alerts that open no incident (a weak signature alone): the replay counts them
ALONE=$(grep -o 'msg="analyze done".* alerts_only=[0-9]*' "$T_DIR/analyze.log" | grep -o 'alerts_only=[0-9]*' | cut -d= -f2)
[ "${ALONE:-0}" -ge 1 ] || t_fail "the replay raised no alert without an incident: the scenario does not exercise them"
R=$(wc -l <"$T_DIR/replay.jsonl")
[ "$R" -ge 10 ] || t_fail "the replay found only $R incidents"
t_log "replay: $R incidents over $N events"

t_db
t_broker "$PARTS" "$TOPIC"
t_start_collector collector
COLL=$T_LAST_PID
t_wait_log "$T_DIR/collector.log" 'msg="live analytics started"' 60 "$COLL"
t_wait_log "$T_DIR/collector.log" 'msg="partition assigned"' 60 "$COLL"

"$CUSTOS_BIN" produce --rate "$RATE" --brokers "$T_BROKER" --topic "$TOPIC" \
    "$T_DIR/events.jsonl" 2>"$T_DIR/produce.log" || t_fail "produce: $(tail -n 3 "$T_DIR/produce.log")"
t_wait_count "$N" 300
# The analytics counters reach core/metrics: a stats line (every 10 s)
# reports analysed events, alerts and incidents. Waited for, not read at the
# stop: the analytics hold events for partition_idle_ms after start-up and
# may not have released any when the last event is stored.
t_wait_log "$T_DIR/collector.log" \
    'msg="stats" .* analyzed=[1-9][0-9]* alerts=[1-9][0-9]* incidents=[1-9]' 90 "$COLL"

# SIGTERM: the live analytics drain the queue, run the detectors over what
# the reorder window holds, close the incidents and store them.
kill -TERM "$COLL"
wait "$COLL" || t_fail "custos run exited $? after SIGTERM: $(tail -n 5 "$T_DIR/collector.log")"
grep 'msg="live analytics stopped"' "$T_DIR/collector.log" >&2 || t_fail "no stop summary"
# the prompt memo's hit rate, as custos analyze prints it (analytics.prompt_memo)
grep -q 'msg="live analytics stopped".* prompt_memo_hit_pct=[0-9][0-9.]*$' "$T_DIR/collector.log" ||
    t_fail "no prompt_memo_hit_pct in the stop summary"

# The replay's documents next to the stored ones, compared as jsonb.
t_sql "CREATE TABLE replay (doc jsonb NOT NULL)"
psql -X -q -v ON_ERROR_STOP=1 -d "$T_DSN" -c "\\copy replay (doc) FROM '$T_DIR/replay.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
[ "$(t_sql "SELECT count(*) FROM replay")" = "$R" ] || t_fail "could not load the replay"
L=$(t_sql "SELECT count(*) FROM incidents")
only_replay=$(t_sql "SELECT count(*) FROM replay r WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.doc = r.doc)")
only_live=$(t_sql "SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM replay r WHERE r.doc = i.doc)")
if [ "$only_replay" != 0 ] || [ "$only_live" != 0 ] || [ "$L" != "$R" ]; then
    t_sql "SELECT 'replay only: ' || r.doc::text FROM replay r WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.doc = r.doc) LIMIT 3" >&2
    t_sql "SELECT 'live only: ' || i.doc::text FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM replay r WHERE r.doc = i.doc) LIMIT 3" >&2
    t_fail "live stored $L incidents, replay found $R; $only_replay only in the replay, $only_live only live"
fi

# Evidence links resolve to interactions rows; alerts belong to incidents.
dangling=$(t_sql "SELECT count(*) FROM incident_events ie WHERE NOT EXISTS
                  (SELECT 1 FROM interactions x WHERE x.event_id = ie.event_id AND x.ts = ie.ts)")
[ "$dangling" = 0 ] || t_fail "$dangling evidence links point at no interactions row"
links=$(t_sql "SELECT count(*) FROM incident_events")
alerts=$(t_sql "SELECT count(*) FROM alerts")
[ "$links" -ge "$R" ] && [ "$alerts" -ge "$R" ] || t_fail "only $links links and $alerts alerts for $R incidents"
# live stored each of them once, without an incident
alone_live=$(t_sql "SELECT count(*) FROM alerts WHERE incident_id IS NULL")
[ "$alone_live" = "$ALONE" ] || t_fail "live stored $alone_live alerts without an incident, the replay raised $ALONE"
# closed at the stop, unless a playbook moved it on (contained, escalated)
still_open=$(t_sql "SELECT count(*) FROM incidents WHERE status = 'open'")
[ "$still_open" = 0 ] || t_fail "$still_open of $R incidents still open after the stop"
grep -q 'kafka_errors=0' "$T_DIR/collector.log" || t_fail "incidents not all published to Kafka"
# What other SIEMs read: the incidents topic holds every incident, and the
# final document of each is among its messages.
published=$(grep -o 'msg="live analytics stopped".* published=[0-9]*' "$T_DIR/collector.log" | grep -o 'published=[0-9]*' | cut -d= -f2)
kcat -C -b "$T_BROKER" -t custos.incidents -e -q -f '%k\t%s\n' >"$T_DIR/topic.tsv" 2>"$T_DIR/kcat.log" ||
    t_fail "cannot read the incidents topic: $(tail -n 3 "$T_DIR/kcat.log")"
[ "$(wc -l <"$T_DIR/topic.tsv")" = "$published" ] ||
    t_fail "the topic holds $(wc -l <"$T_DIR/topic.tsv") messages, $published were published"
t_sql "CREATE TABLE topic (k text, doc jsonb, n serial)"
cut -f2 "$T_DIR/topic.tsv" >"$T_DIR/topic.jsonl"
psql -X -q -v ON_ERROR_STOP=1 -d "$T_DSN" -c "\\copy topic (doc) FROM '$T_DIR/topic.jsonl' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
# (messages of one incident share a key, so one partition: their order holds)
stale=$(t_sql "SELECT count(*) FROM replay r WHERE NOT EXISTS (SELECT 1 FROM topic t WHERE t.doc = r.doc)")
[ "$stale" = 0 ] || t_fail "$stale final incident documents are missing from the topic"
# redaction: the scenario's leaked credentials are stored as tokens only,
# and the leakage incidents name them by keyed hash
leaked=$(grep -c 'AKIA[0-9A-Z]\{16\}' "$T_DIR/events.jsonl" || true)
[ "$leaked" -ge 1 ] || t_fail "the scenario leaks no AWS key: nothing to redact"
raw=$(t_sql "SELECT count(*) FROM interactions WHERE concat(prompt, response) ~ 'AKIA[0-9A-Z]{16}'")
[ "$raw" = 0 ] || t_fail "$raw stored rows hold an AWS key"
toks=$(t_sql "SELECT count(*) FROM interactions WHERE response ~ '\\[api_key:[0-9a-f]{12}\\]'")
[ "$toks" -ge 1 ] || t_fail "no stored response holds an api_key token"
hashed=$(t_sql "SELECT count(*) FROM incidents, jsonb_array_elements(doc->'evidence'->'values') v
                WHERE type = 'leakage' AND (v->>'keyed')::boolean AND v->>'hash' ~ '^[0-9a-f]{64}$'")
[ "$hashed" -ge 1 ] || t_fail "no leakage evidence names a value by keyed hash"
t_log "live == replay: $R incidents, $alerts alerts ($ALONE without an incident), $links evidence links, all published"
