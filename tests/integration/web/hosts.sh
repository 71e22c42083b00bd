#!/usr/bin/env bash
# The Host allowlist (DNS-rebinding defence) and the errors that arise
# before the router: a Host that web.allowed_hosts does not name is a JSON
# 421 with the security headers; the defaults take 127.0.0.1 and localhost
# with the port; a configured list replaces them (a name without a port
# takes any port) and a malformed one stops start-up naming the key. A
# connection past web.max_connections gets a JSON 503 and is closed, headers
# or a request line past web.connection_memory_bytes a JSON 431 / 414. What
# libmicrohttpd still answers itself (docs/api.md says so) is checked to be
# as documented: headers past the memory plus 16 KiB, HTTP/1.1 without Host.
. "$(dirname "$0")/../../lib/env.sh"
. "$(dirname "$0")/lib/web.sh"

w_setup CUSTOS_WEB_CONNECTION_MEMORY_BYTES=16KiB
grep -q "allowed_hosts=127.0.0.1:$W_PORT,localhost:$W_PORT" "$T_DIR/web.log" ||
    t_fail "the default allowlist is not in the start-up line: $(grep listening "$T_DIR/web.log")"
for h in "evil.example:$W_PORT" "evil.example" "127.0.0.1:1" "127.0.0.1" "localhost" "127.0.0.1:$W_PORT.evil"; do
    w_req GET /healthz -H "Host: $h"
    w_expect 421 misdirected
done
# Before anything else: no authentication is even looked at, no route.
w_req GET /api/v1/users -H "Host: rebind.example:$W_PORT" -H "Authorization: Bearer $W_ADMIN_TOKEN"
w_expect 421 misdirected
w_req POST /api/v1/session -H "Host: rebind.example:$W_PORT" -H 'Content-Type: application/json' -d '{}'
w_expect 421 misdirected
grep -q 'msg="Host not allowed" host=\"rebind.example' "$T_DIR/web.log" || t_fail "a refused Host is not logged"
curl -s -o "$T_DIR/metrics" "$W_BASE/metrics"
grep -q '^custos_web_misdirected_total [1-9]' "$T_DIR/metrics" || t_fail "421s not counted"
for h in "127.0.0.1:$W_PORT" "localhost:$W_PORT" "LOCALHOST:$W_PORT"; do
    w_req GET /healthz -H "Host: $h"
    w_expect 200
done

t_log "web.connection_memory_bytes 16 KiB: JSON 431 and 414 below libmicrohttpd's own limit"
python3 - "$W_PORT" >"$T_DIR/mhd.out" <<'PY' || t_fail "pre-router errors: $(cat "$T_DIR/mhd.out")"
import json, socket, sys
port = int(sys.argv[1])
HOST = b"Host: 127.0.0.1:%d\r\n" % port

def ask(raw):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(raw)
    s.settimeout(10)
    data = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
            head, _, body = data.partition(b"\r\n\r\n")
            if b"\r\n\r\n" in data and b"content-length:" in head.lower():
                n = int([l for l in head.split(b"\r\n") if l.lower().startswith(b"content-length:")][0].split(b":")[1])
                if len(body) >= n:
                    break
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), head.decode().lower(), body

def json_error(status, code, st, head, body):
    assert st.startswith("HTTP/1.1 %d" % status), (st, body[:200])
    e = json.loads(body)["error"]
    assert e["code"] == code and e["message"], e
    assert "content-security-policy: default-src 'self'" in head, head
    assert "x-content-type-options: nosniff" in head, head
    assert "connection: close" in head, head

# 20 KB of headers: past 16 KiB, below libmicrohttpd's 16 + 16 KiB -> ours.
st, head, body = ask(b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 20000 + b"\r\n\r\n")
json_error(431, "headers_too_large", st, head, body)
# A 17 KB query string -> ours, 414.
st, head, body = ask(b"GET /healthz?q=" + b"a" * 17000 + b" HTTP/1.1\r\n" + HOST + b"\r\n")
json_error(414, "uri_too_long", st, head, body)
# Past 16 KiB more, libmicrohttpd answers itself, before custos sees
# the request: its own 431, not JSON (documented in docs/api.md).
st, head, body = ask(b"GET /healthz HTTP/1.1\r\n" + HOST + b"X-Big: " + b"a" * 40000 + b"\r\n\r\n")
assert st.startswith("HTTP/1.1 431"), st
assert not body.startswith(b"{"), body[:100]
# HTTP/1.1 without Host: libmicrohttpd's 400 (documented).
st, head, body = ask(b"GET /healthz HTTP/1.1\r\n\r\n")
assert st.startswith("HTTP/1.1 400"), st
# HTTP/1.0 without Host reaches custos: 421 in JSON.
st, head, body = ask(b"GET /healthz HTTP/1.0\r\n\r\n")
assert st.startswith("HTTP/1.0 421") or st.startswith("HTTP/1.1 421"), st
assert json.loads(body)["error"]["code"] == "misdirected", body

