#!/usr/bin/env bash
# GET /api/v1/stream against the real server and PostgreSQL, read by an
# independent SSE client (lib/sse.py): an incident inserted and updated with
# psql and an action written with psql arrive as events with the contract's
# fields; a reconnect with Last-Event-ID (or ?last_event_id=) gets only the
# newer events; an id older than what the feed holds gets "event: reset";
# pings come; past web.max_streams the answer is a JSON 503; a client that
# does not read is cut off and counted; SIGTERM ends every stream cleanly.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

MAX=3
w_setup CUSTOS_WEB_MAX_STREAMS=$MAX CUSTOS_WEB_STREAM_PING_MS=1s CUSTOS_WEB_STREAM_BUFFER_BYTES=4KiB
A=(--header "Authorization: Bearer $W_ADMIN_TOKEN")
SSE="$W_LIB/sse.py"

# metric NAME: its value now.
metric() { curl -s "$W_BASE/metrics" | awk -v m="$1" '$1 == m {print $2}'; }
# wait_metric NAME OP VALUE: polls /metrics until NAME OP VALUE (60 s).
wait_metric() {
    local deadline=$((SECONDS + 60)) v
    while [ "$SECONDS" -lt "$deadline" ]; do
        v=$(metric "$1")
        [ "${v:-0}" "$2" "$3" ] && return 0
        sleep 0.05
    done
    t_fail "$1 is ${v:-absent}, waited for $2 $3"
}
# A stream a client has left keeps its slot until the hub's next ping finds
# the connection gone (a suspended connection is not polled): wait for a free
# slot before opening another, or web.max_streams refuses it.
room() { wait_metric custos_web_streams_open -lt "$MAX"; }
# bg_stream OUT ARGS...: an SSE client in the background; its PID in BG.
bg_stream() {
    local out=$1
    shift
    python3 "$SSE" "$W_BASE/api/v1/stream" "$out.h" "$out" "${A[@]}" "$@" >"$out.status" &
    BG=$!
    T_PIDS+=("$BG")
}
# jl FILE N EXPR: python expression over the N-th event (1-based; comments skipped).
jl() { python3 -c "import json,sys; e=[e for e in map(json.loads, open(sys.argv[1])) if 'event' in e][int(sys.argv[2])-1]; v=e$3; print(v)" "$1" "$2"; }
events_of() { python3 -c "import json,sys; print(sum(1 for l in open(sys.argv[1]) if 'event' in json.loads(l)))" "$1"; }

t_log "live: an incident opened and updated, an action proposed, with psql"
bg_stream "$T_DIR/live" --events 3
live=$BG
wait_metric custos_web_streams_open -ge 1
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
         last_seen, alerts, atlas, owasp, summary, doc)
       VALUES ('inc-s1', 'probing', 'high', 'k1', now(), now(), now(), 1, '{}', '{}', 's', '{}')"
t_sql "UPDATE incidents SET status = 'acknowledged', severity = 'critical' WHERE incident_id = 'inc-s1'"
act=$(t_sql "INSERT INTO actions (incident_id, playbook, kind, subject, params, params_key, state,
               approval_required, expires_at, actor)
             VALUES ('inc-s1', 'test', 'notify', 'soc', '{}', 'k1', 'pending_approval', true,
               now() + interval '1 hour', 'playbook:test') RETURNING id")
