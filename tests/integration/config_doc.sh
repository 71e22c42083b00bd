#!/usr/bin/env bash
# docs/config.md is the settings table: regenerate it and compare.
set -euo pipefail
: "${CUSTOS_SOURCE_DIR:?}" "${CUSTOS_BIN:?}"
want=$(mktemp)
trap 'rm -f "$want"' EXIT
{ cat "$CUSTOS_SOURCE_DIR/docs/config.head.md"; "$CUSTOS_BIN" config reference; } >"$want"
if ! diff -u "$CUSTOS_SOURCE_DIR/docs/config.md" "$want"; then
    echo "FAIL: docs/config.md is out of date: run scripts/gen-config-doc.sh" >&2
    exit 1
fi
n=$(grep -c '^| `' "$want")
echo "docs/config.md matches the settings table ($n settings)"
