# Helpers for the web tests (sourced after tests/lib/env.sh): a migrated
# database with one user per role and an admin token, `custos web` on a
# free port, and a curl wrapper that checks the security headers of every
# answer it gets.
#
#   w_setup [ENV=VALUE...]   database, users, token, server; W_BASE, W_PORT
#   w_req METHOD PATH [curl args...]   sets W_STATUS; body in $W_BODY, headers in $W_HDRS
#   w_signin USER [JAR]      signs in (password $W_PW); sets W_CSRF; cookies in JAR

W_PW='correct horse battery staple'
W_ROLES=(viewer analyst responder auditor admin)
W_CSP="default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'"
W_TLS=0
W_BODY=$T_DIR/body
W_HDRS=$T_DIR/headers
W_REQS=0
W_ERR_BODY="" W_ERR_CODE=""

# w_user NAME ROLE: adds a user with $W_PW.
w_user() {
    printf '%s\n' "$W_PW" | "$CUSTOS_BIN" user add "$1" --role "$2" --log-level warn >/dev/null ||
        t_fail "user add $1 failed"
}

# w_start [ENV=VALUE...]: starts custos web (more settings as environment);
# waits until /healthz answers. A port taken between t_free_port and the
# bind (another test's) is retried on another port, up to 5 times.
w_start() {
    local attempt
    for attempt in 1 2 3 4 5; do
        W_PORT=$(t_free_port)
        local scheme=http
        [ "$W_TLS" = 1 ] && scheme=https
        W_BASE="$scheme://127.0.0.1:$W_PORT"
        W_ORIGIN=$W_BASE
        local logstart
        logstart=0
        [ -f "$T_DIR/web.log" ] && logstart=$(wc -l <"$T_DIR/web.log")
        env CUSTOS_WEB_LISTEN="127.0.0.1:$W_PORT" "$@" "$CUSTOS_BIN" web --log-level debug \
            >"$T_DIR/web.out" 2>>"$T_DIR/web.log" &
        W_PID=$!
        T_PIDS+=("$W_PID")
        local deadline=$((SECONDS + 30))
        while [ "$SECONDS" -lt "$deadline" ]; do
            # Answering, and its start-up line written (it may come just
            # after the first answer; tests read the limits it names).
            if curl -sk -o /dev/null "$W_BASE/healthz" 2>/dev/null &&
                tail -n +"$((logstart + 1))" "$T_DIR/web.log" | grep -q 'msg="listening"'; then
                return 0
            fi
            if ! kill -0 "$W_PID" 2>/dev/null; then
                tail -n +"$((logstart + 1))" "$T_DIR/web.log" | grep -q 'Address already in use' && continue 2
                t_fail "custos web exited: $(tail -5 "$T_DIR/web.log")"
            fi
            sleep 0.05
        done
        t_fail "custos web did not answer within 30 s"
    done
    t_fail "no free port after 5 attempts"
}

# w_stop: SIGTERM, and it must exit 0 within 10 s.
w_stop() {
    kill -TERM "$W_PID"
    local deadline=$((SECONDS + 10))
    while kill -0 "$W_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
    kill -0 "$W_PID" 2>/dev/null && t_fail "custos web still running 10 s after SIGTERM"
    wait "$W_PID" || t_fail "custos web exited $? after SIGTERM"
}

w_setup() {
    t_db
    for r in "${W_ROLES[@]}"; do w_user "$r" "$r"; done
    W_ADMIN_TOKEN=$("$CUSTOS_BIN" token create --role admin --name ops --log-level warn 2>/dev/null)
    [ -n "$W_ADMIN_TOKEN" ] || t_fail "token create printed nothing"
    w_start "$@"
}

