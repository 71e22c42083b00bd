#!/usr/bin/env bash
# custos user and custos token: passwords from stdin (never argv) and the
# policy, refusals, listing, API tokens shown once, stored hashed, used,
# revoked, each change audited; and a bearer token against the server.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

t_db
C=("$CUSTOS_BIN")
# Passwords: 12 to 128 characters, from stdin.
printf '%s\n' 'short pass' | "${C[@]}" user add alice --role analyst 2>"$T_DIR/e" && t_fail "a short password was taken"
grep -q 'at least 12 characters' "$T_DIR/e" || t_fail "short password error: $(cat "$T_DIR/e")"
"${C[@]}" user add alice --role analyst </dev/null 2>"$T_DIR/e" && t_fail "no password was taken"
grep -q 'no password on stdin' "$T_DIR/e" || t_fail "empty stdin error: $(cat "$T_DIR/e")"
printf '%s\n' "$W_PW" | "${C[@]}" user add alice --role root 2>"$T_DIR/e" && t_fail "role root taken"
grep -q "unknown role 'root'" "$T_DIR/e" || t_fail "bad role error"
printf '%s\n' "$W_PW" | "${C[@]}" user add 'al ice' --role analyst 2>"$T_DIR/e" && t_fail "a bad name was taken"
"${C[@]}" user add alice --role analyst --password x 2>/dev/null && t_fail "a password option exists"
printf '%s\n' "$W_PW" | "${C[@]}" user add alice --role analyst --log-level warn
printf '%s\n' "$W_PW" | "${C[@]}" user add alice --role viewer 2>"$T_DIR/e" && t_fail "a duplicate was taken"
grep -q 'already exists' "$T_DIR/e" || t_fail "duplicate error"
hash=$(t_sql "SELECT password_hash FROM web_users WHERE username = 'alice'")
case $hash in '$argon2id$v=19$m='*',t='*',p=1$'*) ;; *) t_fail "not an Argon2id hash: ${hash:0:30}" ;; esac
m=$(sed 's/.*m=\([0-9]*\),.*/\1/' <<<"$hash")
tpass=$(sed 's/.*,t=\([0-9]*\),.*/\1/' <<<"$hash")
[ "$m" -ge $((19 * 1024)) ] && [ "$tpass" -ge 2 ] || t_fail "Argon2id m=$m KiB t=$tpass below 19 MiB / 2"
"${C[@]}" user list --log-level warn >"$T_DIR/list"
grep -q '^alice  *analyst  *active' "$T_DIR/list" || t_fail "user list: $(cat "$T_DIR/list")"
"${C[@]}" user disable bob 2>"$T_DIR/e" && t_fail "disabled an unknown user"
grep -q 'no user bob' "$T_DIR/e" || t_fail "unknown user error"
"${C[@]}" user role alice admin --log-level warn >/dev/null
[ "$(t_sql "SELECT role FROM web_users WHERE username = 'alice'")" = admin ] || t_fail "role not changed"

# Tokens: printed once on stdout, only the SHA-256 stored.
tok=$("${C[@]}" token create --role responder --name soar --log-level warn 2>"$T_DIR/e")
grep -q 'shown only this once' "$T_DIR/e" || t_fail "token create note"
[[ $tok =~ ^cst_[A-Za-z0-9_-]{43}$ ]] || t_fail "token format: $tok"
[ "$(t_sql "SELECT encode(token_sha256, 'hex') FROM web_api_tokens WHERE name = 'soar'")" = \
  "$(printf '%s' "$tok" | sha256sum | cut -d' ' -f1)" ] || t_fail "stored token hash"
