#!/usr/bin/env bash
# The Docker files, checked without a Docker engine (none runs on the build
# machines): both Dockerfile stages install exactly the groups of
# scripts/packages.txt that scripts/deps.sh installs from, every package
# named there exists in Debian 12, and docker-compose.yml is valid for the
# Compose CLI (docker compose, else docker-compose) with every service the
# README names.
. "$(dirname "$0")/../lib/env.sh"
cd "$CUSTOS_SOURCE_DIR"
PK=scripts/packages.txt

grep -q "sed -n 's/^build: //p' /tmp/packages.txt" Dockerfile || t_fail "the build stage does not install the 'build' group"
grep -q "sed -n 's/^runtime: //p' /tmp/packages.txt" Dockerfile || t_fail "the run stage does not install the 'runtime' group"
[ "$(grep -c '^FROM ' Dockerfile)" = 2 ] || t_fail "the Dockerfile is not a two-stage build"
grep -q '^USER custos' Dockerfile || t_fail "the run image does not run as the user custos"
# The Dockerfile names no package by hand: every apt-get install takes a group.
if grep -E 'apt-get install' -A2 Dockerfile | grep -Eq '\blib[a-z0-9.+-]+-dev\b'; then
    t_fail "the Dockerfile lists packages of its own instead of scripts/packages.txt"
fi
grep -q 'deps_group build' scripts/deps.sh && grep -q 'deps_group run' scripts/deps.sh ||
    t_fail "scripts/deps.sh does not read scripts/packages.txt"

# The run image must hold every shared library the binary needs: each -dev
# package of 'build' that provides a library the binary links has its
# runtime package in 'runtime' (checked against the binary itself).
for lib in $(ldd "$CUSTOS_BIN" | awk '/=>/ {print $3}'); do
    pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -n1 | cut -d: -f1) || continue
    [ -n "$pkg" ] || continue
    case "$pkg" in libc6|libgcc-s1|libstdc++6) continue ;; esac
    # The binary's direct dependencies only (the others come with them).
    objdump -p "$CUSTOS_BIN" | awk '/NEEDED/ {print $2}' | grep -qx "$(basename "$lib")" || continue
    grep -q "^runtime: .*\b$pkg\b" "$PK" || t_fail "the binary links $(basename "$lib") from $pkg, missing in the 'runtime' group"
done

# One apt-cache call for all of them (one a package is slow on a busy
# machine): each must come back with a candidate version.
all=$(sed -n 's/^[a-z]*: //p' "$PK")
apt-cache policy $all 2>/dev/null | awk '/^[^ ]/ { sub(/:$/, ""); p = $0 }
    /^  Candidate:/ && $2 != "(none)" { print p }' | sort -u >"$T_DIR/known"
for p in $all; do
    grep -qx "$p" "$T_DIR/known" || t_fail "package $p of scripts/packages.txt is not in this Debian's archive"
done

if docker compose version >/dev/null 2>&1; then compose=(docker compose)
elif command -v docker-compose >/dev/null; then compose=(docker-compose)
else t_fail "no Compose CLI to validate docker-compose.yml (the test command installs docker-compose)"; fi
"${compose[@]}" -f docker-compose.yml --profile demo config >"$T_DIR/compose.yml" 2>"$T_DIR/compose.err" ||
    t_fail "docker-compose.yml is not valid: $(cat "$T_DIR/compose.err")"
for svc in kafka postgres migrate custos demo; do
    grep -Eq "^  $svc:" "$T_DIR/compose.yml" || t_fail "docker-compose.yml has no service $svc"
done
grep -q 'apache/kafka' "$T_DIR/compose.yml" || t_fail "the kafka service is not the official apache/kafka image"
t_log "Dockerfile stages and deps.sh share scripts/packages.txt; compose file valid (${compose[*]})"
