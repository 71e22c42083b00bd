#!/usr/bin/env bash
# Redaction at ingest through the real path: native events through the
# embedded broker into `custos run` and PostgreSQL. With
# collector.redact_personal=pseudonymise (secrets masked, the default) the
# stored prompt, response and attrs hold [redacted:api_key] and
# [email:HEX12] tokens instead of the values; the same address is the same
# token in two events and after a restart (the key file, made 0600 at first
# start, is kept); the detectors still see the original: a response carrying
# an AWS key raises a leakage incident whose evidence holds the value's
# keyed hash (its first 12 hex digits are the stored token for the e-mail
# address beside it), never the value; a dead letter's raw bytes and reason
# are masked; with redact_personal=off the address is stored as received;
# pseudonymise without a key file stops start-up naming the setting.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/../../lib/ingest.sh"

TOPIC=custos.interactions
KEY=$T_DIR/keys/redact.key
mkdir -p "$T_DIR/keys"
AWS=AKIAZ7QX3MB2W9KD4PLT
SK=sk-proj-Qw3rTy7uIo9pAs2dFg5hJk8lZx
MAIL=alice.liddell@example.org

ev() { # ev ID PROMPT RESPONSE [ATTRS]
    printf '{"event_id":"%s","ts":"2026-11-21T13:0%s:00Z","api_key_id":"key-r","model":"gpt-4o","model_version":"2024-08-06","prompt":"%s","response":"%s"%s}\n' \
        "$1" "${1#e}" "$2" "$3" "${4:+,\"attrs\":$4}"
}

t_db
t_broker 2 "$TOPIC"
export CUSTOS_COLLECTOR_REDACT_KEY=$KEY

# pseudonymise without a key file: start-up stops, naming the setting
if env CUSTOS_COLLECTOR_REDACT_KEY= CUSTOS_COLLECTOR_REDACT_PERSONAL=pseudonymise \
    timeout 60 "$CUSTOS_BIN" run --log-level warn >"$T_DIR/nokey.out" 2>"$T_DIR/nokey.log"; then
    t_fail "custos run started with redact_personal=pseudonymise and no collector.redact_key"
fi
grep -q "set collector.redact_key" "$T_DIR/nokey.log" ||
    t_fail "no clear error without a key: $(tail -n 3 "$T_DIR/nokey.log")"

run_phase() { # run_phase NAME PERSONAL FILE ROWS REJECTED
    t_start_collector "$1" CUSTOS_COLLECTOR_REDACT_PERSONAL="$2"
    local pid=$T_LAST_PID
    t_wait_log "$T_DIR/$1.log" 'msg="partition assigned"' 60 "$pid"
    "$CUSTOS_BIN" produce --rate 0 --brokers "$T_BROKER" --topic "$TOPIC" "$3" 2>"$T_DIR/$1.produce.log" ||
        t_fail "produce: $(tail -n 3 "$T_DIR/$1.produce.log")"
    t_wait_count "$4" 120
    t_wait_sql "SELECT count(*) FROM rejected_events" "$5" 120
    # SIGTERM: the analytics run the detectors over what the reorder window
    # holds (the last event of a partition waits there for a later one) and
    # store the incidents before custos run exits
    kill -TERM "$pid"
    wait "$pid" || t_fail "custos run exited $? after SIGTERM: $(tail -n 5 "$T_DIR/$1.log")"
}

# phase 1: the first start makes the key
{
    ev e1 "my key is $SK, write to $MAIL" "noted" "{\"note\":\"cc $MAIL\",\"h\":\"Bearer abcdefgh12345678\"}"
    ev e2 "what is in the env file?" "AWS_ACCESS_KEY_ID=$AWS and the owner is $MAIL"
    printf '{"event_id":"e9","ts":"not a time","api_key_id":"key-r","prompt":"%s to %s"}\n' "$AWS" "$MAIL"
} >"$T_DIR/p1.jsonl"
run_phase p1 pseudonymise "$T_DIR/p1.jsonl" 2 1
[ "$(stat -c %a "$KEY")" = 600 ] || t_fail "the key file is mode $(stat -c %a "$KEY"), wanted 600"

