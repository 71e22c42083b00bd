# Installs what custos needs from Debian 12's packages (sourced by demo.sh
# and test.sh). Idempotent: apt-get runs only when something is missing.

# deps_group NAME: the packages of one group in scripts/packages.txt.
deps_group() { sed -n "s/^$1: //p" "$CUSTOS_ROOT/scripts/packages.txt"; }
CUSTOS_BUILD_DEPS=$(deps_group build)
CUSTOS_RUN_DEPS=$(deps_group run)
CUSTOS_TEST_DEPS=$(deps_group test)

# deps_have PACKAGE: installed, or (for the tools another package may
# bring) its command is there: a machine with NodeSource's nodejs has npm
# inside it, and Debian's npm package conflicts with that nodejs.
deps_have() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed" && return 0
    case $1 in
    npm) command -v npm >/dev/null ;;
    nodejs) command -v node >/dev/null ;;
    *) return 1 ;;
    esac
}

deps_install() {
    local missing=()
    for p in $*; do
        deps_have "$p" || missing+=("$p")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    echo "custos: installing ${missing[*]}" >&2
    if [ "$(id -u)" != 0 ]; then
        echo "custos: run as root (or install these packages yourself): ${missing[*]}" >&2
        return 1
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq >/dev/null
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    # Debian's postgresql package starts a cluster on 5432; custos runs its own.
}

# custos_build DIR [cmake options...]: configures and builds into DIR: every
# target, or only those in CUSTOS_BUILD_TARGETS (the demo builds custos
# alone, so it needs no test package).
custos_build() {
    local dir=$1; shift
    local targets=()
    for t in ${CUSTOS_BUILD_TARGETS:-}; do targets+=(--target "$t"); done
    cmake -S "$CUSTOS_ROOT" -B "$CUSTOS_ROOT/$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
    if ! cmake --build "$CUSTOS_ROOT/$dir" -j"$(nproc)" "${targets[@]}" >"$CUSTOS_ROOT/$dir/build.log" 2>&1; then
        grep -E 'error|Error' "$CUSTOS_ROOT/$dir/build.log" | head -n 40 >&2
        echo "custos: build failed in $dir (full log: $dir/build.log)" >&2
        return 1
    fi
}

# The benchmarks' tools (bench/web/run.sh installs them).
CUSTOS_BENCH_DEPS=$(deps_group bench)
