#!/usr/bin/env bash
# Sign-in, sessions and sign-out against the real server and PostgreSQL,
# with curl: the happy paths, every 4xx on these routes (bad JSON, oversize
# bodies, wrong media type, bad ids, missing or wrong CSRF token, wrong or
# missing Origin, expired sessions, 404 and 405 with Allow), sign-out,
# disable, new password and new role ending sessions server-side, the
# audit rows, and no secret in the log or the audit chain. Every answer's
# security headers are checked by w_req.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup

# ---- sign-in ----
w_signin analyst "$T_DIR/a1"
sc=$(w_header Set-Cookie)
t_log "Set-Cookie: ${sc%%=*}=...; ${sc#*; }"
case "$sc" in custos_session=*) ;; *) t_fail "cookie name: $sc" ;; esac
for attr in 'Path=/' 'HttpOnly' 'SameSite=Strict' 'Max-Age=43200'; do
    grep -q "; $attr" <<<"$sc" || t_fail "cookie lacks $attr: $sc"
done
if grep -qi 'secure' <<<"$sc"; then t_fail "Secure on a plain-HTTP cookie"; fi
tok1=$(sed 's/^custos_session=//; s/;.*//' <<<"$sc")
[ "${#tok1}" = 43 ] || t_fail "session token is not 256 bits in base64url: ${#tok1} chars"
[ "$(w_json '["user"]')" = analyst ] && [ "$(w_json '["role"]')" = analyst ] ||
    t_fail "sign-in body: $(cat "$W_BODY")"
csrf1=$W_CSRF
[ "${#csrf1}" = 43 ] || t_fail "csrf token length ${#csrf1}"
# Only the SHA-256 of the token is stored.
stored=$(w_sql "SELECT encode(token_sha256, 'hex') FROM web_sessions")
want=$(printf '%s' "$tok1" | sha256sum | cut -d' ' -f1)
[ "$stored" = "$want" ] || t_fail "stored session hash $stored is not sha256(token) $want"
[ "$(w_sql "SELECT count(*) FROM web_sessions WHERE csrf_token = '$csrf1'")" = 1 ] || t_fail "csrf stored"

w_req GET /api/v1/session -b "$T_DIR/a1"
w_expect 200
[ "$(w_json '["user"]')" = analyst ] && [ "$(w_json '["csrf_token"]')" = "$csrf1" ] ||
    t_fail "GET session: $(cat "$W_BODY")"

# A second sign-in gets a new token (never the old one): two sessions.
w_signin analyst "$T_DIR/a2"
csrf2=$W_CSRF
tok2=$(grep custos_session "$T_DIR/a2" | awk '{print $7}')
[ "$tok2" != "$tok1" ] || t_fail "a second sign-in reused the token"
w_req GET /api/v1/sessions -b "$T_DIR/a2"
w_expect 200
[ "$(w_json '["sessions"].__len__()')" = 2 ] || t_fail "sessions: $(cat "$W_BODY")"
[ "$(w_json '["sessions"]' | grep -o "'current': True" | wc -l)" = 1 ] || t_fail "one session is current"
s1=$(w_sql "SELECT min(session_id) FROM web_sessions")
s2=$(w_sql "SELECT max(session_id) FROM web_sessions")
[ "$(w_json '["sessions"][0]["id"]')" = "$s2" ] && [ "$(w_json '["sessions"][0]["current"]')" = true ] ||
    t_fail "newest first, current marked: $(cat "$W_BODY")"

# ---- wrong answers to sign-in ----
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '{"username":"analyst","password":"wrong password!"}'
w_expect 401 signin_failed
body_bad=$(cat "$W_BODY")
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '{"username":"nobody","password":"wrong password!"}'
w_expect 401 signin_failed
[ "$(cat "$W_BODY")" = "$body_bad" ] || t_fail "unknown user and bad password answer differently"
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '{"username":"analyst"'
w_expect 400 bad_json
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '{"username":"analyst","password":"x"} {}'
w_expect 400 bad_json
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '["analyst"]'
w_expect 400 bad_json
w_req POST /api/v1/session -H 'Content-Type: application/json' --data-binary ''
w_expect 400 bad_json
printf '{"username":"analyst","password":"x"}\0junk' >"$T_DIR/nul.json"
w_req POST /api/v1/session -H 'Content-Type: application/json' --data-binary @"$T_DIR/nul.json"
w_expect 400 bad_json
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '{"username":"analyst"}'
w_expect 400 bad_request
w_req POST /api/v1/session -H 'Content-Type: application/json' -d '{"username":7,"password":"x"}'
w_expect 400 bad_request
w_req POST /api/v1/session -H 'Content-Type: text/plain' -d '{"username":"analyst","password":"x"}'
w_expect 415 unsupported_media_type
w_req POST /api/v1/session -d '{"username":"analyst","password":"x"}'
w_expect 415 unsupported_media_type
# A browser's sign-in from another origin (login CSRF).
w_req POST /api/v1/session -H 'Content-Type: application/json' -H 'Origin: http://evil.example' \
    -d "{\"username\":\"analyst\",\"password\":\"$W_PW\"}"
