#!/usr/bin/env bash
# Evidence export speed: EVENTS interactions of one key over one day (about
# 1.1 KB each, as custos gen's), exported as a signed bundle by `custos
# evidence export --key` (events.ndjson streamed by COPY into the tar, each
# byte hashed with SHA-256, the manifest signed), against the baseline of
# `COPY (the same SELECT) TO STDOUT` of the same rows into a file with psql,
# in the same run on the same database. Each is run ROUNDS times,
# alternating; the best of each is compared. Target: export >= 0.8 of COPY.
#
#   bench/forensics/run.sh [BUILD_DIR]        (EVENTS=1000000 ROUNDS=3)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$here/../.." && pwd)
build=$(cd "${1:-$src/build}" && pwd)
EVENTS=${EVENTS:-1000000}
ROUNDS=${ROUNDS:-3}
work=$(mktemp -d /tmp/custos-bench-fo.XXXXXX)
db=custos_bench_fo_$$
cleanup() {
    dropdb --if-exists -f "$db" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
if [ -z "${PGHOST:-}" ]; then
    . "$src/scripts/pg.sh"
    pg_start /tmp/custos-test-pg 55432 >/dev/null
fi
export PGUSER=${PGUSER:-postgres}
createdb "$db"
export CUSTOS_POSTGRES_DSN="host=$PGHOST port=$PGPORT user=$PGUSER dbname=$db"
export CUSTOS_AUDIT_SIGNING_KEY="$work/signing.key"
C=$build/custos
"$C" migrate --log-level warn
"$C" keys init >/dev/null

echo "== loading $EVENTS events of one key (2026-11-20)"
t0=$(date +%s.%N)
psql -X -q -v ON_ERROR_STOP=1 -d "$db" <<SQL
\o /dev/null
SELECT custos_ensure_partitions('2026-11-19', 3);
INSERT INTO interactions (ts, event_id, api_key_id, model, model_version, tenant, user_id,
                          session_id, client_ip, prompt, response, prompt_tokens,
                          completion_tokens, latency_ms, status, finish_reason, scores, attrs)
SELECT timestamptz '2026-11-20 00:00:00+00' + g * (interval '86399 s' / $EVENTS),
       'gw-' || lpad(g::text, 9, '0'), 'ak_bench', 'acme-chat', '2026-10-01', 'umbrella',
       'u-' || (g % 977), 's-' || (g % 5011), '203.0.113.7',
       'How can I improve my time management skills? Please give me ' || g || ' concrete "steps" and explain each one.',
       repeat('Here are a few techniques that work well: plan the day, batch similar tasks, protect focus time. ', 5),
       40, 240, 812.5, 200, 'stop', '{"toxicity": 0.01}', '{"route": "/v1/chat/completions"}'
FROM generate_series(1, $EVENTS) g;
ANALYZE interactions;
SQL
t1=$(date +%s.%N)
bytes=$(psql -X -A -t -d "$db" -c "SELECT sum(octet_length(row_to_json(i)::text) + 1) FROM interactions i WHERE api_key_id = 'ak_bench'")
printf 'loaded in %.1f s; NDJSON of the rows: %.0f MB (%.0f bytes/event)\n' "$(echo "$t1 - $t0" | bc)" \
    "$(echo "$bytes / 1000000" | bc -l)" "$(echo "$bytes / $EVENTS" | bc -l)"

# The same statement forensics/fo_export.c runs for --key (k_events_key).
SINCE=2026-11-20T00:00:00Z UNTIL=2026-11-21T00:00:00Z
copy_sql="COPY (SELECT row_to_json(i) FROM interactions i WHERE api_key_id = 'ak_bench' AND ts >= '$SINCE' AND ts < '$UNTIL' ORDER BY ts, event_id COLLATE \"C\") TO STDOUT (FORMAT csv, QUOTE e'\\x01', DELIMITER e'\\x02')"

best_copy=0 best_export=0
for round in $(seq "$ROUNDS"); do
    rm -f "$work/copy.ndjson" "$work/bundle.tar"
    t0=$(date +%s.%N)
    psql -X -q -v ON_ERROR_STOP=1 -d "$db" -c "$copy_sql" >"$work/copy.ndjson"
    t1=$(date +%s.%N)
    n=$(wc -l <"$work/copy.ndjson")
    [ "$n" = "$EVENTS" ] || { echo "COPY wrote $n rows, want $EVENTS" >&2; exit 1; }
    copy_rate=$(echo "$EVENTS / ($t1 - $t0)" | bc -l)
    rm -f "$work/copy.ndjson"
    t0=$(date +%s.%N)
    "$C" evidence export --key ak_bench --since "$SINCE" --until "$UNTIL" -o "$work/bundle.tar" >/dev/null
    t1=$(date +%s.%N)
    export_rate=$(echo "$EVENTS / ($t1 - $t0)" | bc -l)
    rows=$(tar -xOf "$work/bundle.tar" events.ndjson | wc -l)
    [ "$rows" = "$EVENTS" ] || { echo "the bundle holds $rows events, want $EVENTS" >&2; exit 1; }
    "$C" evidence verify "$work/bundle.tar" >/dev/null || { echo "the bundle does not verify" >&2; exit 1; }
    printf 'round %d: COPY TO STDOUT %8.0f rows/s   evidence export %8.0f rows/s   (%.2f)\n' \
        "$round" "$copy_rate" "$export_rate" "$(echo "$export_rate / $copy_rate" | bc -l)"
    best_copy=$(echo "if ($copy_rate > $best_copy) $copy_rate else $best_copy" | bc -l)
    best_export=$(echo "if ($export_rate > $best_export) $export_rate else $best_export" | bc -l)
done
ratio=$(echo "$best_export / $best_copy" | bc -l)
echo "== $EVENTS-event NDJSON export (best of $ROUNDS; machine load: $(cut -d' ' -f1-3 /proc/loadavg))"
printf '%-44s %10.0f rows/s\n' "COPY ... TO STDOUT (psql, same rows, baseline)" "$best_copy"
printf '%-44s %10.0f rows/s\n' "custos evidence export --key (signed tar)" "$best_export"
printf '%-44s %10.2f      target >= 0.80  %s\n' "export / COPY" "$ratio" \
    "$(echo "$ratio >= 0.8" | bc -l | sed 's/1/met/; s/0/NOT MET/')"
echo "== the last bundle's manifest.json (what an auditor checks it against)"
tar -xOf "$work/bundle.tar" manifest.json | python3 -m json.tool
