#!/usr/bin/env bash
# /healthz, /readyz (database reachable, schema current) and /metrics
# (open by default; web.metrics_token requires a Bearer token), and the web
# server's own metrics.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup
w_req GET /healthz
w_expect 200
[ "$(w_json '["status"]')" = ok ] || t_fail "healthz: $(cat "$W_BODY")"
[ "$(w_header Content-Type)" = "application/json; charset=utf-8" ] || t_fail "healthz type"
w_req GET /readyz
w_expect 200
[ "$(w_json '["schema"]')" = "$(w_sql 'SELECT max(version) FROM schema_migrations')" ] ||
    t_fail "readyz schema: $(cat "$W_BODY")"
grep -q '^HTTP/1.1 200' <<<"$(curl -sI "$W_BASE/healthz")" || t_fail "HEAD /healthz"

# Open metrics, in the Prometheus text format, with the web's own.
w_req GET /metrics
w_expect 200
[ "$(w_header Content-Type)" = "text/plain; version=0.0.4; charset=utf-8" ] || t_fail "metrics type"
for m in custos_web_requests_in_flight custos_web_signin_failures_total \
        custos_web_signin_throttled_total custos_web_internal_errors_total \
        'custos_web_requests_total{method="GET",route="/healthz",class="2xx"}' \
        'custos_web_requests_total{method="GET",route="/readyz",class="2xx"}'; do
    grep -qF "$m " "$W_BODY" || t_fail "metric $m missing"
done
# Metrics of the other modules come from the same registry.
grep -q '^custos_events_stored_total ' "$W_BODY" || t_fail "the core registry's other metrics are missing"
n_before=$(grep -F 'custos_web_requests_total{method="",route="unmatched",class="4xx"}' "$W_BODY" | awk '{print $2}')
w_req GET /nothing-here
w_expect 404
w_req GET /metrics
n_after=$(grep -F 'custos_web_requests_total{method="",route="unmatched",class="4xx"}' "$W_BODY" | awk '{print $2}')
[ "$n_after" = $((n_before + 1)) ] || t_fail "404s counted $n_before -> $n_after"
[ "$(grep '^custos_web_requests_in_flight ' "$W_BODY" | awk '{print $2}')" = 1 ] ||
    t_fail "in flight is not 1 (this request) while serving /metrics"
# No per-key or per-user labels: every label is a route, a method or a class.
others=$(grep '^custos_web_' "$W_BODY" | grep -v '^custos_web_requests_total' || true)
if grep -q '{' <<<"$others"; then
    t_fail "a web metric with labels other than the request family"
fi

# Schema not current: readyz says so (503) and keeps the details in the log.
w_sql "CREATE TABLE t_saved AS SELECT * FROM schema_migrations WHERE version = (SELECT max(version) FROM schema_migrations);
       DELETE FROM schema_migrations WHERE version = (SELECT version FROM t_saved)" >/dev/null
w_req GET /readyz
w_expect 503 not_ready
grep -q 'msg="not ready"' "$T_DIR/web.log" || t_fail "not-ready cause not logged"
w_req GET /healthz
w_expect 200 # the process is up all the same
w_stop
# ... and a server will not start on it.
if "$CUSTOS_BIN" web --log-level warn 2>"$T_DIR/refused.log"; then t_fail "started on an old schema"; fi
grep -q 'custos migrate\|behind\|missing' "$T_DIR/refused.log" || t_fail "start-up error: $(cat "$T_DIR/refused.log")"
w_sql "INSERT INTO schema_migrations SELECT * FROM t_saved; DROP TABLE t_saved" >/dev/null

# web.metrics_token: 401 without it or with another, 200 with it.
mt=$(head -c 24 /dev/urandom | base64 | tr '+/' '-_')
w_start CUSTOS_WEB_METRICS_TOKEN="$mt"
w_req GET /metrics
w_expect 401 unauthenticated
grep -qi '^www-authenticate: Bearer' "$W_HDRS" || t_fail "no WWW-Authenticate"
w_req GET /metrics -H "Authorization: Bearer ${mt}x"
w_expect 401
w_req GET /metrics -H "Authorization: Bearer ${mt:0:10}"
w_expect 401
w_req GET /metrics -H "Authorization: Basic $mt"
w_expect 401
w_req GET /metrics -H "Authorization: Bearer $mt"
w_expect 200
grep -q '^custos_web_requests_in_flight' "$W_BODY" || t_fail "metrics body"
if grep -qF -- "$mt" "$T_DIR/web.log"; then t_fail "the metrics token is in the log"; fi
# config print masks it.
CUSTOS_WEB_METRICS_TOKEN="$mt" "$CUSTOS_BIN" config check >"$T_DIR/cfg" 2>&1 || true
if grep -qF -- "$mt" "$T_DIR/cfg"; then t_fail "config check prints the metrics token"; fi
# The console: the shell is never cached, its content-hashed assets for a year.
w_req GET /
w_expect 200
asset=$(grep -o '/assets/[A-Za-z0-9._-]*' "$W_BODY" | head -1)
[ -n "$asset" ] || t_fail "the console shell names no asset: $(head -c 300 "$W_BODY")"
w_req GET "$asset"
w_expect 200
w_req GET /assets/no-such-file.js
w_expect 404
w_stop
t_log "PASS: healthz, readyz (ready, schema behind), metrics open and with a token, console caching"
