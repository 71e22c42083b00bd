#!/usr/bin/env bash
# The console's overview, audit and chart pages, and server-side saved
# views, in Debian's chromium (pages.mjs) against `custos web` over the
# incidents of seed.sql plus pages_seed.sql (an extraction incident with its
# traffic and novelty, a drift incident with its PSI, a probing incident of
# the learned detector with its top features). Every figure shown is
# checked against psql. Screenshots at 1280x800 and 1920x1080 in
# tests/browser/artifacts/pages/.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../integration/web/lib/web.sh"

HERE=$CUSTOS_SOURCE_DIR/tests/browser
. "$HERE/lib.sh"
b_npm_install

w_setup CUSTOS_EFFECTORS_CONTROL=off
t_sql "$(cat "$HERE/seed.sql")" >/dev/null
t_sql "$(cat "$HERE/pages_seed.sql")" >/dev/null

ART=$HERE/artifacts/pages
rm -rf "$ART"
mkdir -p "$ART"
BASE=$W_BASE PW=$W_PW ART=$ART DSN=$T_DSN CUSTOS_BIN=$CUSTOS_BIN \
    node "$HERE/pages.mjs" 2>&1 | tee "$T_DIR/node.log" >&2 ||
    t_fail "the browser test failed (server log: $T_DIR/web.log)"
grep -q '^BROWSER PASS' "$T_DIR/node.log" || t_fail "the browser test did not finish"
t_log "screenshots:"
ls "$ART"/*.png >&2
w_stop
t_log "PASS: overview, audit and verify, incident charts, saved views on the server"
