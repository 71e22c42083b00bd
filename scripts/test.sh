#!/usr/bin/env bash
# The test command: installs what is needed, builds custos (and an
# AddressSanitizer + UndefinedBehaviorSanitizer build), starts a private
# PostgreSQL server, runs every test under ctest, runs the decoder fuzzer
# for a bounded time, stops what it started and fails if a test left
# anything running. Idempotent.
#
#   bash scripts/test.sh            everything
#   CUSTOS_TEST_FAST=1 bash scripts/test.sh    skip the sanitizer build and the fuzzer
set -euo pipefail
CUSTOS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CUSTOS_ROOT"
. scripts/deps.sh
. scripts/pg.sh

deps_install $CUSTOS_BUILD_DEPS $CUSTOS_RUN_DEPS $CUSTOS_TEST_DEPS
export CUSTOS_TEST_RUN="$$-$(date +%s%N)"

echo "== build (RelWithDebInfo)"
custos_build build -DCUSTOS_TESTS=ON

PGDIR=/tmp/custos-test-pg-$$
pg_stop_all() { pg_stop "$PGDIR"; rm -rf "$PGDIR"; }
trap pg_stop_all EXIT
port=55400
while ss -ltn 2>/dev/null | grep -q ":$port "; do port=$((port + 1)); done
echo "== PostgreSQL on port $port ($PGDIR)"
pg_start "$PGDIR" "$port"

fail=0
SUMMARY=$(mktemp)
BG=""
bg_stop() { [ -z "$BG" ] || { kill "$BG" 2>/dev/null; wait "$BG" 2>/dev/null; } || true; }
trap 'bg_stop; pg_stop_all; rm -f "$SUMMARY"' EXIT
# bg_build LOG CMD...: runs a build beside the tests, at low priority (the
# tests wait on I/O and timers much of the time; the build takes what they
# leave); bg_wait then waits for it and fails the command if it failed.
bg_build() {
    local log=$1; shift
    BG_LOG=$log
    ( renice -n 10 -p "$BASHPID" >/dev/null; "$@" >"$log" 2>&1 ) &
    BG=$!
}
bg_wait() {
    local rc=0
    wait "$BG" || rc=$?
    BG=""
    [ "$rc" = 0 ] || { cat "$BG_LOG" >&2; echo "custos: a background build failed (log above)" >&2; exit 1; }
}
if [ -z "${CUSTOS_TEST_FAST:-}" ]; then
    echo "== build with -fsanitize=address,undefined (beside the first ctest)"
    bg_build build/asan-build.log custos_build build-asan -DCUSTOS_SANITIZE=ON -DCUSTOS_TESTS=ON
fi
echo "== ctest: unit, integration, faults, analytics, playbooks"
ctest --test-dir build --output-on-failure -j2 2>&1 | tee -a "$SUMMARY" || fail=1

if [ -z "${CUSTOS_TEST_FAST:-}" ]; then
    bg_wait
    echo "== the fuzzers' build (clang, beside the sanitizer ctest)"
    bg_build build/fuzz-build.log bash tests/fuzz/run.sh --build-only
    echo "== ctest under the sanitizers: unit and integration"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j2 -L sanitize 2>&1 |
        tee -a "$SUMMARY" || fail=1
    bg_wait
    echo "== fuzzing the event decoder (bounded)"
    if bash tests/fuzz/run.sh "${CUSTOS_FUZZ_SECONDS:-60}"; then
        echo "fuzz: 1 passed, 0 failed" >>"$SUMMARY"
    else
        echo "fuzz: 0 passed, 1 failed" >>"$SUMMARY"
        fail=1
    fi
fi
# Nothing a test started may outlive the test command. Every process it
# starts inherits CUSTOS_TEST_RUN; after our PostgreSQL is stopped, any
# process still carrying this run's token is a test that did not clean up:
# it is named, ended and counted as a failure.
pg_stop_all
leftovers() {
    local p pids
    pids=$(cd /proc && ls -d [0-9]*) # a snapshot: the checks' own processes come later
    for p in $pids; do
        [ "$p" = $$ ] || [ "$p" = "$BASHPID" ] && continue
        { tr '\0' '\n' <"/proc/$p/environ"; } 2>/dev/null | grep -qx "CUSTOS_TEST_RUN=$CUSTOS_TEST_RUN" || continue
        echo "$p $({ tr '\0' ' ' <"/proc/$p/cmdline"; } 2>/dev/null)"
    done
}
left=$(leftovers)
if [ -n "$left" ]; then
    echo "== left running by the tests (ended now):" >&2
    echo "$left" >&2
    while read -r pid _; do kill -KILL "$pid" 2>/dev/null || true; done <<<"$left"
    echo "leftovers: 0 passed, 1 failed" >>"$SUMMARY"
else
    echo "leftovers: 1 passed, 0 failed" >>"$SUMMARY"
fi

# One closing line over every stage: ctest's "N% tests passed, F tests
# failed out of T" lines and the fuzzer's.
read -r passed failed < <(awk '
    /tests passed, [0-9]+ tests? failed out of [0-9]+/ { t = $NF; f = $(NF-5); p += t - f; q += f }
    /^(fuzz|leftovers): [0-9]+ passed, [0-9]+ failed/ { p += $2; q += $4 }
    END { print p + 0, q + 0 }' "$SUMMARY")
[ "$failed" = 0 ] || fail=1
echo "custos: $passed passed, $failed failed"
exit "$fail"