wait "$live" || t_fail "the live stream did not bring 3 events: $(cat "$T_DIR/live")"
[ "$(cat "$T_DIR/live.status")" = 200 ] || t_fail "stream status $(cat "$T_DIR/live.status")"
grep -qi '^content-type: text/event-stream'$'\r' "$T_DIR/live.h" || t_fail "not text/event-stream: $(cat "$T_DIR/live.h")"
grep -qi '^cache-control: no-store'$'\r' "$T_DIR/live.h" || t_fail "stream without no-store"
# The three events, in commit order.
[ "$(jl "$T_DIR/live" 1 '["event"]')" = incident ] || t_fail "first event: $(cat "$T_DIR/live")"
[ "$(jl "$T_DIR/live" 1 '["data"]["incident_id"]')" = inc-s1 ] || t_fail "incident id"
[ "$(jl "$T_DIR/live" 1 '["data"]["op"]')" = opened ] || t_fail "op of the insert: $(cat "$T_DIR/live")"
[ "$(jl "$T_DIR/live" 1 '["data"]["status"]')" = open ] || t_fail "status of the insert"
[ "$(jl "$T_DIR/live" 1 '["data"]["severity"]')" = high ] || t_fail "severity of the insert"
jl "$T_DIR/live" 1 '["data"]["at"]' | grep -Eq '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z$' || t_fail "at is not RFC 3339 UTC"
[ "$(jl "$T_DIR/live" 2 '["data"]["op"]')" = updated ] || t_fail "op of the update: $(cat "$T_DIR/live")"
[ "$(jl "$T_DIR/live" 2 '["data"]["status"]')" = acknowledged ] || t_fail "status of the update"
[ "$(jl "$T_DIR/live" 2 '["data"]["severity"]')" = critical ] || t_fail "severity of the update"
[ "$(jl "$T_DIR/live" 3 '["event"]')" = action ] || t_fail "third event: $(cat "$T_DIR/live")"
[ "$(jl "$T_DIR/live" 3 '["data"]["action_id"]')" = "$act" ] || t_fail "action id"
[ "$(jl "$T_DIR/live" 3 '["data"]["incident_id"]')" = inc-s1 ] || t_fail "action's incident"
[ "$(jl "$T_DIR/live" 3 '["data"]["state"]')" = pending_approval ] || t_fail "action state"
id1=$(jl "$T_DIR/live" 1 '["id"]')
id2=$(jl "$T_DIR/live" 2 '["id"]')
id3=$(jl "$T_DIR/live" 3 '["id"]')
[ "$id1" -lt "$id2" ] && [ "$id2" -lt "$id3" ] || t_fail "ids not increasing: $id1 $id2 $id3"
# The ids are the feed's, as psql sees it.
[ "$(t_sql "SELECT string_agg(id::text, ' ' ORDER BY id) FROM change_feed")" = "$id1 $id2 $id3" ] ||
    t_fail "feed ids differ from the events' ids"
# A state change of the action is one more event, and an update that changes nothing is none.
t_sql "UPDATE incidents SET status = status WHERE incident_id = 'inc-s1'"
t_sql "UPDATE actions SET state = 'rejected', decided_by = 'x' WHERE id = $act"
[ "$(t_sql "SELECT count(*) FROM change_feed")" = 4 ] || t_fail "feed rows: $(t_sql 'SELECT id, kind, payload FROM change_feed')"
id4=$(t_sql "SELECT max(id) FROM change_feed")

t_log "resume after id $id1 (Last-Event-ID): only the newer ones"
room
w_stream /api/v1/stream "${A[@]}" --header "Last-Event-ID: $id1" --events 3
w_expect 200
[ "$(events_of "$W_BODY")" = 3 ] || t_fail "resume: $(cat "$W_BODY")"
[ "$(jl "$W_BODY" 1 '["id"]') $(jl "$W_BODY" 2 '["id"]') $(jl "$W_BODY" 3 '["id"]')" = "$id2 $id3 $id4" ] ||
    t_fail "resume after $id1 gave: $(cat "$W_BODY")"
