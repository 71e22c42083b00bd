#!/usr/bin/env bash
# custos against a peer on the same broker, events and PostgreSQL (issue 14):
#
#   bash bench/ingest/peer.sh
#
# rsyslog, as its users set it up to land Kafka JSON in PostgreSQL: imkafka
# -> mmjsonparse -> ompgsql (one INSERT per event, batched in transactions),
# into a table holding the same fields as text with a BRIN index on ts only
# (the cheapest table to insert into: the peer gets every advantage), and
# custos run as shipped (full schema with its indexes, exactly-once offsets,
# live analytics on). Each round preloads a fresh embedded broker's topic
# with the same events (kcat -P, unkeyed so that the partitions fill evenly
# and stay within the mock broker's ~5 MiB retention per partition), then
# starts one consumer on a fresh database and times it from its first stored
# row to its last (rows counted in PostgreSQL). The systems alternate which
# goes first. Also, in the same run, a bare librdkafka consumer (kcat -C)
# draining the same topic: the broker's ceiling.
#
# Prints each round, the medians, and custos / rsyslog beside the target
# (>= 2.0). Nothing asserts speed: the exit status says whether it ran.
# Settings: BENCH_PEER_EVENTS (default 160000), BENCH_PEER_PARTITIONS (64),
# BENCH_PEER_ROUNDS (3), BENCH_PG_DIR, BENCH_PG_PORT, BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_PEER_EVENTS:-160000}
PARTS=${BENCH_PEER_PARTITIONS:-64}
ROUNDS=${BENCH_PEER_ROUNDS:-3}
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-peer-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55453}
KEEP=${BENCH_KEEP:-0}
WORK=$(mktemp -d /tmp/custos-bench-peer.XXXXXX)
TIMEOUT_S=300 # one consumer's whole run, at most

