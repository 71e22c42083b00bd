#!/usr/bin/env bash
# The connection limits are real: web.max_connections_per_ip refuses the
# connection past it, web.connection_timeout_ms closes an idle connection,
# web.connection_memory_bytes refuses oversized headers, and a slow body
# cannot hold a worker past the timeout.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

t_db
w_start CUSTOS_WEB_MAX_CONNECTIONS_PER_IP=4 CUSTOS_WEB_CONNECTION_TIMEOUT_MS=2s \
    CUSTOS_WEB_THREADS=1 CUSTOS_WEB_CONNECTION_MEMORY_BYTES=16KiB
grep -q 'per_ip=4 timeout_s=2' "$T_DIR/web.log" || t_fail "limits not in the start-up line"

python3 - "$W_PORT" <<'PY' || t_fail "connection limits (see above)"
import socket, sys, time
port = int(sys.argv[1])
HOST = b"Host: 127.0.0.1:%d" % port  # web.allowed_hosts' default

def get(s):
    s.sendall(b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\n\r\n")
    s.settimeout(5)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(4096)
        if not chunk:
            return None
        data += chunk
    return data.split(b"\r\n", 1)[0]

# Four idle keep-alive connections are held...
held = []
for i in range(4):
    s = socket.create_connection(("127.0.0.1", port))
    assert get(s) == b"HTTP/1.1 200 OK", "connection %d not served" % i
    held.append(s)
# ...the fifth from the same address is refused (closed without an answer).
s = socket.create_connection(("127.0.0.1", port))
try:
    r = get(s)
except (ConnectionResetError, BrokenPipeError):
    r = None
assert r is None, "a fifth connection was served: %r" % r
s.close()
# Idle connections are closed by the server after the timeout (2 s): wait
# for it with a deadline of 10 s.
deadline = time.time() + 10
s0 = held[0]
s0.settimeout(10)
t0 = time.time()
closed = s0.recv(1) == b""
waited = time.time() - t0
assert closed and 1.0 <= waited <= 9.0, "idle connection: closed=%s after %.1f s" % (closed, waited)
for h in held:
    h.close()
# Once they are gone a new connection is served again (poll, deadline 5 s).
deadline = time.time() + 5
while True:
    s = socket.create_connection(("127.0.0.1", port))
    try:
        if get(s) == b"HTTP/1.1 200 OK":
            break
    except OSError:
        pass
    s.close()
    assert time.time() < deadline, "the limit did not free up"
    time.sleep(0.1)
s.close()
# A slow body (a few bytes, then silence) is dropped after the timeout.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"POST /api/v1/session HTTP/1.1\r\n" + HOST + b"\r\nContent-Type: application/json\r\n"
          b"Content-Length: 100\r\n\r\n{\"user")
s.settimeout(10)
t0 = time.time()
data = s.recv(4096)
assert time.time() - t0 <= 9.0, "a slow body held the connection"
s.close()
# Headers larger than the connection's memory: refused, not served.
s = socket.create_connection(("127.0.0.1", port))
s.sendall(b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n")
s.settimeout(5)
data = b""
try:
    while True:
        chunk = s.recv(4096)
        if not chunk:
            break
        data += chunk
except (ConnectionResetError, socket.timeout):
    pass
status = data.split(b"\r\n", 1)[0]
assert status == b"HTTP/1.1 431 Request Header Fields Too Large", "a 20 KB header: %r" % status
assert b'"code":"headers_too_large"' in data, "the 431 is not the JSON error: %r" % data[-300:]
print("limits: per-ip refused the 5th, idle closed after %.1f s, big header -> %r" % (waited, status))
PY
[ "$(curl -s -o /dev/null -w '%{http_code}' "$W_BASE/healthz")" = 200 ] || t_fail "server not answering after the limits"
w_stop
t_log "PASS: per-address limit, idle timeout, slow body, header memory"