[ "$(jl "$W_BODY" 3 '["data"]["state"]')" = rejected ] || t_fail "the action's new state"
# ?last_event_id= as well, and the backlog is followed by what comes live.
bg_stream "$T_DIR/resume" --header "Last-Event-ID: $id3" --events 2
resume=$BG
# Progress: the backlog event (id4) has arrived before the live one is made.
deadline=$((SECONDS + 60))
until [ -s "$T_DIR/resume" ] && [ "$(events_of "$T_DIR/resume")" -ge 1 ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "the backlog did not arrive: $(cat "$T_DIR/resume")"
    sleep 0.05
done
t_sql "UPDATE incidents SET severity = 'low' WHERE incident_id = 'inc-s1'"
wait "$resume" || t_fail "resume + live: $(cat "$T_DIR/resume")"
id5=$(t_sql "SELECT max(id) FROM change_feed")
[ "$(jl "$T_DIR/resume" 1 '["id"]') $(jl "$T_DIR/resume" 2 '["id"]')" = "$id4 $id5" ] ||
    t_fail "backlog then live: $(cat "$T_DIR/resume")"
w_stream "/api/v1/stream?last_event_id=$id4" "${A[@]}" --events 1
[ "$(jl "$W_BODY" 1 '["id"]')" = "$id5" ] || t_fail "?last_event_id=$id4 gave: $(cat "$W_BODY")"
# A malformed id is a 400, in JSON.
room
w_stream /api/v1/stream "${A[@]}" --header "Last-Event-ID: 12x"
w_expect 400 bad_request

t_log "reset: an id older than what the feed holds"
t_sql "UPDATE change_feed_state SET pruned_upto = $id2"
t_sql "DELETE FROM change_feed WHERE id <= $id2"
room
w_stream /api/v1/stream "${A[@]}" --header "Last-Event-ID: $id1" --until-event reset
[ "$(events_of "$W_BODY")" = 1 ] || t_fail "reset came after other events: $(cat "$W_BODY")"
[ "$(jl "$W_BODY" 1 '["data"]["last_event_id"]')" = "$id1" ] || t_fail "reset data: $(cat "$W_BODY")"
[ "$(jl "$W_BODY" 1 '["data"]["resume_id"]')" = "$id5" ] || t_fail "reset resume_id: $(cat "$W_BODY")"
[ "$(jl "$W_BODY" 1 '["id"]')" = "$id5" ] || t_fail "reset id: $(cat "$W_BODY")"
# The id it gave just before the pruned ones is still fine; one never handed out is a reset.
room
w_stream /api/v1/stream "${A[@]}" --header "Last-Event-ID: $id2" --events 1
[ "$(jl "$W_BODY" 1 '["id"]')" = "$id3" ] || t_fail "after $id2: $(cat "$W_BODY")"
room
w_stream /api/v1/stream "${A[@]}" --header "Last-Event-ID: 999999999" --until-event reset
[ "$(wc -l <"$W_BODY")" -ge 2 ] || t_fail "no reset for an id never given"
[ "$(metric custos_web_stream_resets_total)" -ge 2 ] || t_fail "resets not counted"

t_log "pings"
room
w_stream /api/v1/stream "${A[@]}" --until-comment ping
grep -q '"comment": "ping"' "$W_BODY" || t_fail "no ping: $(cat "$W_BODY")"

t_log "web.max_streams=$MAX: the next one is a JSON 503"
wait_metric custos_web_streams_open -eq 0
held=()
for i in $(seq "$MAX"); do
    bg_stream "$T_DIR/held.$i" --events 1000000 --deadline 600
    held+=("$BG")
done
wait_metric custos_web_streams_open -eq "$MAX"
w_stream /api/v1/stream "${A[@]}"
w_expect 503 too_many_streams
[ -n "$(w_header Retry-After)" ] || t_fail "503 without Retry-After"
[ "$(metric custos_web_streams_refused_total)" -ge 1 ] || t_fail "refusal not counted"
# Other requests are still served meanwhile.
w_req GET /api/v1/incidents -H "Authorization: Bearer $W_ADMIN_TOKEN"
w_expect 200
kill "${held[@]}"
wait "${held[@]}" 2>/dev/null || true
# The server sees them gone at the next ping (1 s) and frees their slots.
wait_metric custos_web_streams_open -eq 0
w_stream /api/v1/stream "${A[@]}"
w_expect 200

t_log "a client that does not read is cut off (web.stream_buffer_bytes 4 KiB)"
python3 - "$W_PORT" "$W_ADMIN_TOKEN" >"$T_DIR/slow.out" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
s.connect(("127.0.0.1", int(sys.argv[1])))
s.sendall(("GET /api/v1/stream HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nAuthorization: Bearer %s\r\n\r\n"
           % (sys.argv[1], sys.argv[2])).encode())
time.sleep(600)  # never reads; killed by the test
PY
slow=$!
T_PIDS+=("$slow")
wait_metric custos_web_streams_open -ge 1
# Far more than the socket buffers on both sides and the 4 KiB can hold:
# 20,000 events of ~180 bytes (3.6 MB).
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
         last_seen, alerts, atlas, owasp, summary, doc)
       SELECT 'inc-b' || g, 'probing', 'low', 'k1', now(), now(), now(), 1, '{}', '{}', 's', '{}'
         FROM generate_series(1, 20000) g" >/dev/null
wait_metric custos_web_streams_cut_total -ge 1
kill "$slow"; wait "$slow" 2>/dev/null || true

t_log "SIGTERM ends open streams cleanly"
wait_metric custos_web_streams_open -eq 0
bg_stream "$T_DIR/last" --events 1000000 --deadline 600
last=$BG
wait_metric custos_web_streams_open -eq 1
w_stop
wait "$last" || t_fail "the stream did not end cleanly at shutdown: $(tail -3 "$T_DIR/last")"
[ "$(tail -n1 "$T_DIR/last")" = '{"end": true}' ] || t_fail "stream end: $(tail -n1 "$T_DIR/last")"
t_log "PASS: live, resume, reset, pings, max_streams, cut-off, shutdown"