# nothing stored holds a value
for v in "$SK" "$AWS" "$MAIL" abcdefgh12345678; do
    n=$(t_sql "SELECT count(*) FROM interactions WHERE strpos(concat(prompt, response, attrs::text), '$v') > 0")
    [ "$n" = 0 ] || t_fail "$n stored rows hold $v"
    n=$(t_sql "SELECT count(*) FROM rejected_events WHERE strpos(convert_from(raw, 'UTF8') || reason, '$v') > 0")
    [ "$n" = 0 ] || t_fail "a dead letter holds $v"
done
p1=$(t_sql "SELECT prompt FROM interactions WHERE event_id = 'e1'")
TOK=$(grep -oE '\[email:[0-9a-f]{12}\]' <<<"$p1" || true)
[ -n "$TOK" ] || t_fail "no e-mail token in the stored prompt: $p1"
[ "$p1" = "my key is [redacted:api_key], write to $TOK" ] || t_fail "stored prompt: $p1"
a1=$(t_sql "SELECT attrs->>'note' || ' | ' || (attrs->>'h') FROM interactions WHERE event_id = 'e1'")
[ "$a1" = "cc $TOK | Bearer [redacted:bearer]" ] || t_fail "stored attrs: $a1"
r2=$(t_sql "SELECT response FROM interactions WHERE event_id = 'e2'")
[ "$r2" = "AWS_ACCESS_KEY_ID=[redacted:api_key] and the owner is $TOK" ] || t_fail "stored response: $r2"
# the dead letter: same length, the values blanked
raw=$(t_sql "SELECT convert_from(raw, 'UTF8') FROM rejected_events")
grep -q '"prompt":"\*\{20\} to \*\{25\}"' <<<"$raw" || t_fail "dead letter raw: $raw"

# the leakage incident: the evidence names the values by hash, never by
# value (the incident's document holds the evidence of the alert that
# opened it)
LEAK="FROM incidents, jsonb_array_elements(doc->'evidence'->'values') v
      WHERE type = 'leakage' AND api_key_id = 'key-r'"
ev_json=$(t_sql "SELECT doc->'evidence' FROM incidents WHERE type = 'leakage' AND api_key_id = 'key-r'")
t_log "leakage evidence: $ev_json"
[ -n "$ev_json" ] || t_fail "no leakage incident for key-r"
for v in "$AWS" "$MAIL"; do
    grep -qF "$v" <<<"$ev_json" && t_fail "the evidence holds $v"
done
ah=$(t_sql "SELECT v->>'hash' $LEAK AND v->>'class' = 'api_key'
              AND (v->>'keyed')::boolean AND (v->>'from')::int = 18 AND (v->>'to')::int = 38")
[[ "$ah" =~ ^[0-9a-f]{64}$ ]] || t_fail "no keyed hash of the AWS key at 18..38 in the evidence: $ev_json"
eh=$(t_sql "SELECT v->>'hash' $LEAK AND v->>'class' = 'email'")
[ "[email:${eh:0:12}]" = "$TOK" ] || t_fail "the evidence's e-mail hash $eh is not the stored token $TOK"

# phase 2: a restart with the same key file: the same token
ev e3 "again $MAIL" "ok" >"$T_DIR/p2.jsonl"
run_phase p2 pseudonymise "$T_DIR/p2.jsonl" 3 1
p3=$(t_sql "SELECT prompt FROM interactions WHERE event_id = 'e3'")
[ "$p3" = "again $TOK" ] || t_fail "after a restart: $p3, wanted again $TOK"

# phase 3: personal data off (the default): kept as received; secrets still masked
ev e4 "mail $MAIL with $SK" "ok" >"$T_DIR/p3.jsonl"
run_phase p3 off "$T_DIR/p3.jsonl" 4 1
p4=$(t_sql "SELECT prompt FROM interactions WHERE event_id = 'e4'")
[ "$p4" = "mail $MAIL with [redacted:api_key]" ] || t_fail "with redact_personal=off: $p4"
t_log "stored: $p1 / $r2 / $p3 / $p4"
