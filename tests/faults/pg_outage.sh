#!/usr/bin/env bash
# Fault (b): PostgreSQL stops for 10 s in the middle of a paced stream. The
# same collector process must notice (one "postgres unavailable" line), retry
# by itself, come back (one "postgres available again" line) and store every
# event exactly once. Uses a private PostgreSQL cluster of its own, which it
# stops and starts (never the shared one).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"
. "$(dirname "$0")/../lib/faults.sh"
. "$CUSTOS_SOURCE_DIR/scripts/pg.sh"

# Pacing: while PostgreSQL is down nothing is committed, and the broker keeps
# only ~5 MiB a partition (~4,700 of these events); the busiest partition
# gets ~23 % of the traffic. At 1000 events/s that is ~20 s of its traffic,
# twice the outage, so a collector that resumes late on a busy machine still
# finds its backlog (at 2000 events/s a run at load 30 lost 1,852 events to
# retention). 40,000 events: 12 s before the outage, 10 s down, 18 s after.
N=${PG_OUTAGE_EVENTS:-40000}
RATE=${PG_OUTAGE_RATE:-1000}
OUTAGE_AT=12
OUTAGE_S=10
PARTS=16
# A cluster of its own for every run: its own folder (outside T_DIR, which
# only root may enter, since the server runs as 'postgres') and port.
FPG=${PG_OUTAGE_DIR:-$(mktemp -d /tmp/custos-fault-pg.XXXXXX)}
FPORT=${PG_OUTAGE_PORT:-$(t_free_port)}

# Bring it back up before the databases are dropped, then stop it and
# remove its folder.
t_at_exit_first 'pg_up "$FPG" >/dev/null 2>&1'
t_at_exit 'pg_stop "$FPG"; [ -n "${PG_OUTAGE_DIR:-}" ] || rm -rf "$FPG"'
pg_start "$FPG" "$FPORT" || t_fail "cannot start the private PostgreSQL in $FPG"
t_log "private PostgreSQL in $FPG on port $FPORT"

t_fault_setup "$PARTS" "$N" 11
t_fault_collector collector
COLL=$T_LAST_PID
t_fault_stream "$RATE"
sleep "$OUTAGE_AT"
before=$(t_count)
pg_down "$FPG"
t_log "PostgreSQL stopped at t=$((SECONDS - T0))s (stored so far $before)"
sleep "$OUTAGE_S"
kill -0 "$COLL" 2>/dev/null || t_fail "collector died while PostgreSQL was down: $(tail -n 5 "$T_DIR/collector.log")"
pg_up "$FPG" || t_fail "cannot restart the private PostgreSQL"
UP_AT=$SECONDS
t_log "PostgreSQL started again at t=$((SECONDS - T0))s"

t_wait_log "$T_DIR/collector.log" 'msg="postgres available again"' 60 "$COLL"
t_log "collector resumed within $((SECONDS - UP_AT + 1))s of PostgreSQL coming back"
t_wait_stream_stored "$N"
kill -0 "$COLL" 2>/dev/null || t_fail "the collector did not survive the outage"
down_ms=$(sed -nE 's/^.*msg="postgres available again" down_ms=([0-9]+).*$/\1/p' "$T_DIR/collector.log")
t_log "collector saw PostgreSQL down for ${down_ms} ms"

down=$(grep -c 'msg="postgres unavailable, pausing and retrying"' "$T_DIR/collector.log" || true)
up=$(grep -c 'msg="postgres available again"' "$T_DIR/collector.log" || true)
t_log "log: unavailable=$down available_again=$up"
t_log "  $(grep -m1 'msg="postgres unavailable' "$T_DIR/collector.log" | cut -c1-200)"
t_log "  $(grep -m1 'msg="postgres available again"' "$T_DIR/collector.log")"
[ "$down" = 1 ] || t_fail "'postgres unavailable' logged $down times, want once per outage"
[ "$up" = 1 ] || t_fail "'postgres available again' logged $up times, want once per outage"
# Unavailable comes before available again.
first_down=$(grep -n -m1 'msg="postgres unavailable' "$T_DIR/collector.log" | cut -d: -f1)
first_up=$(grep -n -m1 'msg="postgres available again"' "$T_DIR/collector.log" | cut -d: -f1)
[ "$first_down" -lt "$first_up" ] || t_fail "state changes logged out of order"

# Graceful stop, then the retry count: capped exponential backoff from
# collector.retry_min_ms (100 ms) needs about 7 attempts for a 10 s outage;
# retrying at the batch rate instead would make hundreds.
kill -TERM "$COLL"
rc=0
wait "$COLL" || rc=$?
[ "$rc" = 0 ] || t_fail "custos run exited $rc on SIGTERM after the outage"
stopped=$(grep 'msg="collector stopped"' "$T_DIR/collector.log" | sed 's/^.*msg="collector stopped" //')
t_log "collector: $stopped"
retries=$(sed -nE 's/^.*msg="collector stopped".* retries=([0-9]+).*$/\1/p' "$T_DIR/collector.log")
[ -n "$retries" ] && [ "$retries" -ge 1 ] || t_fail "no retries counted during the outage"
[ "$retries" -le 20 ] || t_fail "$retries retries in a ${OUTAGE_S}s outage: the backoff is not applied"

t_check_stream "$N" "$PARTS" "$T_DIR/collector.log"
t_log "PASS"
