#!/usr/bin/env bash
# The approvals, keys and models pages in a real browser (containment.mjs):
# a responder approves a pending revocation on the Approvals page (the key
# revoked in api_keys, the audit chain verifies), rejects a throttle with a
# reason, restores and revokes a key from its page, rolls a model version
# back; a viewer sees the same pages without a containment button, and an
# incident marked serious shows its Art. 73 report deadline in its header. Every
# result is checked with psql; zero console errors and CSP violations.
# Screenshots of each page at 1280x800 and 1920x1080 in
# tests/browser/artifacts/containment-*.png.
. "$(dirname "$0")/../lib/env.sh"
. "$(dirname "$0")/../integration/web/lib/web.sh"

HERE=$CUSTOS_SOURCE_DIR/tests/browser
. "$HERE/lib.sh"
b_npm_install

# The registry effector on, the control topic off: the actions write
# api_keys and model_deployments.
w_setup CUSTOS_EFFECTORS_CONTROL=off
t_sql "$(cat "$HERE/seed.sql")" >/dev/null
t_sql "$(cat "$HERE/containment.sql")" >/dev/null

ART=$HERE/artifacts
mkdir -p "$ART"
rm -f "$ART"/containment-*.png
BASE=$W_BASE PW=$W_PW ART=$ART DSN=$T_DSN CUSTOS_BIN=$CUSTOS_BIN \
    node "$HERE/containment.mjs" 2>&1 | tee "$T_DIR/node.log" >&2 ||
    t_fail "the browser test failed (server log: $T_DIR/web.log)"
grep -q '^BROWSER PASS' "$T_DIR/node.log" || t_fail "the browser test did not finish"
"$CUSTOS_BIN" audit verify --log-level warn >/dev/null || t_fail "the audit chain does not verify"
w_stop
t_log "screenshots:"
ls "$ART"/containment-*.png >&2
t_log "PASS: approvals, keys and models in chromium: approve, reject, revoke, restore, rollback, roles"
