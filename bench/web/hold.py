#!/usr/bin/env python3
"""Holds connections open against custos web for bench/web/run.sh:

  hold.py PORT TOKEN IDLE SSE READY_FILE

opens IDLE keep-alive connections (each answers one GET /healthz, then
stays idle) and SSE streams (GET /api/v1/stream, each read up to its first
block), writes "idle=N sse=M" to READY_FILE, then holds them until stdin
closes, checks how many are still open (an SSE stream still open; an idle
one still answers a second request) and prints "still_open idle=N sse=M".
Refusals are counted, not fatal: the point is to report them."""
import socket
import sys


def main():
    port, token, n_idle, n_sse, ready = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), sys.argv[5]
    host = b"Host: 127.0.0.1:%d\r\n" % port
    idle, sse, refused = [], [], 0

    def read_head(s):
        data = b""
        while b"\r\n\r\n" not in data:
            c = s.recv(4096)
            if not c:
                return None
            data += c
        return data

    for _ in range(n_idle):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /healthz HTTP/1.1\r\n" + host + b"\r\n")
            d = read_head(s)
            if d and d.startswith(b"HTTP/1.1 200"):
                # the body: {"status":"ok"}\n, 16 bytes
                while not d.endswith(b"}\n"):
                    d += s.recv(4096)
                idle.append(s)
            else:
                refused += 1
        except OSError:
            refused += 1
    auth = b"Authorization: Bearer " + token.encode() + b"\r\n"
    for _ in range(n_sse):
        try:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            s.sendall(b"GET /api/v1/stream HTTP/1.1\r\n" + host + auth + b"\r\n")
            d = read_head(s)
            if d and d.startswith(b"HTTP/1.1 200"):
                sse.append(s)
            else:
                refused += 1
        except OSError:
            refused += 1
    with open(ready, "w") as f:
        f.write("idle=%d sse=%d refused=%d\n" % (len(idle), len(sse), refused))
    sys.stdin.read()  # hold until the benchmark closes our stdin
    alive_idle = 0
    for s in idle:
        try:
            s.sendall(b"GET /healthz HTTP/1.1\r\n" + host + b"\r\n")
            d = read_head(s)
            alive_idle += bool(d and d.startswith(b"HTTP/1.1 200"))
        except OSError:
            pass
    alive_sse = 0
    for s in sse:
        try:
            s.setblocking(False)
            try:
                c = s.recv(65536)
                alive_sse += c != b""  # pings or events: open
            except BlockingIOError:
                alive_sse += 1  # nothing pending, not closed
        except OSError:
            pass
    print("still_open idle=%d sse=%d" % (alive_idle, alive_sse))


if __name__ == "__main__":
    main()
