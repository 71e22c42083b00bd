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
SUMMARY=$(mktemp)
trap 'pg_stop_all; rm -f "$SUMMARY"' EXIT
echo "== ctest: unit, integration, faults, analytics, playbooks"
ctest --test-dir build --output-on-failure -j2 2>&1 | tee -a "$SUMMARY" || fail=1

if [ -z "${CUSTOS_TEST_FAST:-}" ]; then
    echo "== build with -fsanitize=address,undefined"
    custos_build build-asan -DCUSTOS_SANITIZE=ON
    echo "== ctest under the sanitizers: unit and integration"
    ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
        ctest --test-dir build-asan --output-on-failure -j2 -L 'unit|integration' 2>&1 |
        tee -a "$SUMMARY" || fail=1
    echo "== fuzzing the event decoder (bounded)"
    if bash tests/fuzz/run.sh "${CUSTOS_FUZZ_SECONDS:-60}"; then
        echo "fuzz: 1 passed, 0 failed" >>"$SUMMARY"
    else
        echo "fuzz: 0 passed, 1 failed" >>"$SUMMARY"
        fail=1
    fi
fi
# One closing line over every stage: ctest's "N% tests passed, F tests
# failed out of T" lines and the fuzzer's.
read -r passed failed < <(awk '
    /tests passed, [0-9]+ tests? failed out of [0-9]+/ { t = $NF; f = $(NF-5); p += t - f; q += f }
    /^fuzz: [0-9]+ passed, [0-9]+ failed/ { p += $2; q += $4 }
    END { print p + 0, q + 0 }' "$SUMMARY")
[ "$failed" = 0 ] || fail=1
echo "custos: $passed passed, $failed failed"
exit "$fail"
