#!/usr/bin/env bash
# The console in a real browser: Debian's chromium driven by playwright-core
# (console.mjs) against `custos web` over PostgreSQL holding the incidents of
# seed.sql. Signs in as each role, works the queue and an incident (filter,
# timeline, reveal, approve, close, live arrival), and checks each result in
# the database with psql. Screenshots of every page at 1280x800 and
# 1920x1080 are kept in tests/browser/artifacts/ (paths printed).
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../integration/web/lib/web.sh"

HERE=$CUSTOS_SOURCE_DIR/tests/browser
. "$HERE/lib.sh"
b_npm_install

# The registry effector on, the control topic off: an approved revoke_key
# is written to api_keys.
w_setup CUSTOS_EFFECTORS_CONTROL=off
t_sql "$(cat "$HERE/seed.sql")" >/dev/null

ART=$HERE/artifacts
rm -f "$ART"/*.png  # its own: artifacts/pages/ is pages.sh's
mkdir -p "$ART"
BASE=$W_BASE PW=$W_PW ART=$ART DSN=$T_DSN CUSTOS_BIN=$CUSTOS_BIN SERVER_PID=$W_PID \
    node "$HERE/console.mjs" 2>&1 | tee "$T_DIR/node.log" >&2 ||
    t_fail "the browser test failed (server log: $T_DIR/web.log)"
grep -q '^BROWSER PASS' "$T_DIR/node.log" || t_fail "the browser test did not finish"
t_log "screenshots:"
ls "$ART"/*.png >&2
# The browser test stopped the server (SIGTERM) to see the console say so:
# it must have exited 0.
deadline=$((SECONDS + 10))
while kill -0 "$W_PID" 2>/dev/null && [ "$SECONDS" -lt "$deadline" ]; do sleep 0.05; done
wait "$W_PID" || t_fail "custos web exited $? after SIGTERM"
t_log "PASS: the console in chromium: roles, queue, filters, incident, reveal, approve, close, live"
