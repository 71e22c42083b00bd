#!/usr/bin/env bash
# Sign-in throttling, per account and per address, with growing delays;
# the same answer and comparable time for an unknown user, a wrong
# password and a disabled user.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

# Per account: 3 free failures (web.signin_free_failures), then 1 s, 2 s...
# The per-address budget is set high here so that only the account's counts.
w_setup CUSTOS_WEB_SIGNIN_IP_FREE_FAILURES=1000

bad() { w_req POST /api/v1/session -H 'Content-Type: application/json' -d "{\"username\":\"$1\",\"password\":\"not the password\"}"; }
good() { w_req POST /api/v1/session -H 'Content-Type: application/json' -d "{\"username\":\"$1\",\"password\":\"$W_PW\"}"; }

for i in 1 2 3 4; do
    bad analyst
    w_expect 401 signin_failed
done
# The 4th failure set a 1 s wait: now even the right password is refused
# unchecked, with Retry-After.
good analyst
w_expect 429 throttled
[ "$(w_header Retry-After)" = 1 ] || t_fail "Retry-After $(w_header Retry-After), wanted 1"
# Another account from the same address is not held back.
good viewer
w_expect 200
# Wait for the delay to pass (polling, deadline 5 s), fail once more: 2 s.
deadline=$((SECONDS + 5))
while :; do
    bad analyst
    [ "$W_STATUS" = 401 ] && break
    w_expect 429 throttled
    [ "$SECONDS" -lt "$deadline" ] || t_fail "the 1 s wait did not end"
    sleep 0.2
done
good analyst
w_expect 429 throttled
[ "$(w_header Retry-After)" = 2 ] || t_fail "Retry-After $(w_header Retry-After), wanted 2 (doubling)"
# Once the wait is over, the right password signs in and clears the count.
deadline=$((SECONDS + 8))
while :; do
    good analyst
    [ "$W_STATUS" = 200 ] && break
    w_expect 429 throttled
    [ "$SECONDS" -lt "$deadline" ] || t_fail "the 2 s wait did not end"
    sleep 0.2
done
bad analyst
w_expect 401 signin_failed
good analyst
w_expect 200
# Unknown users are throttled the same way (no enumeration by the delays).
for i in 1 2 3 4; do bad ghost; w_expect 401 signin_failed; done
bad ghost
w_expect 429 throttled
curl -s "$W_BASE/metrics" >"$T_DIR/metrics"
grep -q '^custos_web_signin_throttled_total [1-9]' "$T_DIR/metrics" || t_fail "throttled sign-ins not counted"
grep -q '^custos_web_signin_failures_total [1-9]' "$T_DIR/metrics" || t_fail "failures not counted"
grep -q 'msg="sign-in throttled"' "$T_DIR/web.log" || t_fail "throttling not logged"

# ---- equal answers and timing: unknown user, wrong password, disabled ----
"$CUSTOS_BIN" user disable auditor --log-level warn >/dev/null
# median of 3 curl total times, in microseconds, for one user (fresh names
# so that no account is throttled: 3 attempts each)
median_us() {
    local u=$1 t=()
    for i in 1 2 3; do
        t+=("$(curl -s -o "$T_DIR/ans.$u" -w '%{time_total}' -H 'Content-Type: application/json' \
            -d "{\"username\":\"$u\",\"password\":\"not the password\"}" "$W_BASE/api/v1/session")")
    done
    printf '%s\n' "${t[@]}" | sort -n | sed -n 2p | awk '{printf "%d", $1 * 1000000}'
}
t_unknown=$(median_us nobody_at_all)
t_badpw=$(median_us admin)
t_disabled=$(median_us auditor)
t_log "sign-in failure times (median us): unknown=$t_unknown bad_password=$t_badpw disabled=$t_disabled"
cmp -s "$T_DIR/ans.nobody_at_all" "$T_DIR/ans.admin" && cmp -s "$T_DIR/ans.admin" "$T_DIR/ans.auditor" ||
    t_fail "the three failures answer differently"
# The unknown user costs an Argon2id hash too: within a factor of 2 of a
# real check either way (a missing hash would be ~100 times faster).
for t in $t_unknown $t_disabled; do
    [ $((t * 2)) -ge "$t_badpw" ] && [ "$t" -le $((t_badpw * 2)) ] ||
        t_fail "failure times differ too much: $t vs $t_badpw us"
done
w_stop

# ---- per address: 5 free failures over any accounts, then waits ----
w_start CUSTOS_WEB_SIGNIN_IP_FREE_FAILURES=5
for i in 1 2 3 4 5 6; do
    bad "spray$i"
    w_expect 401 signin_failed
done
good viewer
w_expect 429 throttled
w_stop
t_log "PASS: per-account and per-address waits grow (1 s, 2 s), equal answers and timing"