w_expect 403 csrf

# Bodies past 1 MiB: 413, announced (Content-Length) and chunked.
head -c $((1024 * 1024 + 1)) /dev/zero | tr '\0' ' ' >"$T_DIR/big"
w_req POST /api/v1/session -H 'Content-Type: application/json' --data-binary @"$T_DIR/big"
w_expect 413 too_large
w_req POST /api/v1/session -H 'Content-Type: application/json' -H 'Transfer-Encoding: chunked' \
    --data-binary @"$T_DIR/big"
w_expect 413 too_large
# Exactly 1 MiB of whitespace around a valid object is read (and refused
# only as a wrong password): the cap is the body's size, not less.
j='{"username":"nobody","password":"wrong password!"}'
{ printf '%s' "$j"; head -c $((1024 * 1024 - ${#j})) /dev/zero | tr '\0' ' '; } >"$T_DIR/edge"
[ "$(stat -c %s "$T_DIR/edge")" = $((1024 * 1024)) ] || t_fail "edge body size"
w_req POST /api/v1/session -H 'Content-Type: application/json' --data-binary @"$T_DIR/edge"
w_expect 401 signin_failed

# ---- 404, 405, bad ids ----
w_req GET /api/v1/nope
w_expect 404 not_found
w_req GET /api/v1/session/
w_expect 404 not_found
w_req PUT /api/v1/session -b "$T_DIR/a1"
w_expect 405 method_not_allowed
[ "$(w_header Allow)" = "POST, GET, HEAD, DELETE" ] || t_fail "Allow: $(w_header Allow)"
w_req POST /healthz
w_expect 405 method_not_allowed
[ "$(w_header Allow)" = "GET, HEAD" ] || t_fail "Allow on /healthz: $(w_header Allow)"
for bad in abc 0 -1 01 99999999999999999999 "1%20"; do
    w_req DELETE "/api/v1/sessions/$bad" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: $W_ORIGIN"
    w_expect 400 bad_id
done
w_req DELETE "/api/v1/sessions/$(printf 'x%.0s' $(seq 70))" -b "$T_DIR/a2"
w_expect 400 bad_id

# ---- CSRF and Origin on state changes with a cookie ----
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "Origin: $W_ORIGIN"
w_expect 403 csrf
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf1" -H "Origin: $W_ORIGIN"
w_expect 403 csrf # another session's token
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: ${csrf2:0:42}" -H "Origin: $W_ORIGIN"
w_expect 403 csrf
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2"
w_expect 403 csrf # no Origin
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: http://evil.example"
w_expect 403 csrf
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: https://127.0.0.1:$W_PORT"
w_expect 403 csrf
[ "$(w_sql "SELECT count(*) FROM web_sessions WHERE ended_at IS NULL")" = 2 ] || t_fail "a refused request ended a session"

# ---- ending one's own sessions ----
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: $W_ORIGIN"
w_expect 204
w_req GET /api/v1/session -b "$T_DIR/a1"
w_expect 401 unauthenticated
w_req DELETE "/api/v1/sessions/$s1" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: $W_ORIGIN"
w_expect 404 not_found
# Another user's session cannot be ended (nor told apart from none).
w_signin viewer "$T_DIR/v"
sv=$(w_sql "SELECT max(session_id) FROM web_sessions")
w_req DELETE "/api/v1/sessions/$sv" -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: $W_ORIGIN"
w_expect 404 not_found
w_req GET /api/v1/session -b "$T_DIR/v"
w_expect 200

# ---- sign-out ----
w_req DELETE /api/v1/session -b "$T_DIR/a2" -H "X-CSRF-Token: $csrf2" -H "Origin: $W_ORIGIN"
w_expect 204
grep -q 'Max-Age=0' <<<"$(w_header Set-Cookie)" || t_fail "sign-out does not clear the cookie"
w_req GET /api/v1/session -b "$T_DIR/a2"
w_expect 401 unauthenticated
w_req GET /api/v1/session
w_expect 401 unauthenticated
w_req GET /api/v1/session -H 'Cookie: custos_session=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
w_expect 401 unauthenticated
w_req GET /api/v1/session -H 'Cookie: custos_session=a; custos_session=b'
w_expect 400 bad_cookie

# ---- timeouts: idle 30 min, absolute 12 h (moved in the database) ----
w_signin analyst "$T_DIR/idle"
sid=$(w_sql "SELECT max(session_id) FROM web_sessions")
w_sql "UPDATE web_sessions SET last_seen_at = now() - interval '29 minutes' WHERE session_id = $sid" >/dev/null
w_req GET /api/v1/session -b "$T_DIR/idle"
w_expect 200 # 29 minutes idle: alive, and touched
w_sql "UPDATE web_sessions SET last_seen_at = now() - interval '31 minutes' WHERE session_id = $sid" >/dev/null
w_req GET /api/v1/session -b "$T_DIR/idle"
w_expect 401 unauthenticated
w_signin analyst "$T_DIR/abs"
sid=$(w_sql "SELECT max(session_id) FROM web_sessions")
[ "$(w_sql "SELECT round(extract(epoch FROM expires_at - created_at))::int FROM web_sessions WHERE session_id = $sid")" = 43200 ] ||
    t_fail "absolute timeout is not 12 h"
w_sql "UPDATE web_sessions SET expires_at = now() - interval '1 second' WHERE session_id = $sid" >/dev/null
w_req GET /api/v1/session -b "$T_DIR/abs"
w_expect 401 unauthenticated

# ---- disable, new password, new role: sessions end server-side ----
w_signin responder "$T_DIR/r"
w_req GET /api/v1/session -b "$T_DIR/r"
w_expect 200
"$CUSTOS_BIN" user disable responder --log-level warn >/dev/null
w_req GET /api/v1/session -b "$T_DIR/r"
w_expect 401 unauthenticated
w_req POST /api/v1/session -H 'Content-Type: application/json' -d "{\"username\":\"responder\",\"password\":\"$W_PW\"}"
w_expect 401 signin_failed
[ "$(cat "$W_BODY")" = "$body_bad" ] || t_fail "a disabled user's answer differs"
"$CUSTOS_BIN" user enable responder --log-level warn >/dev/null
w_signin responder "$T_DIR/r"
printf '%s\n' 'another long passphrase' | "$CUSTOS_BIN" user passwd responder --log-level warn >/dev/null
w_req GET /api/v1/session -b "$T_DIR/r"
w_expect 401 unauthenticated
w_signin viewer "$T_DIR/v2"
"$CUSTOS_BIN" user role viewer analyst --log-level warn >/dev/null
w_req GET /api/v1/session -b "$T_DIR/v2"
w_expect 401 unauthenticated
w_signin viewer "$T_DIR/v2"
[ "$(w_json '["role"]')" = analyst ] || t_fail "new role not in effect"

# ---- the audit chain ----
events=$(w_sql "SELECT event || ':' || actor FROM audit_log ORDER BY seq" | sort | uniq -c | awk '{print $2":"$1}' | tr '\n' ' ')
t_log "audit: $events"
for want in 'signin:analyst' 'signin_failed:analyst' 'signin_failed:anonymous' 'signout:analyst' \
        'session_ended:analyst' 'user_disabled:cli:' 'user_enabled:cli:' 'user_password_changed:cli:' \
        'user_role_changed:cli:' 'user_added:cli:' 'token_created:cli:'; do
    grep -q "$want" <<<"$events" || t_fail "no audit row $want"
done
w_sql "SELECT detail FROM audit_log WHERE event = 'signin_failed' AND actor = 'anonymous' LIMIT 1" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["address"]=="127.0.0.1" and d["username"]=="nobody" and d["reason"]=="unknown_user", d' ||
    t_fail "signin_failed detail"
w_sql "SELECT detail FROM audit_log WHERE event = 'user_role_changed'" |
    python3 -c 'import json,sys; d=json.load(sys.stdin); assert d["before"]["role"]=="viewer" and d["after"]["role"]=="analyst", d' ||
    t_fail "role change before/after"
"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "the audit chain does not verify"

# ---- no secret reaches the log or the audit chain ----
all_audit=$(w_sql "SELECT actor || ' ' || event || ' ' || detail::text FROM audit_log")
for secret in "$W_PW" 'another long passphrase' "$tok1" "$tok2" "$csrf1" "$csrf2" "$W_ADMIN_TOKEN" \
        'wrong password!'; do
    if grep -qF -- "$secret" "$T_DIR/web.log"; then t_fail "a secret is in the server log"; fi
    if grep -qF -- "$secret" <<<"$all_audit"; then t_fail "a secret is in the audit chain"; fi
done
grep -q 'msg="signed in"' "$T_DIR/web.log" || t_fail "sign-ins are not logged"

w_stop
t_log "PASS: sessions, CSRF, Origin, timeouts, invalidation, audit, headers on $W_REQS answers"
