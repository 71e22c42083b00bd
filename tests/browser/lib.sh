# The browser tests' shared set-up (sourced after tests/lib/env.sh).

# b_npm_install: playwright-core and axe-core, pinned by package-lock.json,
# installed into tests/browser/node_modules once, then used offline (nothing
# is fetched when the pinned versions are there). Serialised with flock:
# the browser tests may start together under ctest -j.
b_npm_install() {
    local here=$CUSTOS_SOURCE_DIR/tests/browser
    command -v node >/dev/null && command -v npm >/dev/null ||
        t_fail "node and npm are needed (scripts/packages.txt, group test)"
    [ -x /usr/bin/chromium ] || t_fail "/usr/bin/chromium is needed (scripts/packages.txt, group test)"

    # playwright-core and axe-core, pinned by package-lock.json: installed once,
    # then used offline (nothing is fetched when the pinned versions are there).
    exec 9>"$here/.npm.lock"
    flock 9
    if ! (cd "$here" && node -e '
        const deps = require("./package.json").dependencies;
        for (const [n, v] of Object.entries(deps))
            if (require("./node_modules/" + n + "/package.json").version !== v) process.exit(1);' 2>/dev/null); then
        t_log "installing the browser test's npm packages (npm ci)"
        (cd "$here" && npm ci --no-audit --no-fund --prefer-offline >"$T_DIR/npm.log" 2>&1) ||
            t_fail "npm ci failed: $(tail -5 "$T_DIR/npm.log")"
    fi
    flock -u 9
}
