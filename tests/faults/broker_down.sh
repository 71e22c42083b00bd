#!/usr/bin/env bash
# Fault (c): every broker of the embedded cluster down for 10 s in the middle
# of a paced stream (custos broker: SIGUSR1 = rd_kafka_mock_broker_set_down,
# SIGUSR2 = set_up). The same collector process must ride it out and store
# every event exactly once.
#
# Pacing: while the broker is down the producer buffers (librdkafka retries
# for message.timeout.ms) and sends the backlog in one burst when it is back;
# the mock keeps ~5 MiB a partition and the busiest key sends ~20 % of the
# traffic to one partition, so 10 s of backlog must stay well under that:
# 800 events/s: 10 s down plus ~5 s to reconnect is ~3 MB on the busiest
# partition. 36,000 events are 45 s of stream: the outage from 15 s to 25 s,
# the backlog's burst, then 20 s of traffic to show the same process keeps
# up after it.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../lib/ingest.sh"
. "$(dirname "$0")/../lib/faults.sh"

N=${BROKER_DOWN_EVENTS:-36000}
RATE=${BROKER_DOWN_RATE:-800}
DOWN_AT=15
DOWN_S=10
PARTS=16
# Longer than the outage: the member stays in the group and resumes at once
# (with the 10 s default it is evicted and the group re-forms first).
export CUSTOS_KAFKA_SESSION_TIMEOUT_MS=30000ms

t_fault_setup "$PARTS" "$N" 13
t_fault_collector collector
COLL=$T_LAST_PID
t_fault_stream "$RATE"
sleep "$DOWN_AT"
DOWN_LINE=$(wc -l <"$T_DIR/collector.log")
at_down=$(t_count)
kill -USR1 "$T_BROKER_PID"
t_wait_log "$T_DIR/broker.log" 'brokers set down' 10 "$T_BROKER_PID"
t_log "brokers down at t=$((SECONDS - T0))s (stored so far $at_down)"
sleep "$DOWN_S"
kill -0 "$COLL" 2>/dev/null || t_fail "collector died while the broker was down: $(tail -n 5 "$T_DIR/collector.log")"
at_up=$(t_count)
kill -USR2 "$T_BROKER_PID"
t_wait_log "$T_DIR/broker.log" 'brokers set up' 10 "$T_BROKER_PID"
UP_AT=$SECONDS
t_log "brokers up at t=$((SECONDS - T0))s (stored $at_up, $((at_up - at_down)) of them while down: what was already fetched)"

# The collector noticed: Kafka errors logged after the brokers went down.
errs=$(tail -n +"$((DOWN_LINE + 1))" "$T_DIR/collector.log" | grep -cE 'level=(warn|error) module=(kafka|collector)' || true)
t_log "collector logged $errs Kafka warnings/errors during the outage, e.g.:"
t_log "  $(tail -n +"$((DOWN_LINE + 1))" "$T_DIR/collector.log" | grep -m1 -E 'level=(warn|error) module=(kafka|collector)' | cut -c1-220)"
[ "$errs" -ge 1 ] || t_fail "the collector logged nothing while the broker was down"

# Progress resumes after the brokers return.
deadline=$((SECONDS + 60))
while [ "$(t_count)" -le "$at_up" ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "nothing stored within 60 s of the brokers coming back"
    sleep 0.5
done
t_log "storing again $((SECONDS - UP_AT))s (at most) after the brokers came back"

t_wait_stream_stored "$N"
kill -0 "$COLL" 2>/dev/null || t_fail "the collector did not survive the outage"
t_check_stream "$N" "$PARTS" "$T_DIR/collector.log"
assigned=$(grep -c 'msg="partition assigned"' "$T_DIR/collector.log" || true)
t_log "partition assignments over the run: $assigned (16 = no rebalance; more = the group re-formed)"
t_log "PASS"
