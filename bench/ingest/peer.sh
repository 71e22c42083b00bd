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
# BENCH_PEER_ROUNDS (3), BENCH_PEER_RSYSLOG_WORKERS (2), BENCH_PG_DIR, BENCH_PG_PORT, BENCH_KEEP=1.
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/../.." && pwd)
N=${BENCH_PEER_EVENTS:-160000}
PARTS=${BENCH_PEER_PARTITIONS:-64}
ROUNDS=${BENCH_PEER_ROUNDS:-3}
RS_WORKERS=${BENCH_PEER_RSYSLOG_WORKERS:-2} # ompgsql's action workers (connections)
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-peer-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55453}
TIMEOUT_S=300 # one consumer's whole run, at most

BENCH_NAME=peer
. "$ROOT/bench/lib.sh"
bench_setup

CUSTOS_ROOT=$ROOT
. "$ROOT/scripts/deps.sh"
deps_install "$(deps_group peer)" || die "rsyslog, rsyslog-kafka and rsyslog-pgsql are needed"
B=${CUSTOS_BIN:-$ROOT/build/custos}
[ -x "$B" ] || die "build custos first (cmake --build build), or set CUSTOS_BIN"
for tool in psql createdb kcat rsyslogd awk; do
    command -v "$tool" >/dev/null || die "$tool is needed"
done

bench_pg "$PGDIR" "$PGPORT_BENCH"
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
    # Keyed by line number: spread evenly by the hash (a null key would
    # stick to one partition per batch and overrun its retention).
    awk '{print NR "\t" $0}' "$WORK/events.jsonl" |
        kcat -P -b "$BROKER" -t peer -K $'\t' -X linger.ms=20 2>"$1/kcat-p.log" ||
        die "kcat -P failed: $(tail -3 "$1/kcat-p.log")"
    # Every event still held: high minus low watermarks, summed.
    local hi=() lo=() held
    for ((p = 0; p < PARTS; p++)); do hi+=(-t "peer:$p:-1"); lo+=(-t "peer:$p:-2"); done
    held=$({
        kcat -Q -b "$BROKER" "${hi[@]}" 2>/dev/null | sed -nE 's/^.* offset (-?[0-9]+)$/\1/p'
        kcat -Q -b "$BROKER" "${lo[@]}" 2>/dev/null | sed -nE 's/^.* offset (-?[0-9]+)$/-\1/p'
    } | awk '{s += $1} END {print s + 0}')
    [ "$held" = "$N" ] || die "the broker holds $held of $N events after the preload (retention overrun?)"
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

# finish DB TABLE PID: times TABLE's rows (R), stops PID, and counts the
# distinct events stored (DISTINCT).
finish() {
    R=$(time_rows "$1" "$2" "$3")
    kill -TERM "$3" 2>/dev/null || true
    wait "$3" 2>/dev/null || true
    DISTINCT=$(q "$1" "SELECT count(DISTINCT event_id) FROM $2")
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
    finish "$db" interactions "$pid"
    [ "$DISTINCT" = "$N" ] || die "custos stored $DISTINCT distinct events of $N"
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
        echo '         queue.workerThreads="'"$RS_WORKERS"'" action.resumeRetryCount="-1")'
        echo '}'
    } >"$dir/rsyslog.conf"
    rsyslogd -N1 -f "$dir/rsyslog.conf" >"$dir/rsyslog-check.log" 2>&1 ||
        die "rsyslog refuses its configuration: $(tail -5 "$dir/rsyslog-check.log")"
    rsyslogd -n -f "$dir/rsyslog.conf" -i "$dir/rsyslog.pid" >"$dir/rsyslog.log" 2>&1 &
    local pid=$!
    PIDS+=("$pid")
    finish "$db" peer_events "$pid"
    [ "$DISTINCT" = "$N" ] || log "rsyslog stored $DISTINCT distinct events of $N (at-least-once: duplicates are its own)"
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
declare -A RATES=([custos]="" [rsyslog]="" [kcat]="")
for ((r = 1; r <= ROUNDS; r++)); do
    order="custos rsyslog"
    [ $((r % 2)) = 0 ] && order="rsyslog custos"
    for sys in $order kcat; do
        dir=$WORK/$sys.$r
        mkdir -p "$dir"
        fresh_topic "$dir"
        log "round $r: $sys draining $N events from $PARTS partitions"
        mark=$(bench_cpu_mark)
        "run_$sys" "$dir" "$r"
        read -r rate secs <<<"$R"
        RATES[$sys]+="$rate "
        printf '%-8s %6s %10s %8s  %s\n' "$sys" "$r" "$rate" "$secs" "$(bench_busy_since "$mark")" |
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
echo "rsyslog $(rsyslogd -v | head -n1 | awk '{print $2}' | tr -d ,): imkafka -> mmjsonparse -> ompgsql, $RS_WORKERS action workers, batches of 1024"
