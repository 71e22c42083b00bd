#!/usr/bin/env bash
# Route x role: every route of the server's own table (custos web --routes)
# is called by every role, signed in with a session (with its CSRF token
# and Origin) and with an API token of that role, and anonymously; the
# answer must be "allowed" (anything but 401/403) exactly where the
# expected matrix below says so, and 403 (401 anonymous) elsewhere. Ids
# that do not exist are used, so a denied call shows 403 where an allowed
# one shows 404: authorisation comes before any look-up.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

# What each need allows, written here independently of web_router.c's table.
declare -A ALLOW=(
    [none]="anonymous viewer analyst responder auditor admin"
    [signed_in]="viewer analyst responder auditor admin"
    [read]="viewer analyst responder auditor admin"
    [triage]="analyst responder admin"
    [respond]="responder admin"
    [forensic]="auditor admin"
    [reveal]="analyst responder auditor admin"
    [admin]="admin"
)

w_setup
declare -A TOKEN
for r in "${W_ROLES[@]}"; do
    TOKEN[$r]=$("$CUSTOS_BIN" token create --role "$r" --name "t-$r" --log-level warn 2>/dev/null)
done
declare -A CSRF
signin() { w_signin "$1" "$T_DIR/jar.$1"; CSRF[$1]=$W_CSRF; }
for r in "${W_ROLES[@]}"; do signin "$r"; done

"$CUSTOS_BIN" web --routes >"$T_DIR/routes"
nroutes=$(wc -l <"$T_DIR/routes")
[ "$nroutes" -ge 11 ] || t_fail "only $nroutes routes listed"
cells=0 matrix=""
while read -r method pattern need flags; do
    [ -n "${ALLOW[$need]+x}" ] || t_fail "route $method $pattern needs '$need', which this test does not know"
    grep -qF "### \`$method $pattern\`" "$CUSTOS_SOURCE_DIR/docs/api.md" ||
        t_fail "docs/api.md does not document $method $pattern"
    path=${pattern//\{id\}/999999}
    path=${path//\{key\}/k-nobody}
    path=${path//\{model\}/m-nobody}
    path=${path//\{version\}/v-nobody}
    args=()
    [[ " $flags " == *" body "* ]] && args=(-H 'Content-Type: application/json' -d '{}')
    row="$method $pattern:"
    for who in anonymous "${W_ROLES[@]}" "${W_ROLES[@]/#/token:}"; do
        role=${who#token:}
        if [ "$method $pattern" = "GET /api/v1/stream" ]; then
            # A stream does not end: read its first block with an SSE client.
            case $who in
                anonymous) w_stream "$path" ;;
                token:*) w_stream "$path" --header "Authorization: Bearer ${TOKEN[$role]}" ;;
                *) w_stream "$path" --header "Cookie: $(w_jar_cookie "$T_DIR/jar.$role")" ;;
            esac
        else
        case $who in
            anonymous) w_req "$method" "$path" "${args[@]}" ;;
            token:*) w_req "$method" "$path" -H "Authorization: Bearer ${TOKEN[$role]}" "${args[@]}" ;;
            *) w_req "$method" "$path" -b "$T_DIR/jar.$role" -H "X-CSRF-Token: ${CSRF[$role]}" \
                   -H "Origin: $W_ORIGIN" "${args[@]}" ;;
        esac
        fi
        allowed=0
        [[ " ${ALLOW[$need]} " == *" $role "* ]] && allowed=1
        if [ "$allowed" = 1 ]; then
            case $W_STATUS in
                401 | 403 | 5*) t_fail "$who on $method $pattern: $W_STATUS, should be allowed: $(cat "$W_BODY")" ;;
            esac
        elif [ "$who" = anonymous ]; then
            w_expect 401 unauthenticated
        else
            w_expect 403 forbidden
        fi
        row+=" $who=$W_STATUS"
        cells=$((cells + 1))
        # Signing out ends the session the next calls need.
        if [ "$method $pattern" = "DELETE /api/v1/session" ] && [ "$who" = "$role" ] && [ "$who" != anonymous ]; then
            signin "$role"
        fi
    done
    matrix+="$row"$'\n'
done <"$T_DIR/routes"
printf '%s' "$matrix" >"$T_DIR/matrix"
t_log "matrix (route: who=status):"
cat "$T_DIR/matrix" >&2
[ "$cells" = $((nroutes * 11)) ] || t_fail "$cells cells for $nroutes routes"
# Denials are logged with the actor and the need, and counted.
grep -q 'msg="access denied" actor=viewer role=viewer route=/api/v1/users need=admin' "$T_DIR/web.log" ||
    t_fail "a denial is not logged"
curl -s -o "$T_DIR/metrics" "$W_BASE/metrics"
grep -q '^custos_web_access_denied_total [1-9]' "$T_DIR/metrics" || t_fail "denials not counted"
w_stop
t_log "PASS: $nroutes routes x 11 callers = $cells cells as expected"
