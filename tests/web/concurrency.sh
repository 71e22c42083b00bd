#!/usr/bin/env bash
# Many clients at once: 32 parallel curl clients (a token, a session, and
# anonymous) send 1,600 requests over keep-alive to a server of 2 workers
# and 2 database connections; every answer is the expected one, nothing is
# answered 500, and once they are done nothing is left in flight. Sized
# for 2 shared cores: ~1,600 short requests of ~1-5 ms each.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup CUSTOS_WEB_THREADS=2 CUSTOS_WEB_DB_POOL=2
t_sql "INSERT INTO incidents (incident_id, type, severity, api_key_id, first_seen, detected_at,
           last_seen, alerts, atlas, owasp, summary, doc)
       SELECT 'inc-' || g, 'flood', 'low', 'k', now(), now() - g * interval '1 s', now(), 1, '{}', '{}', 's', '{}'
       FROM generate_series(1, 200) g" >/dev/null
w_signin analyst
tok=$("$CUSTOS_BIN" token create --role viewer --name load --log-level warn 2>/dev/null)

# One client: 50 requests on one connection (curl reuses it), each answer's
# status on a line.
client() {
    local i=$1 args=() urls=()
    case $((i % 3)) in
        0) args=(-H "Authorization: Bearer $tok") ;;
        1) args=(-b "$W_JAR") ;;
        2) args=() ;;
    esac
    for _ in $(seq 25); do
        urls+=("$W_BASE/api/v1/incidents?limit=20" "$W_BASE/api/v1/incidents/inc-$((RANDOM % 200 + 1))")
    done
    for u in "${urls[@]}"; do printf 'url = "%s"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\n' "$u"; done |
        curl -s -K - "${args[@]}" >"$T_DIR/client.$i"
}
pids=()
for i in $(seq 0 31); do
    client "$i" &
    pids+=($!)
done
for p in "${pids[@]}"; do wait "$p" || t_fail "a client failed"; done
ok=0 anon=0
for i in $(seq 0 31); do
    n=$(wc -l <"$T_DIR/client.$i")
    [ "$n" = 50 ] || t_fail "client $i got $n answers of 50"
    if [ $((i % 3)) = 2 ]; then
        anon=$((anon + $(grep -c '^401$' "$T_DIR/client.$i" || true)))
    else
        ok=$((ok + $(grep -c '^200$' "$T_DIR/client.$i" || true)))
    fi
done
t_log "answers: $ok x 200 (token and session), $anon x 401 (anonymous)"
[ "$ok" = $((22 * 50)) ] || t_fail "$ok answers 200, wanted $((22 * 50))"
[ "$anon" = $((10 * 50)) ] || t_fail "$anon answers 401, wanted $((10 * 50))"
# Nothing left in flight (this request aside), no internal error.
deadline=$((SECONDS + 10))
while :; do
    w_req GET /metrics
    inflight=$(grep '^custos_web_requests_in_flight ' "$W_BODY" | awk '{print $2}')
    [ "$inflight" = 1 ] && break
    [ "$SECONDS" -lt "$deadline" ] || t_fail "requests still in flight: $inflight"
    sleep 0.1
done
[ "$(grep '^custos_web_internal_errors_total ' "$W_BODY" | awk '{print $2}')" = 0 ] || t_fail "internal errors"
if grep -q 'level=error' "$T_DIR/web.log"; then t_fail "errors logged: $(grep 'level=error' "$T_DIR/web.log" | head -3)"; fi
w_stop
t_log "PASS: 1,600 concurrent requests over keep-alive, all answered as expected"
