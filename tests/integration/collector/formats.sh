#!/usr/bin/env bash
# One traffic, four encodings: the labelled scenario (scengen, native JSON)
# and the same events as LiteLLM StandardLoggingPayloads, OTLP/JSON and
# OTLP protobuf export requests (custos gen --from --format) go through the
# embedded broker, each on its own topic read in its format (kafka.topics
# "topic=FORMAT"), into `custos run` and a database of their own. Each must
# store the same rows (OTLP event ids are trace + span ids; the native id
# travels in gen_ai.response.id and is compared through it) and open the
# same incidents (compared without incident_id, which hashes the event id);
# and `custos analyze --format F` over the same file must give exactly the
# incidents live stored (replay equals live, per format). Nothing is
# dead-lettered; the offsets reach the broker's watermarks.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

PARTS=4
export CUSTOS_ANALYTICS_PARTITION_IDLE_MS=10s # as replay_equals_live.sh: a loaded machine

"$CUSTOS_SCENGEN" --data "$CUSTOS_PROMPTS_DIR" --half test --seed 7 --hours 6 --keys 50 \
    --events "$T_DIR/scenario.jsonl" --labels "$T_DIR/labels.jsonl" 2>"$T_DIR/scengen.log"
# its first 14000 events (about 2 hours of event time, some 26 incidents):
# four encodings of 42000 would take minutes on a loaded machine
head -n 14000 "$T_DIR/scenario.jsonl" >"$T_DIR/in.native"
N=$(wc -l <"$T_DIR/in.native")
declare -A GEN
for f in litellm otlp_json otlp_proto; do
    "$CUSTOS_BIN" gen --from "$T_DIR/in.native" --format "$f" >"$T_DIR/in.$f" &
    GEN[$f]=$!
done
for f in litellm otlp_json otlp_proto; do
    wait "${GEN[$f]}" || t_fail "custos gen --from --format $f failed"
done
t_log "$N events; bytes: $(wc -c "$T_DIR"/in.* | head -n 4 | awk '{printf "%s=%s ", $2, $1}' | sed "s|$T_DIR/in.||g")"

# the embedded broker with one topic per format (t_broker makes one)
"$CUSTOS_BIN" broker --partitions "$PARTS" --topic fmt.native --topic fmt.litellm \
    --topic fmt.otlp_json --topic fmt.otlp_proto >"$T_DIR/broker.out" 2>"$T_DIR/broker.log" &
T_PIDS+=("$!")
for _ in $(seq 100); do
    T_BROKER=$(head -n1 "$T_DIR/broker.out" 2>/dev/null || true)
    [ -n "$T_BROKER" ] && break
    sleep 0.1
done
[ -n "$T_BROKER" ] || t_fail "broker did not start: $(cat "$T_DIR/broker.log")"
export CUSTOS_KAFKA_BROKERS=$T_BROKER

# The four formats run side by side, each with its own database, consumer
# group and collector; each topic is paced as if alone (below), so the
# broker's retention sees the same traffic per topic as one at a time.
declare -A DSN PID PROD
for f in native litellm otlp_json otlp_proto; do
    t_db
    DSN[$f]=$T_DSN
    # the topic's format from its kafka.topics entry; collector.format stays native
    t_start_collector "run.$f" CUSTOS_KAFKA_TOPICS="fmt.$f=$f" CUSTOS_KAFKA_GROUP="fmt-$f"
    PID[$f]=$T_LAST_PID
done
for f in native litellm otlp_json otlp_proto; do
    t_wait_log "$T_DIR/run.$f.log" 'msg="partition assigned"' 60 "${PID[$f]}"
done
for f in native litellm otlp_json otlp_proto; do
    # messages a second: 700 events/s (an OTLP request holds up to 16).
    # The embedded broker keeps ~5 MiB a partition and drops older data: at
    # 700 events/s the largest encoding (OTLP/JSON, ~2.9 kB an event) is
    # ~2 MB/s over 4 partitions, so a collector up to ~10 s behind (a busy
    # machine; OTLP/JSON decodes at a few thousand events/s there) loses
    # nothing, and the busiest key's partition (LiteLLM messages are keyed)
    # still has seconds of slack.
    rate=700
    case $f in otlp_*) rate=44 ;; esac
    "$CUSTOS_BIN" produce --rate "$rate" --linger-ms 20 --brokers "$T_BROKER" --topic "fmt.$f" --format "$f" \
        "$T_DIR/in.$f" 2>"$T_DIR/produce.$f.log" &
    PROD[$f]=$!
    T_PIDS+=("$!")
done
for f in native litellm otlp_json otlp_proto; do
    wait "${PROD[$f]}" || t_fail "produce $f: $(tail -n 3 "$T_DIR/produce.$f.log")"
done

