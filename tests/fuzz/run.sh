#!/usr/bin/env bash
# Builds the libFuzzer target for the event decoder with clang, ASan and
# UBSan in build-fuzz (or BUILD_DIR), seeds a corpus from tests/poison and
# tests/fuzz/seeds, and fuzzes for SECONDS. Exits non-zero when the fuzzer
# finds a crash, a sanitizer report or a broken decoder promise; the input
# that caused it is kept under BUILD_DIR/fuzz-artifacts/.
# Usage: tests/fuzz/run.sh SECONDS [BUILD_DIR]
set -euo pipefail
secs=${1:?usage: tests/fuzz/run.sh SECONDS [BUILD_DIR]}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-fuzz}
jobs=${CUSTOS_BUILD_JOBS:-2}

mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCUSTOS_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; exit 1; }
cmake --build "$build" --target fuzz_decode -j "$jobs" >"$build/build.log" 2>&1 ||
    { tail -n 40 "$build/build.log" >&2; exit 1; }

# The working corpus grows across runs; the seeds are copied in every time.
corpus=$build/fuzz-corpus/decode
artifacts=$build/fuzz-artifacts
mkdir -p "$corpus" "$artifacts"
for f in "$src"/tests/poison/* "$src"/tests/fuzz/seeds/*; do
    case $(basename "$f") in EXPECTED | *.sh) continue ;; esac
    [ -s "$f" ] && cp "$f" "$corpus/seed-$(basename "$f")"
done
"$src/tests/poison/make_large.sh" "$build/fuzz-large" >/dev/null
cp "$build/fuzz-large/deep_10k.json" "$corpus/seed-deep_10k.json"

echo "fuzz_decode: $(ls "$corpus" | wc -l) corpus inputs, ${secs}s" >&2
rc=0
ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
"$build/tests/fuzz/fuzz_decode" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len=32768 -dict="$src/tests/fuzz/decode.dict" -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "$corpus" 2>"$build/fuzz.log" || rc=$?
grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' \
    "$build/fuzz.log" >&2 || true
if [ "$rc" != 0 ]; then
    echo "fuzz_decode FAILED (exit $rc); see $build/fuzz.log and $artifacts/" >&2
    grep -E 'ERROR|SUMMARY|==[0-9]+==' "$build/fuzz.log" | head -n 20 >&2 || true
    exit 1
fi
echo "fuzz_decode: no crash in ${secs}s" >&2
