#!/usr/bin/env python3
"""Content checksum of a file of native JSON events, as the ingest tests
compare it with what PostgreSQL holds (tests/lib/ingest.sh, t_stored_sum).

Prints "COUNT DISTINCT_EVENT_IDS MD5" where MD5 is
md5(concatenation, ordered by event_id bytes, of md5(row)) and row is
event_id, ts as epoch microseconds, api_key_id, model, model_version, prompt
and response joined by U+001F, a missing value spelled \\N. The SQL side
computes the same from the stored columns, so any lost, doubled or altered
event changes the figure.

usage: content_sum.py FILE [FILE...]   (- for stdin)
"""
import datetime
import hashlib
import json
import sys

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)
US = datetime.timedelta(microseconds=1)


def ts_us(v):
    if isinstance(v, bool):
        raise ValueError("boolean ts")
    if isinstance(v, int):
        return v * 1000000
    if isinstance(v, float):
        return round(v * 1000000)
    dt = datetime.datetime.fromisoformat(v.replace("z", "Z"))
    return (dt - EPOCH) // US


def field(v):
    return "\\N" if v is None else v


def row_md5(ev):
    parts = [
        ev["event_id"],
        str(ts_us(ev["ts"])),
        ev["api_key_id"],
        ev["model"],
        ev["model_version"],
        field(ev.get("prompt")),
        field(ev.get("response")),
    ]
    return hashlib.md5("\x1f".join(parts).encode("utf-8")).hexdigest()


def main(paths):
    rows = []
    for path in paths:
        f = sys.stdin if path == "-" else open(path, encoding="utf-8")
        with f:
            for line in f:
                line = line.strip()
                if not line:
                    continue
                ev = json.loads(line)
                rows.append((ev["event_id"].encode("utf-8"), row_md5(ev)))
    rows.sort()
    distinct = len({r[0] for r in rows})
    agg = hashlib.md5("".join(r[1] for r in rows).encode("ascii")).hexdigest()
    print(len(rows), distinct, agg)


if __name__ == "__main__":
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    main(sys.argv[1:])
