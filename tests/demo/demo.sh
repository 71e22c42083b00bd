#!/usr/bin/env bash
# The README's first command, tested as a user runs it: scripts/demo.sh in a
# scratch copy of the tree (its own folder, PostgreSQL port and build), which
# must store events, raise an incident, contain it with a playbook action,
# report all of it in `demo.sh status`, and leave nothing running after
# `demo.sh stop`. The scratch folder is mode 0700 and owned by root, as
# root's home is on Debian, so the PostgreSQL server (run as 'postgres')
# cannot enter it: the demo must keep its cluster elsewhere.
. "$(dirname "$0")/../lib/env.sh"

SCRATCH=$(mktemp -d /tmp/custos-demo-test.XXXXXX)
chmod 700 "$SCRATCH"
SRC=$SCRATCH/custos
mkdir "$SRC"
PORT=$(t_free_port)
WEB_PORT=$(t_free_port)
while [ "$WEB_PORT" = "$PORT" ]; do WEB_PORT=$((WEB_PORT + 1)); done
export CUSTOS_DEMO_WEB_PORT=$WEB_PORT
export CUSTOS_DEMO_PGPORT=$PORT CUSTOS_DEMO_RATE=${DEMO_TEST_RATE:-200} CUSTOS_DEMO_SEED=7
unset CUSTOS_DEMO_DIR CUSTOS_DEMO_CONFIG PGHOST PGPORT CUSTOS_POSTGRES_DSN CUSTOS_KAFKA_BROKERS
t_at_exit_first 'bash "$SRC/scripts/demo.sh" stop >/dev/null 2>&1; rm -rf "${PGD:-/nonexistent}" "$SCRATCH"'

# What a clone holds: the tracked files (and new ones not ignored), no build.
git -C "$CUSTOS_SOURCE_DIR" ls-files -z --cached --others --exclude-standard |
    (cd "$CUSTOS_SOURCE_DIR" && tar --null -T - -cf - 2>/dev/null) | tar -C "$SRC" -xf - ||
    t_fail "cannot copy the tree into $SRC"
[ -f "$SRC/scripts/demo.sh" ] || t_fail "the copy has no scripts/demo.sh"

t_log "bash scripts/demo.sh in $SRC (PostgreSQL port $PORT)"
if ! bash "$SRC/scripts/demo.sh" >"$T_DIR/demo.out" 2>"$T_DIR/demo.err"; then
    cat "$T_DIR/demo.out" "$T_DIR/demo.err" >&2
    t_fail "scripts/demo.sh failed"
fi
grep -q '^custos is running on demo traffic: [1-9][0-9]* events stored' "$T_DIR/demo.out" ||
    t_fail "demo.sh did not say how many events it stored: $(tail -n 5 "$T_DIR/demo.out")"
# The console: the URL and the demo analyst's sign-in are printed, and work.
PW=$(sed -n "s|^  console     http://127.0.0.1:$WEB_PORT/   sign in as analyst, password \(.*\)$|\1|p" "$T_DIR/demo.out")
[ -n "$PW" ] || t_fail "demo.sh did not print the console's URL and sign-in: $(grep -i console "$T_DIR/demo.out")"
code=$(curl -s -o "$T_DIR/signin.json" -w '%{http_code}' -c "$T_DIR/cookies" \
    -H 'Content-Type: application/json' -H "Origin: http://127.0.0.1:$WEB_PORT" \
    --data "{\"username\":\"analyst\",\"password\":\"$PW\"}" "http://127.0.0.1:$WEB_PORT/api/v1/session")
[ "$code" = 200 ] || t_fail "signing in as the demo analyst: HTTP $code $(cat "$T_DIR/signin.json")"
grep -q '"role":"analyst"' "$T_DIR/signin.json" || t_fail "the demo account is not an analyst: $(cat "$T_DIR/signin.json")"
code=$(curl -s -o "$T_DIR/queue.json" -w '%{http_code}' -b "$T_DIR/cookies" "http://127.0.0.1:$WEB_PORT/api/v1/incidents")
[ "$code" = 200 ] || t_fail "the incident queue answered HTTP $code"
PGD=$(readlink "$SRC/.demo/pg" || true)
[ -n "$PGD" ] && [ -d "$PGD/data" ] || t_fail "the demo's cluster is not outside the 0700 folder ($SRC/.demo/pg)"
DSN="host=$PGD port=$PORT user=postgres dbname=custos"
q() { psql -X -A -t -q -d "$DSN" -c "$1"; }

# Wait for an incident and a containment action, on progress: the demo's
# first attackers start within its first thousands of events, so fail when
# 60,000 events are stored without them, or when nothing is stored for 60 s.
last=-1; since=$SECONDS
while :; do
    n=$(q "SELECT count(*) FROM interactions")
    inc=$(q "SELECT count(*) FROM incidents")
    act=$(q "SELECT count(*) FROM actions WHERE kind IN ('revoke_key', 'throttle_key', 'rollback_model')
                                            AND state IN ('done', 'pending_approval')")
    [ "$inc" -gt 0 ] && [ "$act" -gt 0 ] && break
    [ "$n" -lt 60000 ] || t_fail "$n events stored, $inc incidents, $act containment actions"
    if [ "$n" != "$last" ]; then last=$n; since=$SECONDS; fi
    [ $((SECONDS - since)) -lt 60 ] || t_fail "no event stored for 60 s (stored $n)"
    sleep 0.5
done
t_log "after $n events: $inc incidents, $act containment actions"
grep -q 'msg="incident opened"' "$SRC/.demo/collector.log" || t_fail "custos run did not log the incident"

bash "$SRC/scripts/demo.sh" status >"$T_DIR/status.out" 2>&1 || { cat "$T_DIR/status.out" >&2; t_fail "demo.sh status failed"; }
cat "$T_DIR/status.out" >&2
for part in broker collector traffic postgres; do
    grep -q "^$part: running" "$T_DIR/status.out" || t_fail "status does not show the $part running"
done
grep -Eq '^events stored: [1-9]' "$T_DIR/status.out" || t_fail "status shows no stored events"
grep -Eq '^incidents by type: [a-z]+ [1-9]' "$T_DIR/status.out" || t_fail "status shows no incident"

bash "$SRC/scripts/demo.sh" stop >"$T_DIR/stop.out" 2>&1 || t_fail "demo.sh stop failed"
bash "$SRC/scripts/demo.sh" status >"$T_DIR/status2.out" 2>&1 && t_fail "status after stop says all is running"
left=$(for p in /proc/[0-9]*; do
           exe=$(readlink "$p/exe" 2>/dev/null) || continue
           cmd=$(tr '\0' ' ' <"$p/cmdline" 2>/dev/null)
           case "$exe $cmd" in *"$SRC"*|*"$PGD"*) echo "${p#/proc/} $cmd" ;; esac
       done)
[ -z "$left" ] || t_fail "left running after demo.sh stop: $left"
t_log "PASS: demo stored events, raised incidents, acted, stopped cleanly"