log() { printf '[bench-peer %s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

CUSTOS_ROOT=$ROOT
. "$ROOT/scripts/deps.sh"
deps_install "$(deps_group peer)" || die "rsyslog, rsyslog-kafka and rsyslog-pgsql are needed"
B=${CUSTOS_BIN:-$ROOT/build/custos}
[ -x "$B" ] || die "build custos first (cmake --build build), or set CUSTOS_BIN"
for tool in psql createdb kcat rsyslogd awk; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

PIDS=()
PG_STARTED=0
cleanup() {
    local rc=$?
    for p in "${PIDS[@]:-}"; do [ -n "$p" ] && kill -KILL "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    [ "$PG_STARTED" = 1 ] && { pg_stop "$PGDIR" 2>/dev/null || true; }
    if [ "$KEEP" = 1 ] || [ "$rc" != 0 ]; then log "work files kept in $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

. "$ROOT/scripts/pg.sh"
exec 9>"$PGDIR.lock"
flock -n 9 || die "another benchmark is using $PGDIR (BENCH_PG_DIR and BENCH_PG_PORT choose another)"
PG_STARTED=1
pg_start "$PGDIR" "$PGPORT_BENCH" >/dev/null || die "cannot start PostgreSQL in $PGDIR"
export PGUSER=postgres
dsn() { echo "host=$PGDIR port=$PGPORT_BENCH user=postgres dbname=$1"; }
q() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$(dsn "$1")" -c "$2"; }

CUSTOS_PROMPTS_DIR=$ROOT/data/prompts "$B" gen --count "$N" --seed 1 --attacks >"$WORK/events.jsonl"
EV_BYTES=$(($(wc -c <"$WORK/events.jsonl") / N))
PER_PART_KB=$((N * EV_BYTES / PARTS / 1024))
log "generated $N events (--attacks), $EV_BYTES bytes each; about $PER_PART_KB KiB per partition"
[ "$PER_PART_KB" -lt 4608 ] || die "$N events overrun the broker's ~5 MiB per partition: more partitions or fewer events"

BROKER="" BROKER_PID=""
# fresh_topic DIR: a new embedded broker whose topic "peer" holds the events.
fresh_topic() {
    [ -z "$BROKER_PID" ] || { kill "$BROKER_PID" 2>/dev/null || true; wait "$BROKER_PID" 2>/dev/null || true; }
    "$B" broker --partitions "$PARTS" --topic peer >"$1/broker.out" 2>"$1/broker.log" &
    BROKER_PID=$!
    PIDS+=("$BROKER_PID")
    BROKER=""
    for _ in $(seq 100); do
        BROKER=$(head -n1 "$1/broker.out" 2>/dev/null || true)
        [ -n "$BROKER" ] && break
        sleep 0.1
    done
    [ -n "$BROKER" ] || die "broker did not start: $(cat "$1/broker.log")"
    kcat -P -b "$BROKER" -t peer -l -X linger.ms=20 "$WORK/events.jsonl" 2>"$1/kcat-p.log" ||
        die "kcat -P failed: $(tail -3 "$1/kcat-p.log")"
    local args=() held
    for ((p = 0; p < PARTS; p++)); do args+=(-t "peer:$p:-1"); done
    held=$(kcat -Q -b "$BROKER" "${args[@]}" 2>/dev/null |
        sed -nE 's/^.* offset (-?[0-9]+)$/\1/p' | awk '{s += $1} END {print s + 0}')
    [ "$held" = "$N" ] || die "the broker holds $held of $N events after the preload"
}

# time_rows DB TABLE PID: waits until TABLE in DB holds N rows; prints
# "rows_per_s seconds" from the first row seen to the last.
time_rows() {
    local db=$1 table=$2 pid=$3 t_first="" c_first=0 c=0 t_end deadline=$((SECONDS + TIMEOUT_S))
    while [ "$SECONDS" -lt "$deadline" ]; do
        c=$(q "$db" "SELECT count(*) FROM $table" 2>/dev/null || echo 0)
        if [ -z "$t_first" ] && [ "$c" -gt 0 ]; then t_first=$(date +%s.%N) c_first=$c; fi
        [ "$c" -ge "$N" ] && break
        kill -0 "$pid" 2>/dev/null || die "$table: the consumer exited with $c of $N rows stored"
        sleep 0.1
    done
    t_end=$(date +%s.%N)
    [ "$c" -ge "$N" ] || die "$table: $c of $N rows stored after ${TIMEOUT_S}s"
    awk -v n="$((N - c_first))" -v a="$t_first" -v b="$t_end" \
        'BEGIN {d = b - a; printf "%.0f %.1f", (d > 0 ? n / d : 0), d}'
}

run_custos() {
    local dir=$1 db=peer_custos_$2
    dropdb --if-exists "$db" 2>/dev/null || true
    createdb "$db"
    CUSTOS_POSTGRES_DSN=$(dsn "$db") "$B" migrate --log-level warn
    CUSTOS_POSTGRES_DSN=$(dsn "$db") CUSTOS_KAFKA_BROKERS=$BROKER CUSTOS_KAFKA_TOPICS=peer \
        CUSTOS_KAFKA_GROUP=peer-custos CUSTOS_WEB_ENABLED=off \
        "$B" run --log-level warn 2>"$dir/custos.log" &
    local pid=$!
    PIDS+=("$pid")
    R=$(time_rows "$db" interactions "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local distinct
    distinct=$(q "$db" "SELECT count(DISTINCT event_id) FROM interactions")
    [ "$distinct" = "$N" ] || die "custos stored $distinct distinct events of $N"
}

run_rsyslog() {
    local dir=$1 db=peer_rsyslog_$2
    dropdb --if-exists "$db" 2>/dev/null || true
    createdb "$db"
    q "$db" "CREATE TABLE peer_events (ts timestamptz, event_id text, api_key_id text, tenant text,
               user_id text, session_id text, client_ip text, model text, model_version text,
               prompt text, response text, prompt_tokens text, completion_tokens text,
               latency_ms text, status text, finish_reason text, refusal text, scores text,
               attrs text);
             CREATE INDEX ON peer_events USING brin (ts)"
    local brokers="" b
    IFS=',' read -ra bl <<<"$BROKER"
    for b in "${bl[@]}"; do brokers+="${brokers:+, }\"$b\""; done
    local cols="ts event_id api_key_id tenant user_id session_id client_ip model model_version prompt response prompt_tokens completion_tokens latency_ms status finish_reason refusal scores attrs"
    {
        echo "global(workDirectory=\"$dir\" maxMessageSize=\"64k\")"
        echo 'module(load="imkafka")'
        echo 'module(load="mmjsonparse")'
        echo 'module(load="ompgsql")'
        echo 'template(name="row" type="list" option.stdsql="on") {'
        echo "  constant(value=\"INSERT INTO peer_events (${cols// /, }) VALUES ('\")"
        local first=1 c
        for c in $cols; do
            [ "$first" = 1 ] || echo "  constant(value=\"', '\")"
            echo "  property(name=\"\$!$c\")"
            first=0
        done
        echo "  constant(value=\"')\")"
        echo '}'
        echo "input(type=\"imkafka\" broker=[$brokers] topic=\"peer\" consumergroup=\"peer-rsyslog\""
        echo '      ruleset="peer" confParam=["auto.offset.reset=earliest"])'
        echo 'ruleset(name="peer" queue.type="LinkedList" queue.size="400000" queue.dequeueBatchSize="1024") {'
        echo '  action(type="mmjsonparse" cookie="")'
        # conninfo may hold no space: the URI form of the same DSN
        echo "  action(type=\"ompgsql\" conninfo=\"postgresql:///$db?host=$PGDIR&port=$PGPORT_BENCH&user=postgres\" template=\"row\""
        echo '         queue.type="LinkedList" queue.size="400000" queue.dequeueBatchSize="1024"'
        echo '         queue.workerThreads="2" action.resumeRetryCount="-1")'
        echo '}'
    } >"$dir/rsyslog.conf"
    rsyslogd -N1 -f "$dir/rsyslog.conf" >"$dir/rsyslog-check.log" 2>&1 ||
        die "rsyslog refuses its configuration: $(tail -5 "$dir/rsyslog-check.log")"
    rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" >"$dir/rsyslog.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    R=$(time_rows "$db" peer_events "$pid")
    kill -TERM "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    local distinct
    distinct=$(q "$db" "SELECT count(DISTINCT event_id) FROM peer_events")
    [ "$distinct" = "$N" ] || log "rsyslog stored $distinct distinct events of $N (at-least-once: duplicates are its own)"
}

run_kcat() {
    local t0 t1
    t0=$(date +%s.%N)
    local got
    got=$(kcat -C -b "$BROKER" -t peer -o beginning -e -q -f '\n' | wc -l)
    t1=$(date +%s.%N)
    [ "$got" -ge "$N" ] || die "kcat -C read $got of $N messages"
    R=$(awk -v n="$N" -v a="$t0" -v b="$t1" 'BEGIN {d = b - a; printf "%.0f %.1f", n / d, d}')
}

printf '%-8s %6s %10s %8s  %s\n' system round rows/s seconds "busy load1" >"$WORK/rounds.txt"
cpu_mark() { awk '/^cpu / {t = 0; for (i = 2; i <= NF; i++) t += $i; print t - $5 - $6, t}' /proc/stat; }
busy_since() {
    local b0 t0 b1 t1
    read -r b0 t0 <<<"$1"
    read -r b1 t1 <<<"$(cpu_mark)"
    awk -v b="$((b1 - b0))" -v t="$((t1 - t0))" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
        'BEGIN {printf "%.0f%% %s", (t > 0 ? 100 * b / t : 0), l}'
}
declare -A RATES=([custos]="" [rsyslog]="" [kcat]="")
for ((r = 1; r <= ROUNDS; r++)); do
    order="custos rsyslog"
    [ $((r % 2)) = 0 ] && order="rsyslog custos"
    for sys in $order kcat; do
        dir=$WORK/$sys.$r
        mkdir -p "$dir"
        fresh_topic "$dir"
        log "round $r: $sys draining $N events from $PARTS partitions"
        mark=$(cpu_mark)
        "run_$sys" "$dir" "$r"
        read -r rate secs <<<"$R"
        RATES[$sys]+="$rate "
        printf '%-8s %6s %10s %8s  %s\n' "$sys" "$r" "$rate" "$secs" "$(busy_since "$mark")" |
            tee -a "$WORK/rounds.txt" >&2
    done
done

median() { tr ' ' '\n' <<<"$1" | awk 'NF' | sort -n | awk '{a[NR] = $1} END {print (NR % 2 ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2)}'; }
MC=$(median "${RATES[custos]}") MR=$(median "${RATES[rsyslog]}") MK=$(median "${RATES[kcat]}")
echo
echo "custos against a peer: $N events ($EV_BYTES bytes each, custos gen --attacks), $PARTS partitions,"
echo "$ROUNDS rounds, $(nproc) cores, load average now $(cut -d' ' -f1-3 /proc/loadavg)"
echo
cat "$WORK/rounds.txt"
echo
awk -v c="$MC" -v r="$MR" -v k="$MK" 'BEGIN {
    printf "median rows/s: custos %d (full schema, exactly-once, analytics on), rsyslog %d (BRIN-only text table)\n", c, r
    printf "custos / rsyslog = %.2f (target >= 2.0: %s)\n", c / r, (c / r >= 2 ? "met" : "missed")
    printf "bare librdkafka consumer (kcat -C) from the same broker: %d msgs/s; custos / it = %.2f\n", k, c / k
}'
echo "rsyslog $(rsyslogd -v | head -n1 | awk '{print $2}' | tr -d ,): imkafka -> mmjsonparse -> ompgsql, 2 action workers, batches of 1024"
