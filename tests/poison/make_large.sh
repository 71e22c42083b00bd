#!/usr/bin/env bash
# Writes the two poison messages too large to commit into DIR:
#   big_2mb.json   an otherwise valid event whose prompt makes the message
#                  exactly 2 MiB (2097152 bytes), twice the default limit;
#   deep_10k.json  an event whose attrs nest 10 000 arrays deep.
# Usage: make_large.sh DIR
set -euo pipefail
dir=${1:?usage: make_large.sh DIR}
mkdir -p "$dir"
python3 - "$dir" <<'PY'
import sys
d = sys.argv[1]
head = ('{"event_id":"p-big","ts":"2026-11-21T13:04:00Z","api_key_id":"ak_poison",'
        '"model":"gpt-4o","model_version":"2024-11-20","prompt":"')
tail = '"}'
size = 2 * 1024 * 1024
with open(d + '/big_2mb.json', 'w') as f:
    f.write(head + 'A' * (size - len(head) - len(tail)) + tail)
n = 10000
with open(d + '/deep_10k.json', 'w') as f:
    f.write('{"event_id":"p-deep","ts":"2026-11-21T13:04:00Z","api_key_id":"ak_poison",'
            '"model":"gpt-4o","model_version":"2024-11-20","attrs":{"x":'
            + '[' * n + ']' * n + '}}')
PY
[ "$(stat -c %s "$dir/big_2mb.json")" = 2097152 ] || { echo "big_2mb.json has the wrong size" >&2; exit 1; }
