#!/usr/bin/env bash
# The main job on the embedded defaults: installs what the demo needs,
# builds, starts a private PostgreSQL, the embedded Kafka-protocol broker,
# migrates, runs custos (collector, detectors, playbooks) and feeds it demo
# traffic with an attacker for every detector. It says it runs only once
# events are stored; a part that dies is named with the last lines of its
# log. Idempotent: running it again restarts the demo on the same data.
#
#   bash scripts/demo.sh          start (or restart) the demo
#   bash scripts/demo.sh status   each part, events stored, incidents, actions
#   bash scripts/demo.sh stop     stop everything it started (data is kept)
#
# Settings (environment): CUSTOS_DEMO_DIR (default .demo in the repository),
# CUSTOS_DEMO_PGPORT (55433), CUSTOS_DEMO_RATE (200 events/s),
# CUSTOS_DEMO_CONFIG (scripts/demo.yaml), CUSTOS_DEMO_SEED (random),
# CUSTOS_DEMO_WEB_PORT (8440: the console, on 127.0.0.1 only).
set -euo pipefail
CUSTOS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CUSTOS_ROOT"
. scripts/deps.sh
. scripts/pg.sh

DEMO=${CUSTOS_DEMO_DIR:-$CUSTOS_ROOT/.demo}
PGPORT_DEMO=${CUSTOS_DEMO_PGPORT:-55433}
RATE=${CUSTOS_DEMO_RATE:-200}
CONFIG=${CUSTOS_DEMO_CONFIG:-$CUSTOS_ROOT/scripts/demo.yaml}
WEB_PORT=${CUSTOS_DEMO_WEB_PORT:-8440}
B=$CUSTOS_ROOT/build/custos
PARTS="broker collector traffic"

# The PostgreSQL cluster's folder. As root the server runs as 'postgres',
# which cannot enter root's home (0700 on Debian), so the cluster lives under
# /var/lib/custos, one folder per demo folder, and $DEMO/pg links to it.
demo_pgdir() {
    local home
    home=$(pg_home_dir "demo-$(printf '%s' "$DEMO" | sha256sum | cut -c1-12)")
    echo "${home:-$DEMO/pg}"
}
PGD=$(demo_pgdir)
DSN="host=$PGD port=$PGPORT_DEMO user=postgres dbname=custos"

running() { [ -f "$DEMO/$1.pid" ] && kill -0 "$(cat "$DEMO/$1.pid")" 2>/dev/null; }

stop_pidfile() {
    local f=$DEMO/$1.pid
    [ -f "$f" ] || return 0
    local pid; pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        # Each part runs in its own session (setsid): end the whole group.
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

demo_stop() {
    stop_pidfile traffic
    stop_pidfile collector
    stop_pidfile broker
    [ -d "$PGD/data" ] && pg_stop "$PGD"
    echo "custos demo stopped (data kept in $PGD; remove it and $DEMO to start afresh)"
}

# died PART: names the part that stopped and shows the end of its log.
died() {
    echo "custos demo: the $1 stopped; last lines of $DEMO/$1.log:" >&2
    tail -n 15 "$DEMO/$1.log" >&2 2>/dev/null || true
    demo_stop >&2
    exit 1
}

sql() { psql -X -A -t -q -d "$DSN" -c "$1" 2>/dev/null; }

demo_status() {
    local rc=0
    for n in $PARTS; do
        if running "$n"; then
            echo "$n: running (pid $(cat "$DEMO/$n.pid"), log $DEMO/$n.log)"
        else
            echo "$n: stopped"; rc=1
        fi
    done
    if ! sql "SELECT 1" >/dev/null; then
        echo "postgres: stopped ($PGD)"
        return 1
    fi
    echo "postgres: running ($PGD, port $PGPORT_DEMO)"
    echo "events stored: $(sql "SELECT count(*) FROM interactions"), dead letters: $(sql "SELECT count(*) FROM rejected_events")"
    echo "incidents by type: $(sql "SELECT coalesce(string_agg(type || ' ' || n, ', ' ORDER BY type), 'none yet')
                                  FROM (SELECT type, count(*) n FROM incidents GROUP BY type) t")"
    echo "actions by kind and state: $(sql "SELECT coalesce(string_agg(kind || ' ' || state || ' ' || n, ', ' ORDER BY kind, state), 'none yet')
                                          FROM (SELECT kind, state, count(*) n FROM actions GROUP BY kind, state) a")"
    return $rc
}

case "${1:-start}" in
stop) demo_stop; exit 0 ;;
status) demo_status; exit $? ;;
start) ;;
-h|--help) sed -n '2,15p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: bash scripts/demo.sh [start|status|stop]" >&2; exit 2 ;;
esac

[ -f "$CONFIG" ] || { echo "custos demo: no config file $CONFIG" >&2; exit 1; }
deps_install $CUSTOS_BUILD_DEPS $CUSTOS_RUN_DEPS
echo "== building custos"
CUSTOS_BUILD_TARGETS=custos custos_build build

mkdir -p "$DEMO"
stop_pidfile traffic; stop_pidfile collector; stop_pidfile broker
[ "$PGD" = "$DEMO/pg" ] || ln -sfn "$PGD" "$DEMO/pg"

