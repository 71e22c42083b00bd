#!/usr/bin/env python3
"""An independent Server-Sent Events client for the web tests (the Python
standard library's HTTP client, nothing of custos).

  sse.py URL HEADERS_FILE BODY_FILE [--header 'Name: value']... [--events N]
         [--until-event KIND] [--until-comment TEXT] [--deadline S]

Writes the answer's status line and headers (CRLF, as curl -D does) to
HEADERS_FILE and prints the status. A non-200 answer's body goes to
BODY_FILE. For 200 it reads the stream and writes the events, one JSON
object a line ({"id","event","data"}; comments as {"comment"}), to BODY_FILE:
until N events arrived (--events, default 0: just the first block), or an
event of KIND (--until-event) or a comment (--until-comment), then closes. Exits 2 when the deadline (30 s)
passes first: the caller polls for progress, it never sleeps."""
import argparse
import http.client
import json
import socket
import sys
import time
import urllib.parse


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("url")
    ap.add_argument("headers_file")
    ap.add_argument("body_file")
    ap.add_argument("--header", action="append", default=[])
    ap.add_argument("--events", type=int, default=0)
    ap.add_argument("--until-event", default=None)
    ap.add_argument("--until-comment", default=None)
    ap.add_argument("--deadline", type=float, default=30.0)
    a = ap.parse_args()
    u = urllib.parse.urlsplit(a.url)
    deadline = time.monotonic() + a.deadline
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=a.deadline)
    hdrs = {}
    for h in a.header:
        k, v = h.split(":", 1)
        hdrs[k.strip()] = v.strip()
    path = u.path + ("?" + u.query if u.query else "")
    conn.request("GET", path, headers=hdrs)
    resp = conn.getresponse()
    with open(a.headers_file, "w", newline="") as f:
        f.write("HTTP/1.1 %d %s\r\n" % (resp.status, resp.reason))
        for k, v in resp.getheaders():
            f.write("%s: %s\r\n" % (k, v))
        f.write("\r\n")
    print(resp.status)
    sys.stdout.flush()
    if resp.status != 200:
        with open(a.body_file, "wb") as f:
            f.write(resp.read())
        return 0
    out = open(a.body_file, "w")
    events = 0
    ev = {}
    while True:
        if time.monotonic() > deadline:
            out.close()
            return 2
        try:
            line = resp.readline()
        except socket.timeout:
            out.close()
            return 2
        if not line:  # the server ended the stream
            out.write(json.dumps({"end": True}) + "\n")
            break
        line = line.decode("utf-8").rstrip("\r\n")
        if line == "":
            if ev:
                out.write(json.dumps(ev) + "\n")
                out.flush()
                if "event" in ev:
                    events += 1
                    if a.until_event and ev["event"] == a.until_event:
                        break
                    if a.events and events >= a.events and not a.until_event:
                        break
                if a.until_comment and ev.get("comment") == a.until_comment:
                    break
                if a.events == 0 and not a.until_event and not a.until_comment:
                    break
            ev = {}
            continue
        if line.startswith(":"):
            ev.setdefault("comment", line[1:].strip())
            continue
        k, _, v = line.partition(":")
        v = v[1:] if v.startswith(" ") else v
        if k == "data":
            ev["data"] = json.loads(v)
        else:
            ev[k] = v
    out.close()
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
