#!/usr/bin/env bash
# The test command: installs what is needed, builds custos (and an
# AddressSanitizer + UndefinedBehaviorSanitizer build), starts a private
# PostgreSQL server, runs every test under ctest, runs the decoder fuzzer
# for a bounded time, and stops what it started. Idempotent.
#
#   bash scripts/test.sh            everything
#   CUSTOS_TEST_FAST=1 bash scripts/test.sh    skip the sanitizer build and the fuzzer
set -euo pipefail
CUSTOS_ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$CUSTOS_ROOT"
. scripts/deps.sh
. scripts/pg.sh

deps_install $CUSTOS_BUILD_DEPS $CUSTOS_RUN_DEPS $CUSTOS_TEST_DEPS

echo "== build (RelWithDebInfo)"
custos_build build

PGDIR=/tmp/custos-test-pg-$$
pg_stop_all() { pg_stop "$PGDIR"; rm -rf "$PGDIR"; }
trap pg_stop_all EXIT
port=55400
while ss -ltn 2>/dev/null | grep -q ":$port "; do port=$((port + 1)); done
echo "== PostgreSQL on port $port ($PGDIR)"
pg_start "$PGDIR" "$port"

fail=0
echo "== ctest: unit, integration, faults"
ctest --test-dir build --output-on-failure -j2 || fail=1

if [ -z "${CUSTOS_TEST_FAST:-}" ]; then
    echo "== build with -fsanitize=address,undefined"
    custos_build build-asan -DCUSTOS_SANITIZE=ON
    echo "== ctest under the sanitizers: unit and integration"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j2 -L 'unit|integration' || fail=1
    if [ -f tests/fuzz/run.sh ]; then
        echo "== fuzzing the event decoder (bounded)"
        bash tests/fuzz/run.sh "${CUSTOS_FUZZ_SECONDS:-60}" || fail=1
    fi
fi
if [ "$fail" = 0 ]; then echo "custos: all test stages passed"; else echo "custos: a test stage failed"; fi
exit "$fail"