for f in native litellm otlp_json otlp_proto; do
    T_DSN=${DSN[$f]}
    pid=${PID[$f]}
    t_wait_count "$N" 300
    t_wait_log "$T_DIR/run.$f.log" 'msg="stats" .* analyzed=[1-9][0-9]* alerts=[1-9][0-9]* incidents=[1-9]' 90 "$pid"
    kill -TERM "$pid"
    wait "$pid" || t_fail "custos run ($f) exited $? after SIGTERM: $(tail -n 5 "$T_DIR/run.$f.log")"
    rej=$(t_sql "SELECT count(*) FROM rejected_events")
    [ "$rej" = 0 ] || t_fail "$f: $rej dead letters: $(t_sql "SELECT reason FROM rejected_events LIMIT 2")"
    msgs=$(grep -c . "$T_DIR/in.$f" 2>/dev/null || true)
    t_check_offsets "fmt.$f" "$PARTS" "fmt-$f"
    case $f in otlp_proto) ;; *) [ "$T_HWM_SUM" = "$msgs" ] || t_fail "$f: $T_HWM_SUM messages on the broker, $msgs in the file" ;; esac

    # replay equals live for this format
    "$CUSTOS_BIN" analyze --format "$f" "$T_DIR/in.$f" >"$T_DIR/replay.$f" 2>"$T_DIR/analyze.$f.log" ||
        t_fail "analyze --format $f: $(tail -n 3 "$T_DIR/analyze.$f.log")"
    R=$(wc -l <"$T_DIR/replay.$f")
    [ "$R" -ge 10 ] || t_fail "$f: the replay found only $R incidents"
    grep -q "offset gap" "$T_DIR/run.$f.log" && t_fail "$f: the broker dropped messages (offset gap): the collector fell behind"
    t_sql "CREATE TABLE replay (doc jsonb NOT NULL)"
    psql -X -q -v ON_ERROR_STOP=1 -d "$T_DSN" -c "\\copy replay (doc) FROM '$T_DIR/replay.$f' WITH (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"
    L=$(t_sql "SELECT count(*) FROM incidents")
    diff_n=$(t_sql "SELECT (SELECT count(*) FROM replay r WHERE NOT EXISTS (SELECT 1 FROM incidents i WHERE i.doc = r.doc))
                         + (SELECT count(*) FROM incidents i WHERE NOT EXISTS (SELECT 1 FROM replay r WHERE r.doc = i.doc))")
    [ "$diff_n" = 0 ] && [ "$L" = "$R" ] || t_fail "$f: live stored $L incidents, replay found $R, $diff_n differ"

    # what the formats must agree on, with the native event id
    idexpr="event_id"
    case $f in otlp_*) idexpr="attrs->>'gen_ai.response.id'" ;; esac
    t_sql "COPY (SELECT $idexpr, ts, api_key_id, model, model_version, tenant, user_id, session_id,
                        client_ip, prompt, response, prompt_truncated, response_truncated,
                        prompt_tokens, completion_tokens, latency_ms, status, finish_reason,
                        refusal, scores
                   FROM interactions ORDER BY ($idexpr) COLLATE \"C\") TO STDOUT" >"$T_DIR/rows.$f"
    t_sql "COPY (SELECT (i.doc - 'incident_id') || CASE WHEN i.doc->'evidence' ? 'event_ids' THEN
                        jsonb_build_object('evidence', (i.doc->'evidence') || jsonb_build_object('event_ids',
                          (SELECT jsonb_agg(coalesce((SELECT $idexpr FROM interactions x WHERE x.event_id = e.id LIMIT 1), e.id) ORDER BY e.n)
                             FROM jsonb_array_elements_text(i.doc->'evidence'->'event_ids') WITH ORDINALITY e(id, n))))
                        ELSE '{}'::jsonb END
                   FROM incidents i ORDER BY 1) TO STDOUT" | sort >"$T_DIR/incidents.$f"
    t_log "$f: $N rows, $L incidents (= replay), offsets at the watermarks, no dead letter"
done

for f in litellm otlp_json otlp_proto; do
    cmp -s "$T_DIR/rows.native" "$T_DIR/rows.$f" ||
        t_fail "$f rows differ from native: $(diff "$T_DIR/rows.native" "$T_DIR/rows.$f" | head -c 600)"
    cmp -s "$T_DIR/incidents.native" "$T_DIR/incidents.$f" ||
        t_fail "$f incidents differ from native: $(diff "$T_DIR/incidents.native" "$T_DIR/incidents.$f" | head -c 600)"
done
[ "$(wc -l <"$T_DIR/rows.native")" = "$N" ] || t_fail "rows.native holds $(wc -l <"$T_DIR/rows.native") rows"
t_log "native = litellm = otlp_json = otlp_proto: $N rows and $(wc -l <"$T_DIR/incidents.native") incidents the same"