# w_check_headers: the security headers every answer must carry. The
# header lines are matched in the shell itself (case-insensitively, as grep
# -i did), not by a grep per header: a web test makes hundreds of calls
# (web.roles 616) and a loaded machine spent most of their time starting
# processes. An error body's shape is checked by one python3, which also
# keeps the error code for w_expect (W_ERR_CODE, of body W_ERR_BODY).
w_check_headers() {
    local h="" nc=0
    IFS= read -r -d '' h <"$W_HDRS" || true
    h=$'\n'$h
    shopt -q nocasematch && nc=1
    shopt -s nocasematch
    [[ $h == *"content-security-policy: $W_CSP"$'\r'* ]] || t_fail "CSP missing or different on $W_WHAT: $(cat "$W_HDRS")"
    [[ $h == *$'\n''x-content-type-options: nosniff'$'\r'* ]] || t_fail "nosniff missing on $W_WHAT"
    [[ $h == *$'\n''referrer-policy: no-referrer'$'\r'* ]] || t_fail "Referrer-Policy missing on $W_WHAT"
    if [[ "$W_WHAT" == *" /assets/"* ]] && [ "${W_STATUS:0:1}" = 2 ]; then
        # the console's content-hashed assets: cached for a year, never revalidated
        [[ $h == *$'\n''cache-control: public, max-age=31536000, immutable'$'\r'* ]] ||
            t_fail "an asset without its long cache on $W_WHAT: $(grep -i '^cache-control' "$W_HDRS")"
        if [[ $h == *$'\n''cache-control: no-store'* ]]; then t_fail "an asset marked no-store: $W_WHAT"; fi
    else
        [[ $h == *$'\n''cache-control: no-store'$'\r'* ]] || t_fail "Cache-Control: no-store missing on $W_WHAT"
    fi
    [[ $h == *$'\n''cross-origin-opener-policy: same-origin'$'\r'* ]] || t_fail "COOP missing on $W_WHAT"
    [[ $h == *$'\n''cross-origin-resource-policy: same-origin'$'\r'* ]] || t_fail "CORP missing on $W_WHAT"
    if [[ $h == *$'\n''server:'* ]]; then t_fail "a Server header on $W_WHAT: $(grep -i '^server:' "$W_HDRS")"; fi
    if [ "$W_TLS" = 1 ]; then
        [[ $h == *$'\n''strict-transport-security: max-age='* ]] || t_fail "HSTS missing under TLS on $W_WHAT"
    elif [[ $h == *$'\n''strict-transport-security:'* ]]; then
        t_fail "HSTS on plain HTTP on $W_WHAT"
    fi
    [ "$nc" = 1 ] || shopt -u nocasematch
    W_ERR_BODY="" W_ERR_CODE=""
    # An error is JSON {"error":{"code","message"}}.
    if [ "${W_STATUS:0:1}" = 4 ] || [ "${W_STATUS:0:1}" = 5 ]; then
        W_ERR_CODE=$(python3 -c '
import json, sys
e = json.load(open(sys.argv[1]))["error"]
assert isinstance(e["code"], str) and e["code"] and isinstance(e["message"], str), e
print(e["code"])' "$W_BODY" "$W_WHAT") ||
            t_fail "error answer of $W_WHAT is not {error:{code,message}}: $(cat "$W_BODY")"
        IFS= read -r -d '' W_ERR_BODY <"$W_BODY" || true
    fi
}

# w_req METHOD PATH [curl args...]
w_req() {
    local method=$1 path=$2
    shift 2
    W_WHAT="$method $path"
    W_STATUS=$(curl -sk -o "$W_BODY" -D "$W_HDRS" -w '%{http_code}' -X "$method" "$@" "$W_BASE$path") ||
        W_STATUS=000
    W_REQS=$((W_REQS + 1))
    [ "$W_STATUS" = 000 ] || w_check_headers
}

# w_stream PATH [--header 'N: v']... [sse.py options]: GET PATH with the
# independent SSE client (lib/sse.py): W_STATUS, headers checked; the events
# (one JSON a line) or the error body in $W_BODY.
W_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
w_stream() {
    local path=$1
    shift
    W_WHAT="GET $path"
    W_STATUS=$(python3 "$W_LIB/sse.py" "$W_BASE$path" "$W_HDRS" "$W_BODY" "$@") ||
        t_fail "$W_WHAT: the stream did not give what was waited for within the deadline: $(cat "$W_BODY")"
    W_REQS=$((W_REQS + 1))
    w_check_headers
}

# w_jar_cookie JAR: the session cookie in JAR as a Cookie header value.
w_jar_cookie() { awk -F'\t' '$6 ~ /custos_session$/ {print $6 "=" $7}' "$1" | tail -n1; }

# w_expect STATUS [CODE]: the last answer's status (and error code).
w_expect() {
    [ "$W_STATUS" = "$1" ] || t_fail "$W_WHAT: status $W_STATUS, wanted $1: $(head -c 300 "$W_BODY")"
    if [ -n "${2:-}" ]; then
        local code body=""
        # The code w_check_headers read, if the body is still that answer's.
        IFS= read -r -d '' body <"$W_BODY" 2>/dev/null || true
        if [ -n "$W_ERR_BODY" ] && [ "$body" = "$W_ERR_BODY" ]; then
            code=$W_ERR_CODE
        else
            code=$(w_json '["error"]["code"]')
        fi
        [ "$code" = "$2" ] || t_fail "$W_WHAT: error code '$code', wanted '$2'"
    fi
}

# w_json EXPR: a value of the last body, as python prints it.
w_json() { python3 -c "import json,sys; v=json.load(open(sys.argv[1]))$1; print(v if not isinstance(v,bool) else str(v).lower())" "$W_BODY"; }

# w_header NAME: the value of a header of the last answer (first one).
w_header() { grep -i "^$1:" "$W_HDRS" | head -n1 | cut -d: -f2- | sed 's/^ //; s/\r$//'; }

w_signin() {
    local user=$1 jar=${2:-$T_DIR/jar.$1}
    rm -f "$jar"
    w_req POST /api/v1/session -c "$jar" -H 'Content-Type: application/json' \
        -d "{\"username\":\"$user\",\"password\":\"$W_PW\"}"
    w_expect 200
    W_CSRF=$(w_json '["csrf_token"]')
    W_JAR=$jar
}

# w_sql SQL: as t_sql.
w_sql() { t_sql "$1"; }
