#!/usr/bin/env bash
# Regenerates docs/config.md from the settings table (custos config reference).
# tests/integration/config_doc.sh fails when the two differ.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BIN=${CUSTOS_BIN:-$ROOT/build/custos}
{
    cat "$ROOT/docs/config.head.md"
    "$BIN" config reference
} >"$ROOT/docs/config.md"
