#!/usr/bin/env bash
# Memory with many api keys: custos run (collector + live analytics) fed
# N events, each of a distinct api key (default 1,000,000), through the
# embedded broker into a private PostgreSQL; prints the peak RSS (VmHWM) of
# custos run and the keys the analytics held at the end, for the
# analytics.max_keys given (CUSTOS_ANALYTICS_MAX_KEYS, default: the
# configured default). Target: <= 256 MB with 1M keys by default.
#
#   bash bench/ingest/keys_rss.sh [N]      (BENCH_KEYS_RATE=12000 events/s)
#
# A measurement, not a test: it exits 0 when it ran, whatever the figure.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
B=${CUSTOS_BIN:-$ROOT/build/custos}
N=${1:-1000000}
RATE=${BENCH_KEYS_RATE:-12000}
PARTS=16
PGDIR=${BENCH_PG_DIR:-/tmp/custos-bench-keys-pg}
PGPORT_BENCH=${BENCH_PG_PORT:-55454}
BENCH_NAME=keys
. "$ROOT/bench/lib.sh"
bench_setup
bench_pg "$PGDIR" "$PGPORT_BENCH"
DSN="host=$PGDIR port=$PGPORT_BENCH user=postgres dbname=bench_keys"
dropdb --if-exists bench_keys 2>/dev/null || true
createdb bench_keys
CUSTOS_POSTGRES_DSN=$DSN "$B" migrate --log-level warn

# N events of N distinct keys: custos gen's events with the key replaced
# and the texts cut to 120 characters (memory per key is what is measured).
"$B" gen --count 20000 --seed 5 >"$WORK/base.jsonl"
python3 - "$WORK/base.jsonl" "$WORK/keys.jsonl" "$N" <<'PY'
import json, sys
src = [json.loads(l) for l in open(sys.argv[1])]
with open(sys.argv[2], "w") as out:
    for i in range(int(sys.argv[3])):
        ev = dict(src[i % len(src)])
        ev["event_id"] = "keys-%07d" % i
        ev["api_key_id"] = "ak_%014x" % i
        for f in ("prompt", "response"):
            if isinstance(ev.get(f), str):
                ev[f] = ev[f][:120]
        out.write(json.dumps(ev, separators=(",", ":")) + "\n")
PY

"$B" broker --partitions "$PARTS" --topic bench.keys >"$WORK/broker.out" 2>"$WORK/broker.log" &
PIDS+=($!)
for _ in $(seq 100); do BROKER=$(head -n1 "$WORK/broker.out" 2>/dev/null || true); [ -n "$BROKER" ] && break; sleep 0.1; done
[ -n "$BROKER" ] || die "broker did not start"
CUSTOS_POSTGRES_DSN=$DSN CUSTOS_KAFKA_BROKERS=$BROKER CUSTOS_KAFKA_TOPICS=bench.keys \
    CUSTOS_KAFKA_GROUP=bench-keys "$B" run --log-level info 2>"$WORK/run.log" &
COLL=$!
PIDS+=("$COLL")
deadline=$((SECONDS + 60))
until [ "$(grep -c 'msg="partition assigned"' "$WORK/run.log")" -ge "$PARTS" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "collector not assigned: $(tail -n 3 "$WORK/run.log")"
    sleep 0.2
done
log "producing $N events of $N distinct keys at $RATE ev/s"
"$B" produce --rate "$RATE" --topic bench.keys --brokers "$BROKER" --linger-ms 25 \
    "$WORK/keys.jsonl" 2>"$WORK/producer.log" || die "producer failed: $(tail -n 2 "$WORK/producer.log")"
deadline=$((SECONDS + 300))
q() { psql -X -A -t -q -d "$DSN" -c "$1"; }
while [ "$(q "SELECT coalesce(sum(greatest(next_offset, 0)), 0) FROM ingest_offsets")" -lt "$N" ]; do
    [ "$SECONDS" -lt "$deadline" ] || die "not all stored 300 s after the producer"
    sleep 1
done
HWM_KB=$(awk '/^VmHWM:/ {print $2}' "/proc/$COLL/status")
kill -TERM "$COLL"
wait "$COLL" 2>/dev/null || true
an=$(grep 'msg="live analytics stopped"' "$WORK/run.log" || true)
# the most keys held at once and the most key state (the engine's count:
# the keys' allocations as sized, not malloc's overhead); at the end the
# partitions are handed back, so the keys are gone by then
keys=$(sed -nE 's/^.* keys_peak=([0-9]+) .*$/\1/p' <<<"$an")
mb=$(sed -nE 's/^.* key_state_mb_peak=([0-9.]+) .*$/\1/p' <<<"$an")
avg=$(awk -v k="${keys:-0}" -v m="${mb:-0}" 'BEGIN { if (k > 0) printf "%.0f", m * 1048576 / k; else print "?" }')
stored=$(q "SELECT count(*) FROM interactions")
gaps=$(q "SELECT coalesce(sum(next_present - first_missing), 0) FROM ingest_gaps")
printf '%-40s %s\n' "events (distinct keys) stored" "$stored of $N (lost to retention: $gaps)"
printf '%-40s %s\n' "analytics.max_keys" "${CUSTOS_ANALYTICS_MAX_KEYS:-default}"
printf '%-40s %s\n' "keys held at most" "${keys:-?} (key state ${mb:-?} MB at most, ${avg} B a key, engine's count)"
printf '%-40s %s\n' "load average at the end" "$(cut -d' ' -f1-3 /proc/loadavg)"
printf '%-40s %s MB   (target <= 256 MB)\n' "peak RSS of custos run (VmHWM)" "$((HWM_KB / 1024))"
