# Helpers for the playbooks' script tests (sourced after tests/lib/env.sh).

PB_DATA=$CUSTOS_SOURCE_DIR/tests/integration/playbooks/data

# pb_hook_server NAME ARGS...: starts the loopback HTTP receiver; sets
# PB_HOOK_PORT and PB_HOOK_LOG ($T_DIR/NAME.jsonl).
pb_hook_server() {
    local name=$1; shift
    PB_HOOK_LOG=$T_DIR/$name.jsonl
    : >"$PB_HOOK_LOG"
    python3 "$CUSTOS_SOURCE_DIR/tests/integration/playbooks/lib/hook_server.py" \
        --port-file "$T_DIR/$name.port" --log "$PB_HOOK_LOG" "$@" 2>"$T_DIR/$name.err" &
    T_PIDS+=("$!")
    for _ in $(seq 100); do
        [ -s "$T_DIR/$name.port" ] && break
        sleep 0.05
    done
    PB_HOOK_PORT=$(cat "$T_DIR/$name.port" 2>/dev/null) || t_fail "hook server did not start"
}

# pb_incident FILE ID [KEY]: writes a copy of the sample FILE with another
# incident_id (and api_key_id) to stdout.
pb_incident() {
    python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
d["incident_id"] = sys.argv[2]
if len(sys.argv) > 3:
    d["api_key_id"] = sys.argv[3]
print(json.dumps(d))' "$@"
}

# pb_expect WHAT GOT WANT
pb_expect() {
    [ "$2" = "$3" ] || t_fail "$1: got [$2], want [$3]"
    t_log "ok: $1 = $3"
}
