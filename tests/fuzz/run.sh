#!/usr/bin/env bash
# Builds the libFuzzer targets with clang, ASan and UBSan in build-fuzz (or
# BUILD_DIR), seeds each corpus, and fuzzes: the event decoder for SECONDS,
# then the config loader, the incident parser, the playbook loader + Lua
# API and the web server's request parsing for CUSTOS_FUZZ_TARGET_SECONDS each (default 30),
# then the LiteLLM, OTLP/JSON and OTLP protobuf decoders for
# CUSTOS_FUZZ_FORMAT_SECONDS each (default 20). Exits non-zero when a
# fuzzer finds a crash, a sanitizer report or a broken promise; the input
# that caused it is kept under BUILD_DIR/fuzz-artifacts/. Prints each
# target's run count. The targets run CUSTOS_FUZZ_JOBS at a time (default
# 2, one a core): each still gets its whole -max_total_time, and the
# reports come out in the order below.
# Usage: tests/fuzz/run.sh SECONDS [BUILD_DIR]
#        tests/fuzz/run.sh --build-only [BUILD_DIR]   (configure and build, no fuzzing)
set -euo pipefail
secs=${1:?usage: tests/fuzz/run.sh SECONDS|--build-only [BUILD_DIR]}
tsecs=${CUSTOS_FUZZ_TARGET_SECONDS:-30}
src=$(cd "$(dirname "$0")/../.." && pwd)
build=${2:-$src/build-fuzz}
jobs=${CUSTOS_BUILD_JOBS:-2}
targets="fuzz_decode fuzz_config fuzz_incident fuzz_playbook fuzz_web fuzz_litellm fuzz_otlp_json fuzz_otlp_proto"
fsecs=${CUSTOS_FUZZ_FORMAT_SECONDS:-20}

mkdir -p "$build"
cmake -S "$src" -B "$build" -DCMAKE_C_COMPILER=clang -DCUSTOS_FUZZ=ON \
    -DCMAKE_BUILD_TYPE=RelWithDebInfo >"$build/configure.log" 2>&1 ||
    { cat "$build/configure.log" >&2; exit 1; }
# shellcheck disable=SC2086
cmake --build "$build" --target $targets -j "$jobs" >"$build/build.log" 2>&1 ||
    { tail -n 40 "$build/build.log" >&2; exit 1; }
[ "$secs" != --build-only ] || exit 0

artifacts=$build/fuzz-artifacts
mkdir -p "$artifacts"

# seed NAME FILES...: copies the non-empty FILES into NAME's corpus (the
# working corpus grows across runs; the seeds are copied in every time).
seed() {
    local name=$1; shift
    mkdir -p "$build/fuzz-corpus/$name"
    for f in "$@"; do
        case $(basename "$f") in EXPECTED | *.sh) continue ;; esac
        [ -f "$f" ] && [ -s "$f" ] && cp "$f" "$build/fuzz-corpus/$name/seed-$(basename "$f")"
    done
    return 0
}
seed decode "$src"/tests/poison/* "$src"/tests/fuzz/seeds/*
"$src/tests/poison/make_large.sh" "$build/fuzz-large" >/dev/null
cp "$build/fuzz-large/deep_10k.json" "$build/fuzz-corpus/decode/seed-deep_10k.json"
seed config "$src"/tests/fuzz/seeds-config/*
seed incident "$src"/tests/integration/playbooks/data/* "$src"/tests/fuzz/seeds/*
seed playbook "$src"/tests/fuzz/seeds-lua/* "$src"/playbooks/*.lua
seed web "$src"/tests/fuzz/seeds-web/*
# the foreign formats: the golden messages, the poison corpus (made here),
# and gen's own conversions of a few events
python3 "$src/tests/poison/formats/make.py" "$build/fuzz-formats" >/dev/null
for f in litellm otlp_json otlp_proto; do
    seed "$f" "$src"/tests/formats/*."$f" "$build/fuzz-formats"/*."$f"
done

# run TARGET CORPUS SECONDS DICT [OPTIONS...]: one fuzzer; its report goes
# to $build/TARGET.report, its status to $build/TARGET.status (0 or 1).
run() {
    local target=$1 corpus=$2 t=$3 dict=$4; shift 4
    local log=$build/$target.log rc=0
    {
        echo "$target: $(ls "$build/fuzz-corpus/$corpus" | wc -l) corpus inputs, ${t}s"
        ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1} \
        UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
        "$build/tests/fuzz/$target" -max_total_time="$t" -timeout=10 -rss_limit_mb=2048 \
            -dict="$dict" -print_final_stats=1 -artifact_prefix="$artifacts/$target-" "$@" \
            "$build/fuzz-corpus/$corpus" 2>"$log" || rc=$?
        grep -E '^(#[0-9]+ +DONE|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss_mb)' \
            "$log" || true
        if [ "$rc" != 0 ]; then
            echo "$target FAILED (exit $rc); see $log and $artifacts/"
            grep -E 'ERROR|SUMMARY|==[0-9]+==|promise broken' "$log" | head -n 20 || true
        else
            echo "$target: no crash in ${t}s"
        fi
    } >"$build/$target.report" 2>&1
    [ "$rc" = 0 ] && echo 0 >"$build/$target.status" || echo 1 >"$build/$target.status"
}

# Start each target when fewer than $fjobs run; print reports in order.
fjobs=${CUSTOS_FUZZ_JOBS:-2}
order=()
start() {
    local target=$1
    while [ "$(jobs -rp | wc -l)" -ge "$fjobs" ]; do wait -n || true; done
    rm -f "$build/$target.status" "$build/$target.report"
    run "$@" &
    order+=("$target")
}
start fuzz_decode decode "$secs" "$src/tests/fuzz/decode.dict" -max_len=32768
start fuzz_config config "$tsecs" "$src/tests/fuzz/config.dict" -max_len=4096
start fuzz_incident incident "$tsecs" "$src/tests/fuzz/decode.dict" -max_len=16384
start fuzz_playbook playbook "$tsecs" "$src/tests/fuzz/lua.dict" -max_len=4096
start fuzz_web web "$tsecs" "$src/tests/fuzz/web.dict" -max_len=8192
start fuzz_litellm litellm "$fsecs" "$src/tests/fuzz/formats.dict" -max_len=32768
start fuzz_otlp_json otlp_json "$fsecs" "$src/tests/fuzz/formats.dict" -max_len=32768
start fuzz_otlp_proto otlp_proto "$fsecs" "$src/tests/fuzz/formats.dict" -max_len=32768
wait
fail=0
for target in "${order[@]}"; do
    cat "$build/$target.report" >&2 2>/dev/null || echo "$target: no report" >&2
    [ "$(cat "$build/$target.status" 2>/dev/null)" = 0 ] || fail=1
done
exit "$fail"