if grep -qF "$tok" <<<"$(t_sql "SELECT * FROM web_api_tokens")"; then t_fail "the token is stored"; fi
"${C[@]}" token create --role responder --name soar 2>"$T_DIR/e" && t_fail "a duplicate live token"
grep -q 'exists' "$T_DIR/e" || t_fail "duplicate token error"
"${C[@]}" token create --role superuser --name x 2>/dev/null && t_fail "token role superuser"
"${C[@]}" token list --log-level warn >"$T_DIR/tl"
grep -q 'soar  *responder .* never  *-$' "$T_DIR/tl" || t_fail "token list: $(cat "$T_DIR/tl")"
if grep -qF "$tok" "$T_DIR/tl"; then t_fail "token list shows the token"; fi

# The token against the server; last-used recorded.
w_start
w_req GET /api/v1/session -H "Authorization: Bearer $tok"
w_expect 200
[ "$(w_json '["user"]')" = token:soar ] && [ "$(w_json '["role"]')" = responder ] || t_fail "token session: $(cat "$W_BODY")"
[ "$(t_sql "SELECT last_used_at IS NOT NULL FROM web_api_tokens WHERE name = 'soar'")" = t ] || t_fail "last_used_at"
grep -q 'soar .* never' <<<"$("${C[@]}" token list --log-level warn)" && t_fail "list still says never used"
w_req GET /api/v1/session -H "Authorization: Bearer ${tok}x"
w_expect 401 unauthenticated
w_req GET /api/v1/session -H "Authorization: Bearer cst_$(printf 'A%.0s' $(seq 43))"
w_expect 401 unauthenticated
w_req GET /api/v1/session -H "Authorization: Token $tok"
w_expect 401 unauthenticated
# A token needs no CSRF header (browsers do not send it on their own).
atok=$("${C[@]}" token create --role admin --name admin-bot --log-level warn 2>/dev/null)
id=$(t_sql "SELECT token_id FROM web_api_tokens WHERE name = 'soar'")
w_req DELETE "/api/v1/tokens/$id" -H "Authorization: Bearer $atok"
w_expect 204
w_req GET /api/v1/session -H "Authorization: Bearer $tok"
w_expect 401 unauthenticated
[ "$(t_sql "SELECT revoked_by FROM web_api_tokens WHERE token_id = $id")" = token:admin-bot ] || t_fail "revoked_by"
w_req DELETE "/api/v1/tokens/$id" -H "Authorization: Bearer $atok"
w_expect 404 not_found
# A revoked name can be used again; revoke by name from the CLI.
tok2=$("${C[@]}" token create --role viewer --name soar --log-level warn 2>/dev/null)
w_req GET /api/v1/session -H "Authorization: Bearer $tok2"
w_expect 200
"${C[@]}" token revoke soar --log-level warn >/dev/null
w_req GET /api/v1/session -H "Authorization: Bearer $tok2"
w_expect 401 unauthenticated
"${C[@]}" token revoke soar 2>/dev/null && t_fail "revoked twice"
w_req GET /api/v1/tokens -H "Authorization: Bearer $atok"
w_expect 200
[ "$(w_json '["tokens"].__len__()')" = 3 ] || t_fail "token list API: $(cat "$W_BODY")"
if grep -qF -- "$tok" "$W_BODY"; then t_fail "the API lists a token"; fi
w_req GET /api/v1/users -H "Authorization: Bearer $atok"
w_expect 200
[ "$(w_json '["users"][0]["name"]')" = alice ] || t_fail "users API"
w_stop

# Every change audited, none with a secret.
ev=$(t_sql "SELECT string_agg(event, ' ' ORDER BY seq) FROM audit_log")
[ "$ev" = "user_added user_role_changed token_created token_created token_revoked token_created token_revoked" ] ||
    t_fail "audit events: $ev"
[ "$(t_sql "SELECT count(*) FROM audit_log WHERE actor LIKE 'cli:%'")" = 6 ] || t_fail "CLI actors"
if grep -qF -e "$tok" -e "$W_PW" -e "$atok" <<<"$(t_sql "SELECT detail::text FROM audit_log")"; then t_fail "a secret in the audit"; fi
"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "audit chain broken"
t_log "PASS: user and token commands, bearer tokens, revocation, audit"