echo "== PostgreSQL ($PGD, port $PGPORT_DEMO, Unix socket only)"
pg_start "$PGD" "$PGPORT_DEMO"
[ "$(sql "SELECT 1 FROM pg_database WHERE datname = 'custos'" || true)" = 1 ] ||
    createdb custos
export CUSTOS_POSTGRES_DSN=$DSN CUSTOS_CONFIG=$CONFIG
"$B" migrate
# The embedded broker starts empty every time, so offsets stored for an
# earlier broker mean nothing: forget them (the stored events stay).
psql -X -q -d "$DSN" -c "DELETE FROM ingest_offsets WHERE consumer_group = 'custos'"

# The console's demo analyst: made once, its password kept (0600) beside the
# demo's data so that every start prints the same sign-in.
if [ "$(sql "SELECT 1 FROM web_users WHERE username = 'analyst'" || true)" != 1 ]; then
    (umask 077 && head -c 18 /dev/urandom | base64 | tr -d '/+=' >"$DEMO/analyst.password")
    "$B" user add analyst --role analyst <"$DEMO/analyst.password" >/dev/null
fi
[ -s "$DEMO/analyst.password" ] || {
    echo "custos demo: the analyst's password file $DEMO/analyst.password is gone;" \
        "set a new one: $B user passwd analyst" >&2
}

echo "== embedded Kafka-protocol broker (for trying custos, not for production)"
: >"$DEMO/broker.out"
setsid "$B" broker --partitions 8 --topic custos.interactions >"$DEMO/broker.out" 2>"$DEMO/broker.log" &
echo $! >"$DEMO/broker.pid"
BROKER=
for _ in $(seq 300); do
    BROKER=$(head -n1 "$DEMO/broker.out" 2>/dev/null || true)
    [ -n "$BROKER" ] && break
    running broker || died broker
    sleep 0.1
done
[ -n "$BROKER" ] || died broker
export CUSTOS_KAFKA_BROKERS=$BROKER CUSTOS_KAFKA_TOPICS=custos.interactions

export CUSTOS_WEB_ENABLED=on CUSTOS_WEB_LISTEN=127.0.0.1:$WEB_PORT
echo "== custos run (collector, detectors, playbooks, console on 127.0.0.1:$WEB_PORT; config $CONFIG)"
setsid "$B" run >"$DEMO/collector.out" 2>"$DEMO/collector.log" &
echo $! >"$DEMO/collector.pid"
for _ in $(seq 600); do
    grep -q 'partition assigned' "$DEMO/collector.log" && break
    running collector || died collector
    sleep 0.1
done
grep -q 'partition assigned' "$DEMO/collector.log" || died collector

SEED=${CUSTOS_DEMO_SEED:-$RANDOM}
echo "== demo traffic ($RATE events/s, seed $SEED: realistic prompts, an attacker for every detector)"
setsid bash -c "'$B' gen --realtime --count 0 --attacks --seed $SEED | '$B' produce --rate $RATE -" \
    >"$DEMO/traffic.out" 2>"$DEMO/traffic.log" &
echo $! >"$DEMO/traffic.pid"

# Running means events are stored: wait for them, on progress.
before=$(sql "SELECT count(*) FROM interactions" || echo 0)
stored=$before
for _ in $(seq 600); do
    stored=$(sql "SELECT count(*) FROM interactions" || echo "$stored")
    [ "$stored" -gt "$before" ] && break
    running traffic || died traffic
    running collector || died collector
    sleep 0.1
done
[ "$stored" -gt "$before" ] || { echo "custos demo: no event stored within 60 s" >&2; died collector; }

PW=$(cat "$DEMO/analyst.password" 2>/dev/null || echo "(unknown: see above)")
cat <<MSG

custos is running on demo traffic: $((stored - before)) events stored so far.
  console     http://127.0.0.1:$WEB_PORT/   sign in as analyst, password $PW
              (approving containment needs a responder:
               CUSTOS_POSTGRES_DSN="$DSN" $B user add NAME --role responder)
  broker      $BROKER               (log: $DEMO/broker.log)
  custos run  collector, detectors, playbooks (log: $DEMO/collector.log)
  PostgreSQL  psql "$DSN"
  traffic     $RATE events/s             (log: $DEMO/traffic.log; attacker keys named there)

Within a few minutes every detector raises an incident and the playbooks act
(custos run logs each incident as it opens). Look at it:
  bash scripts/demo.sh status
  psql "$DSN" -c "SELECT type, severity, status, api_key_id, model_version, summary FROM incidents ORDER BY first_seen"
  psql "$DSN" -c "SELECT id, kind, state, params->>'key_id' AS key FROM actions ORDER BY id"
  CUSTOS_POSTGRES_DSN="$DSN" $B actions list
  CUSTOS_POSTGRES_DSN="$DSN" $B actions approve ID     # an action waiting for approval
  CUSTOS_POSTGRES_DSN="$DSN" $B audit verify
  kcat -C -b $BROKER -t custos.interactions -o -3 -e
Stop it:
  bash scripts/demo.sh stop
MSG