print("pre-router errors as documented")
PY
w_stop

t_log "web.max_connections 3: the fourth connection gets a JSON 503"
# A server of its own: the connections above, closed by the client, may
# still count until the server sees them go.
w_start CUSTOS_WEB_MAX_CONNECTIONS=3
python3 - "$W_PORT" >"$T_DIR/conn.out" <<'PY' || t_fail "connection limit: $(cat "$T_DIR/conn.out")"
import json, socket, sys, time
port = int(sys.argv[1])
HOST = b"Host: 127.0.0.1:%d\r\n" % port

def ask(raw):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(raw)
    s.settimeout(10)
    data = b""
    try:
        while True:
            c = s.recv(65536)
            if not c:
                break
            data += c
    except (ConnectionResetError, socket.timeout):
        pass
    s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head.split(b"\r\n")[0].decode(), head.decode().lower(), body

# web.max_connections = 3: three held, the fourth is a JSON 503, closed.
# The connections above may not yet be seen closed by the server: the first
# held one asks /metrics until it is the only connection open (progress,
# deadline 60 s), then two more are held.
import time
deadline = time.time() + 60
while True:
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /metrics HTTP/1.1\r\n" + HOST + b"\r\n")
    s.settimeout(10)
    data = b""
    while b"\ncustos_web_connections_open " not in data or not data.endswith(b"\n"):
        c = s.recv(65536)
        if not c:
            break
        data += c
    line = [l for l in data.split(b"\n") if l.startswith(b"custos_web_connections_open ")]
    if line and line[0].split()[1] == b"1":
        break
    s.close()
    assert time.time() < deadline, "connections still counted open: %r" % line
    time.sleep(0.1)
held = [s]
for i in range(1, 3):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\n")
    s.settimeout(10)
    assert s.recv(4096).startswith(b"HTTP/1.1 200"), "connection %d not served" % i
    held.append(s)
st, head, body = ask(b"GET /healthz HTTP/1.1\r\n" + HOST + b"\r\n")
assert st.startswith("HTTP/1.1 503"), (st, body[:200])
e = json.loads(body)["error"]
assert e["code"] == "too_many_connections" and e["message"], e
assert "content-security-policy: default-src 'self'" in head, head
assert "connection: close" in head and "retry-after: 1" in head, head
for s in held:
    s.close()
print("the fourth connection: 503 too_many_connections")
PY
# Once the held ones are gone, new connections are served (poll: the server
# sees them close).
deadline=$((SECONDS + 30))
until [ "$(curl -s -o /dev/null -w '%{http_code}' "$W_BASE/healthz")" = 200 ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "the connection limit did not free up"
    sleep 0.1
done
# (a file, not a pipe into grep -q: curl would die of SIGPIPE under pipefail;
# and a metrics request may itself meet the limit while closed ones linger)
until [ "$(curl -s -o "$T_DIR/metrics" -w '%{http_code}' "$W_BASE/metrics")" = 200 ]; do
    [ "$SECONDS" -lt "$deadline" ] || t_fail "/metrics not served under the connection limit"
    sleep 0.1
done
grep -q '^custos_web_connections_refused_total [1-9]' "$T_DIR/metrics" || t_fail "503 refusals not counted"
w_stop

t_log "web.allowed_hosts set: it replaces the defaults"
w_start CUSTOS_WEB_ALLOWED_HOSTS="soc.example.com, 127.0.0.1:$W_PORT"
# (w_start picked a new port: the list names the old one, so 127.0.0.1 must be refused now)
w_req GET /healthz -H "Host: soc.example.com"
w_expect 200
w_req GET /healthz -H "Host: soc.example.com:8443"
w_expect 200
w_req GET /healthz -H "Host: localhost:$W_PORT"
w_expect 421 misdirected
w_req GET /healthz
w_expect 421 misdirected
w_stop
# A malformed list stops start-up, naming the key.
if CUSTOS_WEB_ALLOWED_HOSTS="ok.example, bad/host" CUSTOS_WEB_LISTEN=127.0.0.1:$(t_free_port) \
    "$CUSTOS_BIN" web --log-level warn 2>"$T_DIR/bad.log"; then
    t_fail "started with a malformed web.allowed_hosts"
fi
grep -q "web.allowed_hosts: 'bad/host'" "$T_DIR/bad.log" || t_fail "start-up error: $(cat "$T_DIR/bad.log")"
t_log "PASS: Host allowlist (421), JSON 431/414/503 before the router, libmicrohttpd's own as documented"
