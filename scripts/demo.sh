#!/usr/bin/env bash
# The main job on the embedded defaults: installs what is needed, builds,
# starts a private PostgreSQL under .demo/, the embedded Kafka-protocol
# broker, migrates, runs the collector and feeds it demo traffic.
# Idempotent: running it again restarts the demo on the same data.
#
#   bash scripts/demo.sh          start (or restart) the demo
#   bash scripts/demo.sh status   what is running, row counts
#   bash scripts/demo.sh stop     stop everything it started (data is kept)
set -euo pipefail
CUSTOS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CUSTOS_ROOT"
. scripts/deps.sh
. scripts/pg.sh

DEMO=$CUSTOS_ROOT/.demo
PGPORT_DEMO=${CUSTOS_DEMO_PGPORT:-55433}
RATE=${CUSTOS_DEMO_RATE:-200}
B=$CUSTOS_ROOT/build/custos
DSN="host=$DEMO/pg port=$PGPORT_DEMO user=postgres dbname=custos"

stop_pidfile() {
    local f=$DEMO/$1.pid
    [ -f "$f" ] || return 0
    local pid; pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -KILL -- "-$pid" 2>/dev/null || true
    fi
    rm -f "$f"
}

demo_stop() {
    stop_pidfile traffic
    stop_pidfile collector
    stop_pidfile broker
    [ -d "$DEMO/pg/data" ] && pg_stop "$DEMO/pg"
    echo "custos demo stopped (data kept in $DEMO; remove that folder to start afresh)"
}

demo_status() {
    for n in broker collector traffic; do
        if [ -f "$DEMO/$n.pid" ] && kill -0 "$(cat "$DEMO/$n.pid")" 2>/dev/null; then
            echo "$n: running (pid $(cat "$DEMO/$n.pid"))"
        else
            echo "$n: stopped"
        fi
    done
    psql -X -d "$DSN" -c "SELECT (SELECT count(*) FROM interactions) AS events_stored,
        (SELECT count(*) FROM rejected_events) AS dead_letters" 2>/dev/null || echo "postgres: stopped"
}

case "${1:-start}" in
stop) demo_stop; exit 0 ;;
status) demo_status; exit 0 ;;
start) ;;
*) echo "usage: bash scripts/demo.sh [start|status|stop]" >&2; exit 2 ;;
esac

deps_install $CUSTOS_BUILD_DEPS $CUSTOS_RUN_DEPS
echo "== building custos"
custos_build build

mkdir -p "$DEMO"
stop_pidfile traffic; stop_pidfile collector; stop_pidfile broker

echo "== PostgreSQL ($DEMO/pg, port $PGPORT_DEMO)"
pg_start "$DEMO/pg" "$PGPORT_DEMO"
psql -X -q -d postgres -tc "SELECT 1 FROM pg_database WHERE datname = 'custos'" | grep -q 1 ||
    createdb custos
export CUSTOS_POSTGRES_DSN=$DSN
"$B" migrate
# The embedded broker starts empty every time, so offsets stored for an
# earlier broker mean nothing: forget them (the stored events stay).
psql -X -q -d "$DSN" -c "DELETE FROM ingest_offsets WHERE consumer_group = 'custos'"

echo "== embedded Kafka-protocol broker (for trying custos, not for production)"
setsid "$B" broker --partitions 8 --topic custos.interactions >"$DEMO/broker.out" 2>"$DEMO/broker.log" &
echo $! >"$DEMO/broker.pid"
for _ in $(seq 100); do [ -s "$DEMO/broker.out" ] && break; sleep 0.1; done
BROKER=$(head -n1 "$DEMO/broker.out")
[ -n "$BROKER" ] || { cat "$DEMO/broker.log" >&2; exit 1; }
export CUSTOS_KAFKA_BROKERS=$BROKER CUSTOS_KAFKA_TOPICS=custos.interactions

echo "== collector (custos run)"
setsid "$B" run >"$DEMO/collector.out" 2>"$DEMO/collector.log" &
echo $! >"$DEMO/collector.pid"
for _ in $(seq 300); do grep -q 'partition assigned' "$DEMO/collector.log" && break; sleep 0.1; done
grep -q 'partition assigned' "$DEMO/collector.log" || { tail "$DEMO/collector.log" >&2; exit 1; }

echo "== demo traffic ($RATE events/s, realistic prompts, a few attacks mixed in)"
setsid bash -c "'$B' gen --realtime --count 0 --attacks --seed \$RANDOM | '$B' produce --rate $RATE -" \
    >"$DEMO/traffic.out" 2>"$DEMO/traffic.log" &
echo $! >"$DEMO/traffic.pid"
sleep 3

cat <<MSG

custos is running on demo traffic.
  broker      $BROKER              (log: $DEMO/broker.log)
  collector   custos run                (log: $DEMO/collector.log)
  PostgreSQL  psql "$DSN"
  traffic     $RATE events/s            (log: $DEMO/traffic.log)

Look at it:
  bash scripts/demo.sh status
  psql "$DSN" -c "SELECT api_key_id, model, model_version, count(*) FROM interactions GROUP BY 1,2,3 ORDER BY 4 DESC LIMIT 10"
  psql "$DSN" -c "SELECT type, severity, status, api_key_id, summary FROM incidents ORDER BY first_seen"
  psql "$DSN" -c "SELECT id, kind, state, params->>'key_id' AS key FROM actions ORDER BY id"
  CUSTOS_POSTGRES_DSN="$DSN" $B actions list
  CUSTOS_POSTGRES_DSN="$DSN" $B audit verify
  kcat -C -b $BROKER -t custos.interactions -o -3 -e
Stop it:
  bash scripts/demo.sh stop
MSG
